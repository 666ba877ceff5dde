// Syntax tree → VmConfResult: global options, switches, VM drafts (with instances), final specs.
import { isIPv4, isIPv6 } from 'node:net';
import { DEFAULT_LOCAL_PREFIX } from '../../contract/vm.js';
import type { GlobalStmt, SwitchBlock, VmBlock, VmConfAst } from './ast.js';
import { formatPos, vmconfParseError, vmconfUnsupported } from './errors.js';
import { draftFromBlock, draftFromInstance, type VmDraft } from './draft.js';
import { finalizeDraft } from './finalize.js';
import { evaluateSwitches } from './network.js';
import { integerOption } from './size.js';
import type { InstancePolicy, VmConfGlobals, VmConfHost, VmConfResult } from './types.js';

const MAX_STAGGER_DELAY_S = 24 * 3600;

function ipv4ToInt(addr: string): number {
  return addr.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
}

/** `local prefix`: vmd keeps 16 bits for VM and interface ids, so the prefix is /16 or wider. */
function parseLocalPrefix(stmt: GlobalStmt & { kind: 'localPrefix' }): string {
  const [addr = '', lenText = '16', extra] = stmt.value.split('/');
  const len = Number(lenText);
  if (extra !== undefined || !isIPv4(addr) || !/^\d+$/.test(lenText) || len < 1 || len > 16) {
    throw vmconfParseError(stmt.pos, `local prefix "${stmt.value}" is not an IPv4 address/length with a length of 1 to 16`);
  }
  const hostBits = 2 ** (32 - len) - 1;
  if (ipv4ToInt(addr) % (hostBits + 1) !== 0) {
    throw vmconfParseError(stmt.pos, `local prefix "${stmt.value}" has host bits set; use the network address`);
  }
  return `${addr}/${len}`;
}

function parseInet6Prefix(stmt: GlobalStmt & { kind: 'localInet6' }, prefix: string): string {
  const [addr = '', lenText = '64', extra] = prefix.split('/');
  const len = Number(lenText);
  if (extra !== undefined || !isIPv6(addr) || !/^\d+$/.test(lenText) || len > 64) {
    throw vmconfParseError(stmt.pos, `local inet6 prefix "${prefix}" is not an IPv6 address/length of /64 or shorter`);
  }
  return `${addr}/${len}`;
}

function evaluateGlobal(stmt: GlobalStmt, globals: VmConfGlobals): void {
  switch (stmt.kind) {
    case 'localPrefix':
      globals.localPrefix = parseLocalPrefix(stmt);
      return;
    case 'localInet6':
      globals.localInet6 = stmt.prefix === undefined ? {} : { prefix: parseInet6Prefix(stmt, stmt.prefix) };
      return;
    case 'staggeredStart':
      globals.staggeredStart = {
        parallel: integerOption(stmt.parallel, 'staggered start parallel', 1, 1024, stmt.pos),
        delaySeconds: integerOption(stmt.delay, 'staggered start delay', 0, MAX_STAGGER_DELAY_S, stmt.pos),
      };
      return;
    case 'socketOwner':
      throw vmconfUnsupported(stmt.pos, 'socket owner', "Ardesia's daemon is reached through its API, where users and roles decide who may act on which VM; use owner in a vm block");
    case 'agentx':
      throw vmconfUnsupported(stmt.pos, 'agentx', 'Ardesia exports metrics for Prometheus at /metrics, not through an AgentX (snmpd) master');
  }
}

function draftVm(block: VmBlock, drafts: Map<string, VmDraft>, switches: ReturnType<typeof evaluateSwitches>): VmDraft {
  const name = block.name.value;
  const existing = drafts.get(name);
  if (existing) throw vmconfParseError(block.name.pos, `vm "${name}" is already defined at ${formatPos(existing.pos)}`);
  if (!block.parent) return draftFromBlock(block, switches);
  const parent = drafts.get(block.parent.value);
  if (!parent) throw vmconfParseError(block.parent.pos, `vm "${block.parent.value}" is not defined above; an instance's parent must come first`);
  if (!parent.mayBeParent) {
    throw vmconfParseError(block.parent.pos, `"${block.parent.value}" is an instance whose parent does not allow instances of instances (allow instance { instance })`);
  }
  return draftFromInstance(block, parent, switches);
}

/** Gives the syntax tree its meaning on Linux; throws VMCONF_PARSE / VMCONF_UNSUPPORTED. */
export function evaluateVmConf(ast: VmConfAst, host: VmConfHost): VmConfResult {
  const globals: VmConfGlobals = {};
  const switchBlocks: SwitchBlock[] = [];
  const vmBlocks: VmBlock[] = [];
  for (const stmt of ast.statements) {
    if (stmt.kind === 'switch') switchBlocks.push(stmt);
    else if (stmt.kind === 'vm') vmBlocks.push(stmt);
    else evaluateGlobal(stmt, globals);
  }
  const switches = evaluateSwitches(switchBlocks, host);
  const drafts = new Map<string, VmDraft>();
  for (const block of vmBlocks) drafts.set(block.name.value, draftVm(block, drafts, switches));

  const result: VmConfResult = {
    vms: [],
    switches: [...switches.values()],
    globals,
    sources: ast.sources,
    sourceOf: {},
    instancePolicy: {},
    lockedNics: [],
    warnings: ast.unusedMacros.map((m) => `${formatPos(m.pos)}: macro '${m.value}' is defined but never used`),
  };
  for (const draft of drafts.values()) {
    const spec = finalizeDraft(draft, host);
    result.vms.push(spec);
    result.sourceOf[spec.name] = `${draft.pos.file}:${draft.pos.line}`;
    if (draft.allow) result.instancePolicy[spec.name] = { allow: draft.allow.allow, owners: draft.allow.owners } satisfies InstancePolicy;
    draft.nics.forEach((n, nic) => {
      if (n.locked) result.lockedNics.push({ vm: spec.name, nic });
    });
    // The /31 of a local interface comes from the file's `local prefix`, carried in the spec so the runtime needs no globals.
    spec.nics = spec.nics.map((n) => (n.mode === 'local' ? { ...n, localPrefix: globals.localPrefix ?? DEFAULT_LOCAL_PREFIX } : n));
    result.warnings.push(...draft.warnings);
  }
  return result;
}
