// Token cursor for the parser: expands $macros as tokens are pulled (vmd expands lazily too, so a
// macro is visible from its definition on) and offers the small matching helpers the grammar needs.
// Unlike vmd, a macro's value is not re-read as several tokens: "/my vms" stays one path.
import { describeToken, type Token } from './lexer.js';
import { vmconfParseError, type SourcePos } from './errors.js';

/** Reserved words: vmd's keyword table plus Ardesia's extensions. A macro may not use them. */
export const KEYWORDS = new Set([
  'add', 'agentx', 'allow', 'boot', 'cdrom', 'context', 'delay', 'device', 'disable', 'disk', 'down',
  'enable', 'format', 'group', 'id', 'include', 'inet6', 'instance', 'interface', 'interfaces', 'lladdr',
  'local', 'locked', 'memory', 'net', 'owner', 'parallel', 'path', 'prefix', 'rdomain', 'sev', 'seves',
  'size', 'socket', 'staggered', 'start', 'switch', 'up', 'vm',
  // Ardesia extensions
  'initrd', 'cmdline', 'firmware', 'arch', 'cpus', 'accel', 'bus', 'model', 'bridge',
]);

export interface Macro {
  value: string;
  pos: SourcePos;
  used: boolean;
}

const MACRO_REF = /\$([A-Za-z0-9_]+)/g;

export class TokenStream {
  private index = 0;

  constructor(
    private tokens: Token[],
    private readonly macros: Map<string, Macro>,
  ) {}

  peek(): Token {
    this.expandAtCursor();
    return this.tokens[this.index] ?? this.tokens[this.tokens.length - 1]!;
  }

  next(): Token {
    const t = this.peek();
    if (t.kind !== 'eof') this.index++;
    return t;
  }

  isKeyword(word: string): boolean {
    const t = this.peek();
    return t.kind === 'word' && t.text === word;
  }

  /** The token after the next one, unexpanded (to see the '=' of a macro definition). */
  peekSecond(): Token {
    return this.tokens[this.index + 1] ?? this.tokens[this.tokens.length - 1]!;
  }

  /** A token that can be an argument: a quoted string or an unquoted non-keyword word. */
  isArgument(): boolean {
    const t = this.peek();
    return t.kind === 'string' || (t.kind === 'word' && !KEYWORDS.has(t.text));
  }

  expectKeyword(word: string, context: string): Token {
    const t = this.peek();
    if (!this.isKeyword(word)) throw vmconfParseError(t, `expected '${word}' ${context}, found ${describeToken(t)}`);
    return this.next();
  }

  expectPunct(kind: '{' | '}' | '=', context: string): Token {
    const t = this.peek();
    if (t.kind !== kind) throw vmconfParseError(t, `expected '${kind}' ${context}, found ${describeToken(t)}`);
    return this.next();
  }

  /** One argument token (vmd's STRING). */
  expectArgument(what: string): Token {
    const t = this.peek();
    if (!this.isArgument()) throw vmconfParseError(t, `expected ${what}, found ${describeToken(t)}`);
    return this.next();
  }

  /** One or more adjacent arguments joined without a space (vmd's `string` rule), e.g. "/vm/" $name ".img". */
  expectJoinedArgument(what: string): Token {
    const first = this.expectArgument(what);
    let text = first.text;
    while (this.isArgument()) text += this.next().text;
    return { ...first, kind: 'string', text };
  }

  skipNewlines(): void {
    while (this.peek().kind === 'newline') this.next();
  }

  /** After a statement: a newline, or the end of the file / the closing brace of a block. */
  endOfStatement(context: string, closer?: '}'): void {
    const t = this.peek();
    if (t.kind === 'newline') {
      this.skipNewlines();
      return;
    }
    if (t.kind === 'eof' || (closer !== undefined && t.kind === closer)) return;
    throw vmconfParseError(t, `expected the end of the line after ${context}, found ${describeToken(t)}`);
  }

  /** $name and words holding $name become one quoted-like argument (never a keyword, never re-expanded). */
  private expandAtCursor(): void {
    const t = this.tokens[this.index];
    if (t === undefined || t.kind !== 'word' || !t.text.includes('$')) return;
    const text = t.text.replace(MACRO_REF, (_m, name: string) => this.lookup(name, t));
    this.tokens[this.index] = { ...t, kind: 'string', text };
  }

  private lookup(name: string, at: Token): string {
    const macro = this.macros.get(name);
    if (macro === undefined) throw vmconfParseError(at, `macro '${name}' is not defined (define it above with ${name}="value")`);
    macro.used = true;
    return macro.value;
  }
}
