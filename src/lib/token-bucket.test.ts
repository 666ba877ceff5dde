import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KeyedTokenBuckets } from './token-bucket.js';

test('a burst, then one token per refill period', () => {
  const b = new KeyedTokenBuckets({ burst: 3, refillMs: 1000 });
  assert.deepEqual([1, 2, 3, 4].map(() => b.take('a', 0)), [true, true, true, false]);
  assert.equal(b.take('b', 0), true, 'keys are separate');
  assert.equal(b.take('a', 999), false);
  assert.equal(b.take('a', 1000), true);
  assert.equal(b.take('a', 1000), false);
  assert.equal(b.available('a', 100_000), 3, 'never more than the burst');
});

test('takeAll takes from none when one key is out', () => {
  const b = new KeyedTokenBuckets({ burst: 1, refillMs: 1000 });
  assert.equal(b.take('x', 0), true);
  assert.equal(b.takeAll(['y', 'x'], 0), false);
  assert.equal(b.available('y', 0), 1);
});

test('keys are bounded: the least recently used is forgotten', () => {
  const b = new KeyedTokenBuckets({ burst: 1, refillMs: 60_000 }, 2);
  b.take('a', 0); b.take('b', 0); b.take('c', 0);
  assert.equal(b.available('a', 0), 1, 'a was forgotten (comes back full)');
  assert.equal(b.available('c', 0), 0);
});
