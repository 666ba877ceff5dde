import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Reverter, withRevert } from './revert.js';

test('a failure undoes the finished steps newest-first and rethrows', async () => {
  const undone: string[] = [];
  await assert.rejects(
    withRevert(async (r) => {
      r.add(() => void undone.push('a'));
      r.add(async () => void undone.push('b'));
      throw new Error('step 3 failed');
    }),
    /step 3 failed/,
  );
  assert.deepEqual(undone, ['b', 'a']);
});

test('success forgets the undos', async () => {
  const undone: string[] = [];
  assert.equal(await withRevert(async (r) => (r.add(() => void undone.push('a')), 42)), 42);
  assert.deepEqual(undone, []);
});

test('an undo that fails does not stop the others; its error is kept', async () => {
  const r = new Reverter();
  const undone: string[] = [];
  r.add(() => void undone.push('first'));
  r.add(() => {
    throw new Error('undo broke');
  });
  await r.fail();
  assert.deepEqual(undone, ['first']);
  assert.equal(r.failures[0]?.message, 'undo broke');
});
