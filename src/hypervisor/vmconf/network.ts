// vm.conf networking on Linux: a `switch` names a Linux bridge; an interface on a switch (or on an
// Ardesia `bridge`) becomes a bridged tap, a named tap stays that tap, a `local interface` a routed tap
// with a /31 of the local prefix (src/network), anything else is QEMU user NAT.
import type { z } from 'zod';
import type { NicSpec } from '../../contract/vm.js';
import type { IfaceOption, SwitchBlock, VmOption } from './ast.js';
import { formatPos, vmconfParseError, vmconfUnsupported, type SourcePos } from './errors.js';
import type { SwitchDef, VmConfHost } from './types.js';

export type NicInput = z.input<typeof NicSpec>;

const LINUX_IFNAME = /^[^\s/:]{1,15}$/;
const OPENBSD_SWITCH_DEVICE = /^(veb|switch|tpmr)\d+$/;
const NIC_MODELS = ['virtio', 'e1000', 'rtl8139'] as const;

const WHY = {
  group: 'interface groups are an OpenBSD feature (for pf rules); Linux has no equivalent, filter on the bridge or tap name instead',
  rdomain: 'OpenBSD routing domains have no Linux equivalent that Ardesia manages; put the bridge into a VRF on the host instead',
  down: 'Ardesia always starts a NIC with its link up',
  lockedUserNat: 'locked lladdr only works on a switch (a Linux bridge); a plain interface is QEMU user-mode NAT with no layer-2 port to lock',
};

function checkIfname(name: string, what: string, pos: SourcePos): void {
  if (!LINUX_IFNAME.test(name) || name === '.' || name === '..') {
    throw vmconfParseError(pos, `${what} "${name}" is not a Linux interface name (1-15 characters, no spaces, "/" or ":")`);
  }
}

/** Evaluates every switch block (they may appear anywhere in the file, as in vmd). */
export function evaluateSwitches(blocks: SwitchBlock[], host: VmConfHost): Map<string, SwitchDef> {
  const switches = new Map<string, SwitchDef>();
  for (const block of blocks) {
    const name = block.name.value;
    const existing = switches.get(name);
    if (existing) throw vmconfParseError(block.name.pos, `switch "${name}" is already defined at ${existing.source}`);
    switches.set(name, evaluateSwitch(block, host));
  }
  return switches;
}

function evaluateSwitch(block: SwitchBlock, host: VmConfHost): SwitchDef {
  const name = block.name.value;
  let ifname: { value: string; pos: SourcePos } | undefined;
  const def: SwitchDef = { name, interface: '', enabled: true, lockedLladdr: false, source: `${block.pos.file}:${block.pos.line}` };
  for (const opt of block.options) {
    switch (opt.kind) {
      case 'interface':
        if (ifname) throw vmconfParseError(opt.pos, `switch "${name}" has a second interface; a switch is one bridge`);
        ifname = { value: opt.value, pos: opt.pos };
        break;
      case 'group':
        throw vmconfUnsupported(opt.pos, 'group', WHY.group);
      case 'rdomain':
        throw vmconfUnsupported(opt.pos, 'rdomain', WHY.rdomain);
      case 'down':
        throw vmconfUnsupported(opt.pos, 'down', 'Ardesia does not change the link state of a host bridge; set it with ip link');
      case 'lockedLladdr':
        def.lockedLladdr = true;
        break;
      case 'enable':
      case 'disable':
        def.enabled = opt.kind === 'enable';
        break;
      case 'up':
        break;
    }
  }
  if (!ifname) throw vmconfParseError(block.pos, `switch "${name}" has no interface: name the Linux bridge it stands for (interface br0)`);
  checkIfname(ifname.value, 'switch interface', ifname.pos);
  if (OPENBSD_SWITCH_DEVICE.test(ifname.value)) {
    throw vmconfUnsupported(ifname.pos, `interface ${ifname.value}`, 'veb, switch and tpmr are OpenBSD switch devices; on Linux name a bridge (ip link add br0 type bridge)');
  }
  if (host.interfaceKind?.(ifname.value) === 'other') {
    throw vmconfUnsupported(ifname.pos, `interface ${ifname.value}`, `${ifname.value} exists but is not a Linux bridge; create a bridge and enslave it (ip link set ${ifname.value} master br0), then name the bridge`);
  }
  def.interface = ifname.value;
  return def;
}

/** ether_aton-style MAC ("0:1:2:a:b:c" too) → "00:01:02:0a:0b:0c". */
export function normalizeMac(text: string, pos: SourcePos): string {
  const parts = text.split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{1,2}$/.test(p))) {
    throw vmconfParseError(pos, `lladdr "${text}" is not a MAC address (six hex pairs separated by ":")`);
  }
  return parts.map((p) => p.toLowerCase().padStart(2, '0')).join(':');
}

