import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRange, type RangeOutcome } from './range.js';

const CASES: Array<[string | undefined, number, RangeOutcome]> = [
  [undefined, 100, { kind: 'full' }],
  ['bytes=0-9', 100, { kind: 'partial', start: 0, end: 9 }],
  ['bytes=90-', 100, { kind: 'partial', start: 90, end: 99 }],
  ['bytes=90-500', 100, { kind: 'partial', start: 90, end: 99 }],
  ['bytes=-10', 100, { kind: 'partial', start: 90, end: 99 }],
  ['bytes=-500', 100, { kind: 'partial', start: 0, end: 99 }],
  ['bytes=99-99', 100, { kind: 'partial', start: 99, end: 99 }],
  ['bytes=100-', 100, { kind: 'unsatisfiable' }],
  ['bytes=100-200', 100, { kind: 'unsatisfiable' }],
  ['bytes=-0', 100, { kind: 'unsatisfiable' }],
  ['bytes=0-', 0, { kind: 'unsatisfiable' }],
  ['bytes=9-0', 100, { kind: 'full' }],
  ['bytes=0-9,20-29', 100, { kind: 'full' }],
  ['bytes=-', 100, { kind: 'full' }],
  ['items=0-9', 100, { kind: 'full' }],
  ['bytes=abc', 100, { kind: 'full' }],
  ['bytes=99999999999999999999-', 100, { kind: 'unsatisfiable' }],
];

for (const [header, size, expected] of CASES) {
  test(`Range ${header ?? '(none)'} on ${size} bytes → ${expected.kind}`, () => {
    assert.deepEqual(parseRange(header, size), expected);
  });
}
