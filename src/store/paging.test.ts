import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pageLimit, pageMap, pageOf } from './paging.js';

const named = (...names: string[]) => names.map((name) => ({ name }));

test('a page read with one row more than its limit: the extra row says another page follows, after the last one kept', () => {
  const cases: Array<{ rows: string[]; limit?: number; items: string[]; next?: string }> = [
    { rows: ['a', 'b', 'c'], items: ['a', 'b', 'c'] },
    { rows: ['a', 'b', 'c'], limit: 3, items: ['a', 'b', 'c'] },
    { rows: ['a', 'b', 'c'], limit: 2, items: ['a', 'b'], next: 'b' },
    { rows: ['a', 'b'], limit: 1, items: ['a'], next: 'a' },
    { rows: [], limit: 5, items: [] },
  ];
  for (const c of cases) {
    const page = c.limit === undefined ? undefined : { limit: c.limit };
    const got = pageOf(named(...c.rows), page, (r) => r.name);
    assert.deepEqual(got.items.map((r) => r.name), c.items, JSON.stringify(c));
    assert.equal(got.next, c.next, JSON.stringify(c));
  }
  assert.equal(pageLimit({ limit: 500 }), 501);
});

test('a page mapped keeps its continuation, and a last page has none', () => {
  assert.deepEqual(pageMap({ items: [1, 2], next: 'x' }, (n) => n * 2), { items: [2, 4], next: 'x' });
  assert.deepEqual(pageMap({ items: [1] }, String), { items: ['1'] });
});
