// Grammar of a `vm` block: its options, `interface` sub-blocks and `allow instance`.
import type { AllowEntry, AllowFlagName, IfaceOption, Located, VmBlock, VmOption } from './ast.js';
import { ALLOW_FLAGS } from './ast.js';
import { describeToken, type Token } from './lexer.js';
import { vmconfParseError, type SourcePos } from './errors.js';
import type { TokenStream } from './stream.js';

const VM_OPTION_NAMES =
  'memory, disk, cdrom, boot, boot device, interface, local interface, interfaces, owner, enable, disable, ' +
  'allow instance, and the Ardesia extensions initrd, cmdline, firmware, arch, cpus, accel, restart-on-host-loss';

function pos(t: Token): SourcePos {
  return { file: t.file, line: t.line, col: t.col };
}

function located(t: Token): Located<string> {
  return { value: t.text, pos: pos(t) };
}

/** Parses `vm NAME [instance NAME] { … }`; the cursor is on `vm`. */
export function parseVmBlock(s: TokenStream): VmBlock {
  const vmTok = s.next();
  const first = s.expectJoinedArgument('a VM name after "vm"');
  let name = located(first);
  let parent: Located<string> | undefined;
  if (s.isKeyword('instance')) {
    s.next();
    parent = name;
    name = located(s.expectJoinedArgument('an instance name after "instance"'));
  }
  const open = s.expectPunct('{', `after vm "${name.value}" (on the same line)`);
  const options: VmOption[] = [];
  s.skipNewlines();
  while (s.peek().kind !== '}') {
    if (s.peek().kind === 'eof') throw vmconfParseError(open, `the '{' of vm "${name.value}" is never closed`);
    const option = parseVmOption(s, name.value);
    options.push(option);
    s.endOfStatement(`the ${describeOption(option)} option`, '}');
  }
  s.next();
  return { kind: 'vm', name, parent, options, pos: pos(vmTok) };
}

function describeOption(o: VmOption): string {
  if (o.kind === 'bootDevice') return 'boot device';
  if (o.kind === 'allowInstance') return 'allow instance';
  if (o.kind === 'restartOnHostLoss') return 'restart-on-host-loss';
  if (o.kind === 'interface' && o.local) return 'local interface';
  return o.kind;
}

function parseVmOption(s: TokenStream, vmName: string): VmOption {
  const t = s.peek();
  if (t.kind !== 'word') throw vmconfParseError(t, `expected an option in vm "${vmName}", found ${describeToken(t)}`);
  const at = pos(t);
  switch (t.text) {
    case 'memory':
    case 'cpus':
    case 'arch':
    case 'accel':
    case 'firmware':
    case 'owner':
    case 'interfaces':
      s.next();
      return { kind: t.text, value: s.expectArgument(`a value after "${t.text}"`).text, pos: at };
    case 'restart-on-host-loss':
      s.next();
      return { kind: 'restartOnHostLoss', value: s.expectArgument('yes or no after "restart-on-host-loss"').text, pos: at };
    case 'cdrom':
    case 'initrd':
    case 'cmdline':
      s.next();
      return { kind: t.text, value: s.expectJoinedArgument(`a value after "${t.text}"`).text, pos: at };
    case 'boot':
      s.next();
      if (s.isKeyword('device')) {
        s.next();
        const dev = s.peek();
        if (dev.kind !== 'word' && dev.kind !== 'string') {
          throw vmconfParseError(dev, `expected cdrom, disk or net after "boot device", found ${describeToken(dev)}`);
        }
        return { kind: 'bootDevice', value: s.next().text, pos: at };
      }
      return { kind: 'boot', value: s.expectJoinedArgument('a kernel or BIOS path after "boot"').text, pos: at };
    case 'disk':
      return parseDisk(s, at);
    case 'enable':
    case 'disable':
    case 'sev':
    case 'seves':
      s.next();
      return { kind: t.text, pos: at };
    case 'local':
      s.next();
      s.expectKeyword('interface', 'after "local"');
      return parseInterface(s, true, at);
    case 'interface':
      s.next();
      return parseInterface(s, false, at);
    case 'allow':
      s.next();
      s.expectKeyword('instance', 'after "allow"');
      return { kind: 'allowInstance', entries: parseAllowEntries(s), pos: at };
    default:
      throw vmconfParseError(t, `unknown option '${t.text}' in vm "${vmName}"; known options: ${VM_OPTION_NAMES}`);
  }
}

