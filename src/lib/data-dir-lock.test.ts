import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ArdesiaError } from '../contract/errors.js';
import { dataDirLock, lockHolderParse } from './data-dir-lock.js';

test('lockHolderParse: the pid and role written by the holder, nothing from an empty or foreign file', () => {
  const table: Array<[string, ReturnType<typeof lockHolderParse>]> = [
    ['4242 ardesia serve\n', { pid: 4242, role: 'ardesia serve' }],
    ['17 ardesia netboot serve', { pid: 17, role: 'ardesia netboot serve' }],
    ['', undefined],
    ['ardesia serve', undefined],
    ['12x serve', undefined],
  ];
  for (const [text, want] of table) assert.deepEqual(lockHolderParse(text), want, JSON.stringify(text));
});

test('dataDirLock: a second holder is refused with the first one named; free again after release', () => {
  // flock(2) conflicts between two open files even within one process: the real lock, no second process needed.
  const dir = mkdtempSync(join(tmpdir(), 'ddl-'));
  try {
    const first = dataDirLock(dir, 'ardesia serve');
    assert.equal(readFileSync(first.path, 'utf8'), `${process.pid} ardesia serve\n`);
    assert.throws(() => dataDirLock(dir, 'ardesia netboot serve'), (err: unknown) => {
      assert.ok(err instanceof ArdesiaError);
      assert.equal(err.code, 'DATA_DIR_IN_USE');
      assert.match(err.message, new RegExp(`in use by ardesia serve \\(pid ${process.pid}\\)`));
      return true;
    });
    assert.equal(readFileSync(first.path, 'utf8'), `${process.pid} ardesia serve\n`, 'a refused taker leaves the holder named');
    first.release();
    const again = dataDirLock(dir, 'ardesia netboot serve');
    assert.equal(readFileSync(again.path, 'utf8'), `${process.pid} ardesia netboot serve\n`);
    again.release();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