export interface NicDraft {
  nic: NicInput;
  locked: boolean;
  pos: SourcePos;
}

interface IfaceSettings {
  switchName?: { value: string; pos: SourcePos };
  bridge?: { value: string; pos: SourcePos };
  lladdr?: { locked: boolean; mac?: string; pos: SourcePos };
  model?: string;
  /** `host access`: this user-mode NAT interface may reach the host's own addresses (the NAT guard lets it). */
  hostAccess?: SourcePos;
}

function collectIfaceSettings(options: IfaceOption[]): IfaceSettings {
  const out: IfaceSettings = {};
  const seen = new Map<string, SourcePos>();
  for (const opt of options) {
    const first = seen.get(opt.kind);
    if (first && opt.kind !== 'up') throw vmconfParseError(opt.pos, `${opt.kind} is given twice for this interface (first at ${formatPos(first)})`);
    seen.set(opt.kind, opt.pos);
    switch (opt.kind) {
      case 'group':
        throw vmconfUnsupported(opt.pos, 'group', WHY.group);
      case 'rdomain':
        throw vmconfUnsupported(opt.pos, 'rdomain', WHY.rdomain);
      case 'down':
        throw vmconfUnsupported(opt.pos, 'down', WHY.down);
      case 'up':
        break;
      case 'hostAccess':
        out.hostAccess = opt.pos;
        break;
      case 'switch':
        out.switchName = { value: opt.value, pos: opt.pos };
        break;
      case 'bridge':
        checkIfname(opt.value, 'bridge', opt.pos);
        out.bridge = { value: opt.value, pos: opt.pos };
        break;
      case 'model':
        if (!(NIC_MODELS as readonly string[]).includes(opt.value)) {
          throw vmconfParseError(opt.pos, `model "${opt.value}" is not one of ${NIC_MODELS.join(', ')}`);
        }
        out.model = opt.value;
        break;
      case 'lladdr':
        out.lladdr = { locked: opt.locked, mac: opt.mac === undefined ? undefined : normalizeMac(opt.mac, opt.pos), pos: opt.pos };
        break;
    }
  }
  if (out.switchName && out.bridge) {
    throw vmconfParseError(out.bridge.pos, 'an interface takes either switch or bridge, not both');
  }
  return out;
}

/** Maps one `interface` statement onto a NicSpec input. */
export function nicFromInterface(opt: VmOption & { kind: 'interface' }, switches: Map<string, SwitchDef>): NicDraft {
  const settings = collectIfaceSettings(opt.options);
  if (opt.local && (settings.switchName || settings.bridge)) {
    throw vmconfParseError((settings.switchName ?? settings.bridge)!.pos, 'a local interface is a point-to-point link of its own (a /31 from the local prefix): it takes no switch or bridge');
  }
  const name = opt.name && opt.name.value !== 'tap' ? opt.name : undefined;
  if (name) checkIfname(name.value, 'interface name', name.pos);
  const nic: NicInput = {};
  let locked = settings.lladdr?.locked ?? false;
  if (opt.local) {
    nic.mode = 'local';
  } else if (settings.switchName) {
    const sw = switches.get(settings.switchName.value);
    if (!sw) {
      throw vmconfParseError(settings.switchName.pos, `no switch named "${settings.switchName.value}" is defined (vmd would silently leave this interface unplugged)`);
    }
    if (!sw.enabled) throw vmconfParseError(settings.switchName.pos, `switch "${sw.name}" is disabled (${sw.source}); enable it or use another switch`);
    Object.assign(nic, { mode: 'bridge', bridge: sw.interface });
    locked ||= sw.lockedLladdr;
  } else if (settings.bridge) {
    Object.assign(nic, { mode: 'bridge', bridge: settings.bridge.value });
  } else if (name) {
    nic.mode = 'tap';
  } else {
    nic.mode = 'user';
    if (locked) throw vmconfUnsupported(settings.lladdr!.pos, 'locked lladdr', WHY.lockedUserNat);
  }
  if (settings.hostAccess) {
    if (nic.mode !== 'user') throw vmconfParseError(settings.hostAccess, `host access opens user-mode NAT to this host's own addresses; a ${nic.mode} interface does not take it (filter it on the host)`);
    nic.hostAccess = true;
  }
  if (name) nic.ifname = name.value;
  if (settings.lladdr?.mac) nic.mac = settings.lladdr.mac;
  if (settings.model) nic.model = settings.model as NicInput['model'];
  if (locked) nic.locked = true;
  return { nic, locked, pos: opt.pos };
}
