import assert from 'node:assert/strict';
import { test } from 'node:test';
import { terminalSafe, terminalSafeLine } from './terminal-safe.js';

const cases: Array<[string, string, string]> = [
  ['plain text and newlines stay', 'login: root\nok\t1\n', 'login: root\nok\t1\n'],
  ['CRLF lines become LF', 'a\r\nb\r\n', 'a\nb\n'],
  ['a lone CR (overwrite the line) is shown', 'safe\rEVIL', 'safe\\x0dEVIL'],
  ['ESC of a window-title sequence', '\u001b]0;pwned\u0007', '\\x1b]0;pwned\\x07'],
  ['a CSI colour / clear screen', '\u001b[2J\u001b[31mred', '\\x1b[2J\\x1b[31mred'],
  ['C1 CSI (0x9b) and DEL', '\u009b6n\u007f', '\\x9b6n\\x7f'],
  ['bidi override', 'abc\u202edef', 'abc\\u202edef'],
  ['unicode letters stay', 'Grüße ✓', 'Grüße ✓'],
];

for (const [name, input, want] of cases) test(`terminalSafe: ${name}`, () => assert.equal(terminalSafe(input), want));

test('terminalSafeLine keeps a value on one line', () => {
  assert.equal(terminalSafeLine('reason\nNAME  STATE\tx'), 'reason\\nNAME  STATE\\tx');
});
