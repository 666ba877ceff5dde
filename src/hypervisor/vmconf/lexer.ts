// vm.conf lexer: text → tokens with line/column. Follows vmd's character rules (parse.y) so
// that files written for OpenBSD split the same way; macros are expanded later by the parser.
import { vmconfParseError, type SourcePos } from './errors.js';

export type TokenKind = 'word' | 'string' | '{' | '}' | ',' | '=' | 'newline' | 'eof';

export interface Token extends SourcePos {
  kind: TokenKind;
  /** word: the raw unquoted text; string: the unquoted contents (or an expanded macro). */
  text: string;
}

const PUNCT_TOKENS = new Set(['{', '}', ',', '=']);
/** Characters that end an unquoted word although they are punctuation (vmd's allowed_in_string). */
const WORD_STOPPERS = new Set(['(', ')', '{', '}', '!', '=', '#', ',']);

function isAlnum(c: string): boolean {
  return /^[A-Za-z0-9]$/.test(c);
}

function isAsciiPunct(c: string): boolean {
  const code = c.charCodeAt(0);
  return code >= 33 && code <= 126 && !isAlnum(c);
}

function canStartWord(c: string): boolean {
  return isAlnum(c) || c === ':' || c === '_' || c === '/' || c === '$' || c === '-';
}

function canContinueWord(c: string): boolean {
  return isAlnum(c) || (isAsciiPunct(c) && !WORD_STOPPERS.has(c));
}

class Cursor {
  index = 0;
  line = 1;
  col = 1;
  constructor(
    readonly text: string,
    readonly file: string,
  ) {}
  peek(offset = 0): string {
    return this.text.charAt(this.index + offset);
  }
  atEnd(): boolean {
    return this.index >= this.text.length;
  }
  advance(): string {
    const c = this.text.charAt(this.index++);
    if (c === '\n') {
      this.line++;
      this.col = 1;
    } else {
      this.col++;
    }
    return c;
  }
  pos(): SourcePos {
    return { file: this.file, line: this.line, col: this.col };
  }
  /** A backslash followed by a newline (optionally \r\n) joins two lines. */
  atContinuation(): boolean {
    return this.peek() === '\\' && (this.peek(1) === '\n' || (this.peek(1) === '\r' && this.peek(2) === '\n'));
  }
  skipContinuation(): void {
    this.advance();
    if (this.peek() === '\r') this.advance();
    this.advance();
  }
}

function describeChar(c: string): string {
  const code = c.codePointAt(0) ?? 0;
  return code >= 33 && code <= 126 ? `'${c}'` : `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
}

function lexQuoted(cur: Cursor): Token {
  const start = cur.pos();
  const quote = cur.advance();
  let out = '';
  for (;;) {
    if (cur.atEnd()) throw vmconfParseError(start, `quoted string is not closed (missing ${quote})`);
    if (cur.atContinuation()) {
      cur.skipContinuation();
      continue;
    }
    const c = cur.peek();
    if (c === '\n') throw vmconfParseError(start, `quoted string is not closed before the end of the line (missing ${quote})`);
    if (c === '\0') throw vmconfParseError(cur.pos(), 'a NUL byte is not allowed in a quoted string');
    cur.advance();
    if (c === quote) return { ...start, kind: 'string', text: out };
    if (c === '\\') {
      const next = cur.peek();
      if (next === quote || next === ' ' || next === '\t') {
        out += cur.advance();
        continue;
      }
    }
    out += c;
  }
}

function lexWord(cur: Cursor): Token {
  const start = cur.pos();
  let out = '';
  for (;;) {
    if (cur.atContinuation()) {
      cur.skipContinuation();
      continue;
    }
    const c = cur.peek();
    if (c === '\\' && cur.index + 1 < cur.text.length && cur.peek(1) !== '\n') {
      cur.advance();
      out += cur.advance();
      continue;
    }
    if (c === '' || !canContinueWord(c)) break;
    out += cur.advance();
  }
  if (out.startsWith('-') && !/^-\d+$/.test(out)) {
    throw vmconfParseError(start, `unexpected "${out}": an argument starting with "-" must be quoted`);
  }
  return { ...start, kind: 'word', text: out };
}

/** Splits vm.conf text into tokens; newlines are tokens because they end statements. */
export function tokenize(text: string, file: string): Token[] {
  const cur = new Cursor(text, file);
  const tokens: Token[] = [];
  while (!cur.atEnd()) {
    const c = cur.peek();
    if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v') {
      cur.advance();
    } else if (cur.atContinuation()) {
      cur.skipContinuation();
    } else if (c === '#') {
      while (!cur.atEnd() && cur.peek() !== '\n') cur.advance();
    } else if (c === '\n') {
      tokens.push({ ...cur.pos(), kind: 'newline', text: '\n' });
      cur.advance();
    } else if (c === '"' || c === "'") {
      tokens.push(lexQuoted(cur));
    } else if (PUNCT_TOKENS.has(c)) {
      tokens.push({ ...cur.pos(), kind: c as TokenKind, text: c });
      cur.advance();
    } else if (canStartWord(c) || (c === '\\' && cur.index + 1 < text.length)) {
      tokens.push(lexWord(cur));
    } else {
      const hint = isAsciiPunct(c) ? '; an argument that starts with it must be quoted' : '';
      throw vmconfParseError(cur.pos(), `unexpected character ${describeChar(c)}${hint}`);
    }
  }
  tokens.push({ ...cur.pos(), kind: 'eof', text: '' });
  return tokens;
}

/** How a token reads in an error message. */
export function describeToken(t: Token): string {
  switch (t.kind) {
    case 'eof':
      return 'the end of the file';
    case 'newline':
      return 'the end of the line';
    case 'string':
      return `"${t.text}"`;
    case 'word':
      return `'${t.text}'`;
    default:
      return `'${t.kind}'`;
  }
}