function parseDisk(s: TokenStream, at: SourcePos): VmOption {
  s.next();
  const path = s.expectJoinedArgument('a disk image path after "disk"').text;
  let format: Located<string> | undefined;
  let bus: Located<string> | undefined;
  for (;;) {
    const t = s.peek();
    if (s.isKeyword('format') || s.isKeyword('bus')) {
      s.next();
      const value = located(s.expectArgument(`a value after "${t.text}"`));
      if ((t.text === 'format' ? format : bus) !== undefined) throw vmconfParseError(t, `"${t.text}" is given twice for this disk`);
      if (t.text === 'format') format = value;
      else bus = value;
      continue;
    }
    return { kind: 'disk', value: path, format, bus, pos: at };
  }
}

const IFACE_OPTION_WORDS = new Set(['switch', 'bridge', 'group', 'model', 'rdomain', 'lladdr', 'locked', 'up', 'down', 'host']);

/** `[local] interface [name] [{ opts }] | [opts…]`; the cursor is after `interface`. */
function parseInterface(s: TokenStream, local: boolean, at: SourcePos): VmOption {
  const name = s.isArgument() ? located(s.next()) : undefined;
  const options: IfaceOption[] = [];
  if (s.peek().kind === '{') {
    const open = s.next();
    s.skipNewlines();
    while (s.peek().kind !== '}') {
      const t = s.peek();
      if (t.kind === 'eof') throw vmconfParseError(open, "the '{' of this interface is never closed");
      if (t.kind !== 'word' || !IFACE_OPTION_WORDS.has(t.text)) {
        throw vmconfParseError(t, `unknown interface option ${describeToken(t)}; known: switch, lladdr, locked lladdr, group, rdomain, up, down, model, bridge, host access`);
      }
      options.push(parseIfaceOption(s));
      if (s.peek().kind === ',') s.next();
      s.skipNewlines();
    }
    s.next();
  } else {
    while (s.peek().kind === 'word' && IFACE_OPTION_WORDS.has(s.peek().text)) {
      options.push(parseIfaceOption(s));
      if (s.peek().kind === ',') s.next();
    }
  }
  return { kind: 'interface', local, name, options, pos: at };
}

function parseIfaceOption(s: TokenStream): IfaceOption {
  const t = s.next();
  const at = pos(t);
  switch (t.text) {
    case 'switch':
    case 'bridge':
    case 'group':
      return { kind: t.text, value: s.expectJoinedArgument(`a name after "${t.text}"`).text, pos: at };
    case 'model':
    case 'rdomain':
      return { kind: t.text, value: s.expectArgument(`a value after "${t.text}"`).text, pos: at };
    case 'locked':
      s.expectKeyword('lladdr', 'after "locked"');
      return { kind: 'lladdr', locked: true, mac: s.isArgument() ? s.next().text : undefined, pos: at };
    case 'lladdr':
      return { kind: 'lladdr', locked: false, mac: s.isArgument() ? s.next().text : undefined, pos: at };
    case 'host':
      s.expectKeyword('access', 'after "host"');
      return { kind: 'hostAccess', pos: at };
    default:
      return { kind: t.text === 'up' ? 'up' : 'down', pos: at };
  }
}

function parseAllowEntry(s: TokenStream): AllowEntry {
  const t = s.peek();
  if (t.kind === 'word' && t.text === 'owner') {
    s.next();
    return { flag: 'owner', owner: s.expectArgument('user[:group] after "owner"').text, pos: pos(t) };
  }
  if (t.kind === 'word' && (ALLOW_FLAGS as readonly string[]).includes(t.text)) {
    s.next();
    return { flag: t.text as AllowFlagName, pos: pos(t) };
  }
  throw vmconfParseError(t, `expected an allow instance option (${ALLOW_FLAGS.join(', ')}, owner), found ${describeToken(t)}`);
}

function parseAllowEntries(s: TokenStream): AllowEntry[] {
  if (s.peek().kind !== '{') return [parseAllowEntry(s)];
  const open = s.next();
  const entries: AllowEntry[] = [];
  s.skipNewlines();
  while (s.peek().kind !== '}') {
    if (s.peek().kind === 'eof') throw vmconfParseError(open, "the '{' of allow instance is never closed");
    entries.push(parseAllowEntry(s));
    if (s.peek().kind === ',') s.next();
    s.skipNewlines();
  }
  s.next();
  return entries;
}
