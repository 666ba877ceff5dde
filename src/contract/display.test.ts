import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DISPLAY_CLOSE_CODE, DISPLAY_END_REASON, type DisplayEnd, displayEndOf } from './display.js';

test('each ending has its own close code, clear of the refusals (4000 + HTTP status), and a reason that fits a close frame', () => {
  const codes = Object.values(DISPLAY_CLOSE_CODE);
  assert.equal(new Set(codes).size, codes.length);
  for (const code of codes) assert.ok(code >= 4600 && code <= 4999, `${code} is outside 4000 + an HTTP status`);
  for (const reason of Object.values(DISPLAY_END_REASON)) assert.ok(Buffer.byteLength(reason) <= 123, reason);
});

test('a close code is read back as its ending; drops and refusals are none', () => {
  const cases: Array<[number, DisplayEnd | undefined]> = [
    [4901, 'admin-disconnect'],
    [4902, 'idle'],
    [4903, 'logged-off'],
    [1000, undefined],
    [1006, undefined],
    [4403, undefined],
    [4409, undefined],
  ];
  for (const [code, end] of cases) assert.equal(displayEndOf(code), end, String(code));
});
