// vm.conf parser: tokens → syntax tree. Handles the file-level grammar (macros, include, global
// options, switch blocks) and delegates vm blocks to parse-vm.ts. Reads files only via readFile.
import { dirname, isAbsolute, resolve } from 'node:path';
import type { GlobalStmt, Located, Statement, SwitchBlock, SwitchOption, VmConfAst } from './ast.js';
import { describeToken, tokenize, type Token } from './lexer.js';
import { vmconfParseError, type SourcePos } from './errors.js';
import { KEYWORDS, TokenStream, type Macro } from './stream.js';
import { parseVmBlock } from './parse-vm.js';

export interface ParseOptions {
  /** Path of the file the text came from: names it in errors and anchors relative includes. */
  path: string;
  /** Reads an included file; given an absolute path. */
  readFile: (absPath: string) => string;
}

/** Deeper nesting than this is a mistake, not a layout (and keeps fuzzed input bounded). */
export const MAX_INCLUDE_DEPTH = 16;
const MACRO_NAME = /^[A-Za-z0-9_]+$/;

interface ParseState {
  macros: Map<string, Macro>;
  statements: Statement[];
  sources: string[];
  /** Absolute paths of the files being read, outermost first, to detect include cycles. */
  stack: string[];
  readFile: (absPath: string) => string;
}

function pos(t: Token): SourcePos {
  return { file: t.file, line: t.line, col: t.col };
}

/** Parses a whole vm.conf text (and the files it includes) into a syntax tree. */
export function parseVmConf(text: string, opts: ParseOptions): VmConfAst {
  const state: ParseState = { macros: new Map(), statements: [], sources: [], stack: [], readFile: opts.readFile };
  parseFile(text, opts.path, state);
  const unusedMacros: Located<string>[] = [];
  for (const [name, macro] of state.macros) if (!macro.used) unusedMacros.push({ value: name, pos: macro.pos });
  return { statements: state.statements, sources: state.sources, unusedMacros };
}

function parseFile(text: string, file: string, state: ParseState): void {
  const absolute = resolve(file);
  state.sources.push(absolute);
  state.stack.push(absolute);
  const s = new TokenStream(tokenize(text, file), state.macros);
  s.skipNewlines();
  while (s.peek().kind !== 'eof') {
    parseStatement(s, state);
    s.endOfStatement('this statement');
  }
  state.stack.pop();
}

function parseStatement(s: TokenStream, state: ParseState): void {
  const t = s.peek();
  if (t.kind === 'word') {
    switch (t.text) {
      case 'include':
        return parseInclude(s, state);
      case 'vm':
        state.statements.push(parseVmBlock(s));
        return;
      case 'switch':
        state.statements.push(parseSwitchBlock(s));
        return;
      case 'local':
      case 'socket':
      case 'agentx':
      case 'staggered':
        state.statements.push(parseGlobal(s));
        return;
    }
  }
  if ((t.kind === 'word' || t.kind === 'string') && s.peekSecond().kind === '=') return parseMacro(s, state);
  throw vmconfParseError(
    t,
    `unknown statement starting with ${describeToken(t)}; expected vm, switch, include, local, socket, agentx, staggered or a macro (name = "value")`,
  );
}

function parseMacro(s: TokenStream, state: ParseState): void {
  const nameTok = s.next();
  if (!MACRO_NAME.test(nameTok.text)) {
    throw vmconfParseError(nameTok, `macro name '${nameTok.text}' may only contain letters, digits and "_"`);
  }
  if (KEYWORDS.has(nameTok.text)) throw vmconfParseError(nameTok, `macro name '${nameTok.text}' is a reserved word`);
  s.next();
  const value = s.expectArgument(`a value after "${nameTok.text} ="`);
  state.macros.set(nameTok.text, { value: value.text, pos: pos(nameTok), used: false });
}

