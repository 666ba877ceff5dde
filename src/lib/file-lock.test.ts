import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { withFileLock } from './file-lock.js';

test('file lock: holders run one after the other, the file names the holder and goes afterwards', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'flock-'));
  const lock = join(dir, 'build.lock');
  const order: string[] = [];
  const run = (name: string) =>
    withFileLock(lock, async () => {
      order.push(`${name}+`);
      assert.equal(readFileSync(lock, 'utf8'), String(process.pid));
      await new Promise((r) => setTimeout(r, 30));
      order.push(`${name}-`);
    });
  await Promise.all([run('a'), run('b')]);
  assert.deepEqual(order.map((s) => s.slice(-1)), ['+', '-', '+', '-'], 'never two inside at once');
  assert.equal(existsSync(lock), false);
  rmSync(dir, { recursive: true, force: true });
});

test('file lock: a lock left by a dead process is taken over; an error still releases it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'flock-'));
  const lock = join(dir, 'build.lock');
  writeFileSync(lock, '999999999'); // no such pid
  await assert.rejects(withFileLock(lock, async () => { throw new Error('build failed'); }), /build failed/);
  assert.equal(existsSync(lock), false);
  rmSync(dir, { recursive: true, force: true });
});
