// vm block → VmDraft: each option checked and kept with its position; then `vm parent instance
// child` is merged from its parent, allowing only what the parent's `allow instance` lists.
import type { AllowFlagName, Located, VmBlock, VmOption } from './ast.js';
import { formatPos, vmconfParseError, vmconfUnsupported, type SourcePos } from './errors.js';
import { nicFromInterface, type NicDraft } from './network.js';
import { integerOption, memoryFromVmConf } from './size.js';
import type { InstanceOwner, InstancePolicy, SwitchDef } from './types.js';
import { MAX_VCPUS } from '../../contract/vm.js';

/** Most NICs a VmSpec takes. */
export const MAX_NICS = 8;

export interface DiskDraft {
  path: string;
  format?: string;
  bus?: string;
  pos: SourcePos;
}

export interface VmDraft {
  name: Located<string>;
  pos: SourcePos;
  isInstance: boolean;
  memoryMiB?: Located<number>;
  vcpus?: Located<number>;
  arch?: Located<string>;
  accel?: Located<string>;
  firmware?: Located<string>;
  disks: DiskDraft[];
  cdrom?: Located<string>;
  bootPath?: Located<string>;
  bootDevice?: Located<string>;
  initrd?: Located<string>;
  cmdline?: Located<string>;
  enabled: boolean;
  owner?: Located<InstanceOwner>;
  nics: NicDraft[];
  interfacesCount?: Located<number>;
  restartOnHostLoss?: Located<boolean>;
  allow?: InstancePolicy & { pos: SourcePos };
  /** False for an instance whose parent did not `allow instance { instance }`. */
  mayBeParent: boolean;
  warnings: string[];
}

const WHY_SEV = 'AMD SEV through psp(4) is specific to OpenBSD vmd; Ardesia does not start confidential guests';

export function parseOwner(text: string, pos: SourcePos): InstanceOwner {
  const [user, group, extra] = text.split(':');
  if (extra !== undefined || (!user && !group)) throw vmconfParseError(pos, `owner "${text}" is not user, user:group or :group`);
  const owner: InstanceOwner = {};
  if (user) owner.user = user;
  if (group) owner.group = group;
  return owner;
}

function yesNo(text: string, option: string, pos: SourcePos): boolean {
  if (text === 'yes' || text === 'no') return text === 'yes';
  throw vmconfParseError(pos, `${option} takes yes or no, not "${text}"`);
}

type SingleKey = 'memoryMiB' | 'vcpus' | 'arch' | 'accel' | 'firmware' | 'cdrom' | 'bootPath' | 'bootDevice' | 'initrd' | 'cmdline' | 'owner' | 'interfacesCount' | 'restartOnHostLoss';

function setOnce<K extends SingleKey>(draft: VmDraft, key: K, value: NonNullable<VmDraft[K]>, label: string, pos: SourcePos): void {
  const first = draft[key] as Located<unknown> | undefined;
  if (first) throw vmconfParseError(pos, `${label} is given twice in vm "${draft.name.value}" (first at ${formatPos(first.pos)})`);
  draft[key] = value;
}

function located<T>(value: T, pos: SourcePos): Located<T> {
  return { value, pos };
}

function applyOption(draft: VmDraft, opt: VmOption, switches: Map<string, SwitchDef>): void {
  switch (opt.kind) {
    case 'memory': {
      const size = memoryFromVmConf(opt.value, opt.pos);
      if (size.roundedFrom !== undefined) draft.warnings.push(`${formatPos(opt.pos)}: memory ${opt.value} rounded down to ${size.mib} MiB`);
      return setOnce(draft, 'memoryMiB', located(size.mib, opt.pos), 'memory', opt.pos);
    }
    case 'cpus':
      return setOnce(draft, 'vcpus', located(integerOption(opt.value, 'cpus', 1, MAX_VCPUS, opt.pos), opt.pos), 'cpus', opt.pos);
    case 'interfaces':
      return setOnce(draft, 'interfacesCount', located(integerOption(opt.value, 'interfaces', 0, MAX_NICS, opt.pos), opt.pos), 'interfaces', opt.pos);
    case 'arch':
    case 'accel':
    case 'firmware':
    case 'cdrom':
    case 'initrd':
    case 'cmdline':
      return setOnce(draft, opt.kind, located(opt.value, opt.pos), opt.kind, opt.pos);
    case 'boot':
      return setOnce(draft, 'bootPath', located(opt.value, opt.pos), 'boot', opt.pos);
    case 'bootDevice':
      return setOnce(draft, 'bootDevice', located(opt.value, opt.pos), 'boot device', opt.pos);
    case 'restartOnHostLoss':
      return setOnce(draft, 'restartOnHostLoss', located(yesNo(opt.value, 'restart-on-host-loss', opt.pos), opt.pos), 'restart-on-host-loss', opt.pos);
    case 'owner':
      return setOnce(draft, 'owner', located(parseOwner(opt.value, opt.pos), opt.pos), 'owner', opt.pos);
    case 'disk':
      draft.disks.push({ path: opt.value, format: opt.format?.value, bus: opt.bus?.value, pos: opt.pos });
      return;
    case 'enable':
    case 'disable':
      draft.enabled = opt.kind === 'enable';
      return;
    case 'sev':
    case 'seves':
      throw vmconfUnsupported(opt.pos, opt.kind, WHY_SEV);
    case 'interface':
      if (draft.nics.length >= MAX_NICS) throw vmconfParseError(opt.pos, `vm "${draft.name.value}" has more than ${MAX_NICS} interfaces`);
      draft.nics.push(nicFromInterface(opt, switches));
      return;
    case 'allowInstance':
      return applyAllow(draft, opt);
  }
}

