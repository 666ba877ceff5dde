import assert from 'node:assert/strict';
import { test } from 'node:test';
import { groupBy } from './group-by.js';

test('items grouped by key, each group in the items\' order, keys in first-seen order', () => {
  const groups = groupBy([{ u: 'b', g: 1 }, { u: 'a', g: 2 }, { u: 'b', g: 3 }], (m) => m.u);
  assert.deepEqual([...groups.keys()], ['b', 'a']);
  assert.deepEqual(groups.get('b')!.map((m) => m.g), [1, 3]);
  assert.equal(groups.get('c'), undefined);
  assert.equal(groupBy([], String).size, 0);
});
