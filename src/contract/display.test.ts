import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DISPLAY_CLOSE_CODE, DISPLAY_END_REASON, type DisplayEnd, displayEndOf, displayUnreachableText } from './display.js';

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
    [4904, 'host-lost'],
    [1000, undefined],
    [1006, undefined],
    [4403, undefined],
    [4409, undefined],
  ];
  for (const [code, end] of cases) assert.equal(displayEndOf(code), end, String(code));
});

test("a refusal because the desktop's server is out of reach says the session is safe; other closes keep the generic text", () => {
  const safe = /cannot be reached now; your session is safe there/;
  assert.match(displayUnreachableText(4503, "AGENT_NOT_LINKED host a1's agent is not connected to this controller") ?? '', safe);
  assert.match(displayUnreachableText(4504, 'AGENT_STREAM_TIMEOUT host a1 did not dial the display stream') ?? '', safe);
  const others: Array<[number, string]> = [
    [4403, 'FORBIDDEN desktop d1 is not in a session of yours'],
    [4409, 'VM_NOT_RUNNING vm d1 is not running'],
    [1000, "AGENT_NOT_LINKED text in a normal close is not a refusal"],
    [4903, 'LOGGED_OFF the session was logged off'],
    [4503, ''],
  ];
  for (const [code, reason] of others) assert.equal(displayUnreachableText(code, reason), undefined, `${code} ${reason}`);
});