function parseInclude(s: TokenStream, state: ParseState): void {
  const kw = s.next();
  const target = s.expectJoinedArgument('a file name after "include"');
  const current = state.stack[state.stack.length - 1]!;
  const absolute = isAbsolute(target.text) ? resolve(target.text) : resolve(dirname(current), target.text);
  if (state.stack.includes(absolute)) {
    const chain = [...state.stack.slice(state.stack.indexOf(absolute)), absolute].join(' → ');
    throw vmconfParseError(target, `include cycle: ${chain}`);
  }
  if (state.stack.length >= MAX_INCLUDE_DEPTH) {
    throw vmconfParseError(kw, `includes are nested more than ${MAX_INCLUDE_DEPTH} deep`);
  }
  let text: string;
  try {
    text = state.readFile(absolute);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw vmconfParseError(target, `cannot read included file ${absolute}: ${why}`);
  }
  if (typeof text !== 'string') throw vmconfParseError(target, `cannot read included file ${absolute}: no text came back`);
  parseFile(text, absolute, state);
}

function parseGlobal(s: TokenStream): GlobalStmt {
  const t = s.next();
  const at = pos(t);
  switch (t.text) {
    case 'local':
      if (s.isKeyword('prefix')) {
        s.next();
        return { kind: 'localPrefix', value: s.expectArgument('an address/prefix after "local prefix"').text, pos: at };
      }
      s.expectKeyword('inet6', 'or "prefix" after "local" (or "local interface" inside a vm block)');
      if (!s.isKeyword('prefix')) return { kind: 'localInet6', pos: at };
      s.next();
      return { kind: 'localInet6', prefix: s.expectArgument('an address/prefix after "local inet6 prefix"').text, pos: at };
    case 'socket':
      s.expectKeyword('owner', 'after "socket"');
      return { kind: 'socketOwner', value: s.expectArgument('user[:group] after "socket owner"').text, pos: at };
    case 'agentx':
      return parseAgentx(s, at);
    default: {
      s.expectKeyword('start', 'after "staggered"');
      s.expectKeyword('parallel', 'after "staggered start"');
      const parallel = s.expectArgument('a number after "parallel"').text;
      s.expectKeyword('delay', 'after the parallelism');
      return { kind: 'staggeredStart', parallel, delay: s.expectArgument('seconds after "delay"').text, pos: at };
    }
  }
}

function parseAgentx(s: TokenStream, at: SourcePos): GlobalStmt {
  const stmt: GlobalStmt & { kind: 'agentx' } = { kind: 'agentx', pos: at };
  while (s.isKeyword('context') || s.isKeyword('path')) {
    const key = s.next().text as 'context' | 'path';
    stmt[key] = s.expectArgument(`a value after "${key}"`).text;
  }
  return stmt;
}

function parseSwitchBlock(s: TokenStream): SwitchBlock {
  const kw = s.next();
  const nameTok = s.expectJoinedArgument('a switch name after "switch"');
  const open = s.expectPunct('{', `after switch "${nameTok.text}" (on the same line)`);
  const options: SwitchOption[] = [];
  s.skipNewlines();
  while (s.peek().kind !== '}') {
    const t = s.peek();
    if (t.kind === 'eof') throw vmconfParseError(open, `the '{' of switch "${nameTok.text}" is never closed`);
    options.push(parseSwitchOption(s, nameTok.text));
    s.endOfStatement(`the ${t.text} option`, '}');
  }
  s.next();
  return { kind: 'switch', name: { value: nameTok.text, pos: pos(nameTok) }, options, pos: pos(kw) };
}

function parseSwitchOption(s: TokenStream, switchName: string): SwitchOption {
  const t = s.next();
  const at = pos(t);
  if (t.kind === 'word') {
    switch (t.text) {
      case 'interface':
      case 'group':
        return { kind: t.text, value: s.expectJoinedArgument(`a name after "${t.text}"`).text, pos: at };
      case 'rdomain':
        return { kind: 'rdomain', value: s.expectArgument('a number after "rdomain"').text, pos: at };
      case 'locked':
        s.expectKeyword('lladdr', 'after "locked"');
        return { kind: 'lockedLladdr', pos: at };
      case 'enable':
      case 'disable':
      case 'up':
      case 'down':
        return { kind: t.text, pos: at };
    }
  }
  throw vmconfParseError(
    t,
    `unknown option ${describeToken(t)} in switch "${switchName}"; known options: interface, locked lladdr, group, rdomain, enable, disable, up, down`,
  );
}