function applyAllow(draft: VmDraft, opt: VmOption & { kind: 'allowInstance' }): void {
  const policy = draft.allow ?? { allow: [], owners: [], pos: opt.pos };
  for (const entry of opt.entries) {
    if (entry.flag === 'owner') policy.owners.push(parseOwner(entry.owner, entry.pos));
    else if (!policy.allow.includes(entry.flag)) policy.allow.push(entry.flag);
  }
  draft.allow = policy;
}

function emptyDraft(block: VmBlock): VmDraft {
  // vm.conf starts a VM with the daemon unless it says `disable` (VmSpec's own default is off).
  return { name: block.name, pos: block.pos, isInstance: block.parent !== undefined, disks: [], nics: [], enabled: true, mayBeParent: true, warnings: [] };
}

/** Builds the draft of a plain vm block. */
export function draftFromBlock(block: VmBlock, switches: Map<string, SwitchDef>): VmDraft {
  const draft = emptyDraft(block);
  for (const opt of block.options) applyOption(draft, opt, switches);
  return draft;
}

/** Which `allow instance` permission an option in an instance block needs; undefined: always allowed. */
function permissionFor(opt: VmOption): AllowFlagName | 'owner' | undefined {
  switch (opt.kind) {
    case 'memory':
    case 'disk':
    case 'cdrom':
    case 'cpus':
    case 'arch':
    case 'accel':
    case 'owner':
      return opt.kind;
    case 'boot':
    case 'bootDevice':
    case 'initrd':
    case 'cmdline':
    case 'firmware':
      return 'boot';
    case 'interface':
    case 'interfaces':
      return 'interface';
    case 'allowInstance':
      return 'instance';
    default:
      return undefined;
  }
}

function ownerPermitted(owner: InstanceOwner, policy: InstancePolicy): boolean {
  return policy.owners.some((p) => (p.user !== undefined && p.user === owner.user) || (p.group !== undefined && p.group === owner.group));
}

function enforceAllow(block: VmBlock, parent: VmDraft): void {
  const policy: InstancePolicy = parent.allow ?? { allow: [], owners: [] };
  const parentName = parent.name.value;
  for (const opt of block.options) {
    const needed = permissionFor(opt);
    if (needed === undefined) continue;
    if (needed === 'owner') {
      if (!ownerPermitted(parseOwner((opt as { value: string }).value, opt.pos), policy)) {
        throw vmconfParseError(opt.pos, `instance "${block.name.value}" may not set owner: "${parentName}"'s allow instance lists no such owner (allow instance { owner user:group })`);
      }
      continue;
    }
    if (!policy.allow.includes(needed)) {
      const label = opt.kind === 'bootDevice' ? 'boot device' : opt.kind === 'allowInstance' ? 'allow instance' : opt.kind;
      throw vmconfParseError(opt.pos, `instance "${block.name.value}" may not set ${label}: vm "${parentName}" does not list "${needed}" in its allow instance block (vmd lets root skip this check; Ardesia enforces it for every file)`);
    }
  }
}

function inheritNic(nic: NicDraft, child: VmDraft, parentName: string): NicDraft {
  if (nic.nic.mode === 'tap') {
    throw vmconfParseError(child.pos, `instance "${child.name.value}" would share tap device "${nic.nic.ifname}" of vm "${parentName}"; give the instance its own interface`);
  }
  // The MAC and the host-side name are exclusive to one VM (vm.conf(5), VM instances).
  const { mac: _mac, ifname: _ifname, ...rest } = nic.nic;
  return { ...nic, nic: rest };
}

/** Builds the draft of `vm parent instance name { … }` from its parent's draft. */
export function draftFromInstance(block: VmBlock, parent: VmDraft, switches: Map<string, SwitchDef>): VmDraft {
  enforceAllow(block, parent);
  const own = draftFromBlock(block, switches);
  const inherit = <K extends SingleKey>(key: K): VmDraft[K] => own[key] ?? parent[key];
  const keys: SingleKey[] = ['memoryMiB', 'vcpus', 'arch', 'accel', 'firmware', 'cdrom', 'bootPath', 'bootDevice', 'initrd', 'cmdline', 'owner', 'interfacesCount', 'restartOnHostLoss'];
  const merged: VmDraft = { ...own };
  for (const key of keys) (merged as unknown as Record<string, unknown>)[key] = inherit(key);
  const ownNics = block.options.some((o) => o.kind === 'interface');
  merged.nics = ownNics ? own.nics : parent.nics.map((n) => inheritNic(n, own, parent.name.value));
  // An instance may in turn be a parent only if its own parent allowed `instance`.
  const instancesAllowed = parent.allow?.allow.includes('instance') ?? false;
  merged.allow = own.allow ?? (instancesAllowed ? parent.allow : undefined);
  merged.mayBeParent = instancesAllowed;
  return merged;
}
