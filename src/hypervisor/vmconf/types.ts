// Result and host types of the vm.conf reader (public API, re-exported by index.ts).
import type { VmSpec } from '../../contract/vm.js';
import type { AllowFlagName } from './ast.js';

/** A vm.conf `switch`: a name VMs refer to, standing for a Linux bridge on the host. */
export interface SwitchDef {
  name: string;
  /** The Linux bridge the switch's VM interfaces are added to (vm.conf `interface`). */
  interface: string;
  enabled: boolean;
  /** vm.conf `locked lladdr`: drop frames whose source MAC is not the VM's. */
  lockedLladdr: boolean;
  /** "file:line" of the switch block. */
  source: string;
}

export interface VmConfGlobals {
  /** `local prefix` (IPv4 address/length): local interfaces get their /31 from it (100.64.0.0/10 when absent). */
  localPrefix?: string;
  /** `local inet6 [prefix …]`. */
  localInet6?: { prefix?: string };
  /** `staggered start parallel N delay S`: how the daemon starts enabled VMs. */
  staggeredStart?: { parallel: number; delaySeconds: number };
}

export interface InstanceOwner {
  user?: string;
  group?: string;
}

/** What an `allow instance` block lets instances of a VM change. */
export interface InstancePolicy {
  allow: AllowFlagName[];
  owners: InstanceOwner[];
}

export interface VmConfResult {
  vms: VmSpec[];
  switches: SwitchDef[];
  globals: VmConfGlobals;
  /** Absolute paths of every file read, the top file first. */
  sources: string[];
  /** VM name → "file:line" of its vm block. */
  sourceOf: Record<string, string>;
  /** VM name → its allow instance policy (only VMs that have one). */
  instancePolicy: Record<string, InstancePolicy>;
  /** NICs whose source MAC must be locked (switch or interface `locked lladdr`). */
  lockedNics: { vm: string; nic: number }[];
  /** Things that load but deserve a look (unused macros, rounded memory …). */
  warnings: string[];
}

/** Host look-ups the evaluator may use; each is optional so the core stays pure in tests. */
export interface VmConfHost {
  /** First bytes of a file (disk format, kernel vs BIOS); undefined when it cannot be read. */
  probeFile?: (absPath: string) => Uint8Array | undefined;
  /** What a host network interface is: a Linux bridge, something else, or not there (yet). */
  interfaceKind?: (ifname: string) => 'bridge' | 'other' | 'missing';
}

export interface VmConfParseOptions extends VmConfHost {
  path: string;
  readFile: (absPath: string) => string;
}
