import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ListPageQuery, nextPageAddress, nextPageOf } from './paging.js';

test('the next page keeps the request path and its other parameters, with after replaced and encoded', () => {
  const cases: Array<[string, string, string]> = [
    ['/v1/desktops?limit=2', 'd2', '/v1/desktops?limit=2&after=d2'],
    ['/v1/desktops?limit=2&after=d2', 'd4', '/v1/desktops?limit=2&after=d4'],
    ['/v1/vms?after=a&limit=5', 'x y&z', '/v1/vms?after=x+y%26z&limit=5'],
  ];
  for (const [url, after, want] of cases) assert.equal(nextPageAddress(url, after), want, url);
});

test("a Link header's next page: found among other relations, absent when there is none", () => {
  const cases: Array<[string | undefined, string | undefined]> = [
    ['</v1/desktops?limit=2&after=d2>; rel="next"', '/v1/desktops?limit=2&after=d2'],
    ['</a>; rel=next', '/a'],
    ['</first>; rel="first", </b?x=1,2>; rel="next"', '/b?x=1,2'],
    ['</p>; rel="prev next"', '/p'],
    ['</p>; rel="nextish"', undefined],
    ['</p>; rel="prev"', undefined],
    ['</p>; title="next"', undefined],
    ['', undefined],
    [undefined, undefined],
  ];
  for (const [header, want] of cases) assert.equal(nextPageOf(header), want, String(header));
});

test('a page query: a limit from 1 to 1000, after only with a limit, nothing else', () => {
  assert.deepEqual(ListPageQuery.parse({}), {});
  assert.deepEqual(ListPageQuery.parse({ limit: '20', after: 'd9' }), { limit: 20, after: 'd9' });
  for (const bad of [{ limit: '0' }, { limit: '1001' }, { limit: 'x' }, { limit: '1.5' }, { after: 'd9' }, { limit: '2', after: '' }, { limit: '2', offset: '4' }]) {
    assert.equal(ListPageQuery.safeParse(bad).success, false, JSON.stringify(bad));
  }
});
