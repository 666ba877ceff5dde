// Text that came from a guest (console output, a failure's console line) made safe to print on an administrator's
// terminal: escape sequences could retitle the window, redefine keys, hide text or (on some terminals) answer
// back into the shell. Pure. Control characters become visible escapes; newlines and tabs stay.

/** One character as a visible escape: \x1b, \x9b, \u202e. */
const visible = (ch: string): string => {
  const cp = ch.codePointAt(0)!;
  return cp <= 0xff ? `\\x${cp.toString(16).padStart(2, '0')}` : `\\u${cp.toString(16).padStart(4, '0')}`;
};

/**
 * C0 controls but \n and \t, DEL, C1 controls (0x80-0x9f, which some terminals obey like ESC sequences) and the
 * bidirectional overrides (text that reads differently from what it is). \r is kept only before \n (CRLF lines).
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu;

export function terminalSafe(text: string): string {
  return text.replace(/\r\n/g, '\n').replace(UNSAFE, visible);
}

/** One line of a table or message: newlines too become visible (a guest line must not forge the next row). */
export function terminalSafeLine(text: string): string {
  return terminalSafe(text).replace(/\n/g, '\\n').replace(/\t/g, '\\t');
}
