import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatMiB, parseSize } from './size.js';

const CASES: Array<[string, 'B' | 'M', number | undefined]> = [
  ['512M', 'B', 512 * 2 ** 20],
  ['2G', 'B', 2 * 2 ** 30],
  ['1g', 'B', 2 ** 30],
  ['64K', 'B', 65536],
  ['1048576', 'B', 1048576],
  ['256', 'M', 256 * 2 ** 20],
  ['1.5G', 'B', 1.5 * 2 ** 30],
  ['10GiB', 'B', 10 * 2 ** 30],
  ['', 'B', undefined],
  ['lots', 'B', undefined],
  ['-1M', 'B', undefined],
  ['5X', 'B', undefined],
];
for (const [text, unit, want] of CASES) {
  test(`parseSize(${JSON.stringify(text)}, ${unit}) = ${want}`, () => assert.equal(parseSize(text, unit), want));
}

test('formatMiB', () => {
  assert.equal(formatMiB(512), '512M');
  assert.equal(formatMiB(2048), '2G');
});
