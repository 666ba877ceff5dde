// Text → QEMU key presses (QMP `send-key` QKeyCodes) for a US keyboard layout: what a person at a thin
// client would press to type it. Pure; used by the end-to-end tests that type into a kiosk over QMP.

/** One `send-key` call: the keys held together (e.g. ['shift', 'a'] for "A"). */
export type QKeyChord = readonly string[];

/** Unshifted characters whose QKeyCode is not the character itself. */
const PLAIN: Readonly<Record<string, string>> = {
  ' ': 'spc', '\t': 'tab', '\n': 'ret', '-': 'minus', '=': 'equal', '[': 'bracket_left', ']': 'bracket_right',
  ';': 'semicolon', "'": 'apostrophe', '`': 'grave_accent', '\\': 'backslash', ',': 'comma', '.': 'dot', '/': 'slash',
};

/** Characters typed with Shift on a US layout, by the unshifted key they share. */
const SHIFTED: Readonly<Record<string, string>> = {
  '!': '1', '@': '2', '#': '3', $: '4', '%': '5', '^': '6', '&': '7', '*': '8', '(': '9', ')': '0',
  _: 'minus', '+': 'equal', '{': 'bracket_left', '}': 'bracket_right', ':': 'semicolon', '"': 'apostrophe',
  '~': 'grave_accent', '|': 'backslash', '<': 'comma', '>': 'dot', '?': 'slash',
};

export class UntypableCharacterError extends Error {
  constructor(readonly character: string) {
    super(`no US-layout key types ${JSON.stringify(character)} (U+${character.codePointAt(0)!.toString(16).padStart(4, '0')})`);
    this.name = 'UntypableCharacterError';
  }
}

/** The QKeyCode chord that types one character. */
export function qkeyChordOf(ch: string): QKeyChord {
  if (/^[a-z0-9]$/.test(ch)) return [ch];
  if (/^[A-Z]$/.test(ch)) return ['shift', ch.toLowerCase()];
  const plain = PLAIN[ch];
  if (plain) return [plain];
  const shifted = SHIFTED[ch];
  if (shifted) return ['shift', PLAIN[shifted] ?? shifted];
  throw new UntypableCharacterError(ch);
}

/** The chords that type `text`, one per character; throws before any key for a character no key types. */
export function qkeyChordsOf(text: string): QKeyChord[] {
  return [...text].map(qkeyChordOf);
}

/** The `send-key` arguments of one chord. */
export function sendKeyArgs(chord: QKeyChord): { keys: Array<{ type: 'qcode'; data: string }> } {
  return { keys: chord.map((data) => ({ type: 'qcode' as const, data })) };
}
