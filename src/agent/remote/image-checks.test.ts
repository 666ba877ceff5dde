import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import pino from 'pino';
import { ArdesiaError } from '../../contract/errors.js';
import { HostImageChecks, stillChecked } from './image-checks.js';

const dir = mkdtempSync(join(tmpdir(), 'ard-imgchk-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const sum = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

test('stillChecked: the same sum and the same file identity only', () => {
  const id = { size: 10, mtimeMs: 5, ino: 7, dev: 1 };
  const before = { sha256: 'a'.repeat(64), ...id };
  const table: [string, Parameters<typeof stillChecked>, boolean][] = [
    ['unchanged', [before, id, 'a'.repeat(64)], true],
    ['never checked', [undefined, id, 'a'.repeat(64)], false],
    ['another published sum', [before, id, 'b'.repeat(64)], false],
    ['resized', [before, { ...id, size: 11 }, 'a'.repeat(64)], false],
    ['touched', [before, { ...id, mtimeMs: 6 }, 'a'.repeat(64)], false],
    ['replaced (new inode)', [before, { ...id, ino: 8 }, 'a'.repeat(64)], false],
    ['another filesystem', [before, { ...id, dev: 2 }, 'a'.repeat(64)], false],
  ];
  for (const [what, args, want] of table) assert.equal(stillChecked(...args), want, what);
});

test('HostImageChecks: read before the first use, not again while unchanged (across restarts), refused once changed or missing', async () => {
  const lines: string[] = [];
  const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });
  const reads = () => lines.filter((l) => l.includes('checked on host h1')).length;
  const file = join(dir, '1.qcow2');
  writeFileSync(file, 'published bytes');
  const good = { path: file, sha256: sum('published bytes') };
  const record = join(dir, 'image-checks.json');
  const checks = new HostImageChecks(record, 'h1', log);
  await Promise.all([checks.verify([good]), checks.verify([good])]);
  assert.equal(reads(), 1, 'two starts at once share one read');
  await checks.verify([good]);
  assert.equal(reads(), 1);
  await new HostImageChecks(record, 'h1', log).verify([good]);
  assert.equal(reads(), 1, 'the record outlives the agent');

  writeFileSync(file, 'Published bytes');
  await assert.rejects(checks.verify([good]), (e: ArdesiaError) => e.code === 'IMAGE_CORRUPT' && /as host h1 reads it does not match its published checksum/.test(e.message));
  await assert.rejects(checks.verify([good]), /does not match/, 'a mismatch is never recorded as checked');
  writeFileSync(file, 'published bytes');
  utimesSync(file, new Date(), new Date(Date.now() + 5000));
  await checks.verify([good]);
  assert.equal(reads(), 2, 'put back: read again, then used');

  await assert.rejects(checks.verify([{ path: join(dir, 'missing.qcow2'), sha256: good.sha256 }]), (e: ArdesiaError) => e.code === 'IMAGE_CORRUPT' && /missing on host h1/.test(e.message));
});
