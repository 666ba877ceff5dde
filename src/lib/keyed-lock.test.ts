import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KeyedLock } from './keyed-lock.js';

test('operations on one key run one after another, even when one fails', async () => {
  const lock = new KeyedLock();
  const order: string[] = [];
  const slow = (tag: string, fail = false) => async () => {
    order.push(`${tag}:begin`);
    await new Promise((r) => setImmediate(r));
    order.push(`${tag}:end`);
    if (fail) throw new Error(tag);
    return tag;
  };
  const a = lock.run('vm1', slow('a', true));
  const b = lock.run('vm1', slow('b'));
  await assert.rejects(a, /a/);
  assert.equal(await b, 'b');
  assert.deepEqual(order, ['a:begin', 'a:end', 'b:begin', 'b:end']);
});

test('different keys do not wait for each other', async () => {
  const lock = new KeyedLock();
  let release!: () => void;
  const blocked = lock.run('x', () => new Promise<void>((r) => (release = r)));
  assert.equal(await lock.run('y', async () => 'free'), 'free');
  assert.equal(lock.busy('x'), true);
  release();
  await blocked;
});
