// The streamed backup when tar fails: before its first byte the daemon's caller gets BACKUP_FAILED (not an empty
// 200), after it the stream breaks (not a short archive that looks whole). The real store; tar replaced on PATH by
// a script that fails at the chosen point — the one fake here, for a failure real tar gives only by accident.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { backupStream } from '../../src/ops/backup.js';
import { openStore, type Store } from '../../src/store/db.js';

let work: string;
let store: Store;
const realPath = process.env['PATH'];

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'ard-bkfail-'));
  store = await openStore(join(work, 'ardesia.db'));
  writeFileSync(join(work, 'root.token'), 'x'.repeat(40), { mode: 0o600 });
});

after(async () => {
  process.env['PATH'] = realPath;
  await store.destroy();
  rmSync(work, { recursive: true, force: true });
});

function fakeTar(script: string): void {
  const bin = mkdtempSync(join(work, 'bin-'));
  writeFileSync(join(bin, 'tar'), `#!/bin/sh\n${script}\n`);
  chmodSync(join(bin, 'tar'), 0o755);
  process.env['PATH'] = `${bin}:${realPath}`;
}

const source = () => ({ dataDir: work, store, storeAt: { kind: 'sqlite' as const, path: join(work, 'ardesia.db') } });
const staged = () => readdirSync(work).filter((f) => f.startsWith('.backup-'));

test('tar failing before its first byte: the call rejects with BACKUP_FAILED and the staging is removed', async () => {
  fakeTar('echo "tar: store/ardesia.db: Cannot stat: No such file or directory" >&2; exit 2');
  const ends: unknown[] = [];
  await assert.rejects(backupStream(source(), { withImages: false, withHomes: false }, work, (err) => ends.push(err)), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'BACKUP_FAILED');
    assert.match(err.message, /Cannot stat/);
    return true;
  });
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(staged(), []);
  assert.equal(ends.length, 1);
});

test('tar failing after some bytes: the stream errors instead of ending as if whole', async () => {
  fakeTar('head -c 70000 /dev/zero; echo "tar: homes/x: file changed as we read it" >&2; exit 1');
  const stream = await backupStream(source(), { withImages: false, withHomes: false }, work, () => {});
  let got = 0;
  await assert.rejects(
    (async () => {
      for await (const chunk of stream) got += (chunk as Buffer).length;
    })(),
    /file changed as we read it/,
  );
  assert.equal(got, 70000, 'every byte tar wrote was passed on before the error');
  assert.deepEqual(staged(), []);
});

test('real tar: the stream carries the whole archive and ends', async () => {
  process.env['PATH'] = realPath;
  const stream = await backupStream(source(), { withImages: false, withHomes: false }, work, () => {});
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  const tar = Buffer.concat(chunks);
  assert.equal(tar.length % 512, 0);
  assert.match(tar.subarray(0, 100).toString(), /SHA256SUMS/);
});
