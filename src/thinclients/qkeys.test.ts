import assert from 'node:assert/strict';
import { test } from 'node:test';
import { qkeyChordOf, qkeyChordsOf, sendKeyArgs, UntypableCharacterError } from './qkeys.js';

const cases: Array<[string, string[]]> = [
  ['a', ['a']],
  ['z', ['z']],
  ['0', ['0']],
  ['9', ['9']],
  ['A', ['shift', 'a']],
  ['Q', ['shift', 'q']],
  [' ', ['spc']],
  ['\t', ['tab']],
  ['\n', ['ret']],
  ['-', ['minus']],
  ['_', ['shift', 'minus']],
  ['=', ['equal']],
  ['+', ['shift', 'equal']],
  ['.', ['dot']],
  ['>', ['shift', 'dot']],
  ['/', ['slash']],
  ['?', ['shift', 'slash']],
  ['!', ['shift', '1']],
  ['@', ['shift', '2']],
  [')', ['shift', '0']],
  ['\\', ['backslash']],
  ['|', ['shift', 'backslash']],
  ["'", ['apostrophe']],
  ['"', ['shift', 'apostrophe']],
  ['`', ['grave_accent']],
  ['~', ['shift', 'grave_accent']],
  ['[', ['bracket_left']],
  ['}', ['shift', 'bracket_right']],
  [';', ['semicolon']],
  [':', ['shift', 'semicolon']],
];

for (const [ch, chord] of cases) {
  test(`types ${JSON.stringify(ch)} as ${chord.join('+')}`, () => {
    assert.deepEqual(qkeyChordOf(ch), chord);
  });
}

test('a login: user, Tab, password, Enter — one chord per character, in order', () => {
  assert.deepEqual(qkeyChordsOf('dora\tPw-42!\n'), [
    ['d'], ['o'], ['r'], ['a'], ['tab'], ['shift', 'p'], ['w'], ['minus'], ['4'], ['2'], ['shift', '1'], ['ret'],
  ]);
});

test('characters no US key types are refused, naming the character', () => {
  for (const ch of ['é', 'ß', '€', '\r', '\u0000']) {
    assert.throws(() => qkeyChordsOf(`ok${ch}`), (err: unknown) => err instanceof UntypableCharacterError && err.character === ch);
  }
});

test('send-key arguments hold the chord as qcodes', () => {
  assert.deepEqual(sendKeyArgs(['shift', 'a']), { keys: [{ type: 'qcode', data: 'shift' }, { type: 'qcode', data: 'a' }] });
});
