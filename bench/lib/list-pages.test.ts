import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkPages, type ReadPage } from './list-pages.js';

const whole = Array.from({ length: 7 }, (_, i) => `d${i}`);
const link = (after: string) => `</v1/desktops?limit=3&after=${after}>; rel="next"`;
const good = (): ReadPage[] => [
  { path: '/v1/desktops?limit=3', names: ['d0', 'd1', 'd2'], link: link('d2') },
  { path: '/v1/desktops?limit=3&after=d2', names: ['d3', 'd4', 'd5'], link: link('d5') },
  { path: '/v1/desktops?limit=3&after=d5', names: ['d6'], link: undefined },
];

test('pages that are the whole list, a page at a time, pass', () => {
  checkPages(good(), whole, 3, '/v1/desktops?limit=3');
  // A whole number of pages: the last is full and has no next link.
  checkPages(good().slice(0, 2).map((p, i) => (i === 1 ? { ...p, link: undefined } : p)), whole.slice(0, 6), 3, '/v1/desktops?limit=3');
  checkPages([{ path: '/v1/desktops?limit=3', names: [], link: undefined }], [], 3, '/v1/desktops?limit=3');
});

test('a page short, out of order, repeated, or linked wrongly fails loudly', () => {
  const bad: Array<[string, (p: ReadPage[]) => ReadPage[], RegExp]> = [
    ['a short middle page', (p) => [p[0]!, { ...p[1]!, names: ['d3', 'd4'] }, p[2]!], /page 2 of 3.*2 items/],
    ['two names swapped', (p) => [p[0]!, { ...p[1]!, names: ['d4', 'd3', 'd5'] }, p[2]!], /in order/],
    ['the last page linked', (p) => [p[0]!, p[1]!, { ...p[2]!, link: link('d6') }], /last page names a next page/],
    ['a middle page unlinked', (p) => [p[0]!, { ...p[1]!, link: undefined }, p[2]!], /no next link while 1 items follow/],
    ['a link after the wrong name', (p) => [{ ...p[0]!, link: link('d1') }, p[1]!, p[2]!], /not the page of 3 after d2/],
    ['a page missing', (p) => [p[0]!, p[2]!], /2 pages of 3 for 7 items/],
    ['a page read that is not the link', (p) => [p[0]!, { ...p[1]!, path: '/v1/desktops?after=d2&limit=3' }, p[2]!], /was \/v1\/desktops\?after=d2&limit=3/],
  ];
  for (const [what, change, message] of bad) assert.throws(() => checkPages(change(good()), whole, 3, '/v1/desktops?limit=3'), message, what);
  assert.throws(() => checkPages(good(), [...whole.slice(0, 6), 'd0'], 3, '/v1/desktops?limit=3'), /twice/);
});
