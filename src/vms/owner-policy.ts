// Pure core of what a VM owner who is not an administrator may make QEMU open: the owner policy
// (`serve --owner-policy FILE`), the rules of one principal, and the verdicts on a start request,
// a path and a qcow2 header. No I/O: the shell (owner-files.ts) opens the files and asks these.
import { isAbsolute, join, normalize, resolve, sep } from 'node:path';
import { z } from 'zod';
import type { ErrorCode } from '../contract/errors.js';
import type { VmSpec, VmSpecInput } from '../contract/vm.js';
import type { Qcow2Header } from '../storage/qcow2-header.js';

/** Where an owner's files live unless the policy says more: DATA_DIR/owners/USER, made by the daemon. */
export const OWNERS_FOLDER = 'owners';
/** Host folders no policy can open to an owner (a root that contains them still excludes them). */
export const ALWAYS_DENIED = ['/etc', '/dev', '/proc', '/sys', '/run', '/var/run'] as const;
/** A qcow2 chain deeper than this is refused (QEMU itself stops far later; nothing we make goes past 3). */
export const MAX_BACKING_DEPTH = 8;

const absolutePath = z.string().refine((p) => isAbsolute(p) && !p.includes('\0'), 'must be an absolute path');
const ifName = z.string().regex(/^[A-Za-z0-9_.-]{1,15}$/, 'an interface name (1-15 letters, digits, "_", "." or "-")');

const RulesInput = z
  .object({
    /** Folders whose files the owner's VMs may use as writable disks (and read). */
    roots: z.array(absolutePath).optional(),
    /** Folders whose files the owner's VMs may only read: read-only disks, CD-ROMs, kernels, initrds, BIOS, TFTP roots. */
    readOnlyRoots: z.array(absolutePath).optional(),
    bridges: z.array(ifName).optional(),
    taps: z.array(ifName).optional(),
    /** Totals over the owner's running VMs. */
    maxMemoryMiB: z.number().int().min(16).optional(),
    maxVcpus: z.number().int().min(1).optional(),
    maxVms: z.number().int().min(0).optional(),
  })
  .strict();
type RulesInput = z.infer<typeof RulesInput>;

export const OwnerPolicyFile = z
  .object({
    defaults: RulesInput.default({}),
    users: z.record(z.string(), RulesInput).default({}),
    groups: z.record(z.string(), RulesInput).default({}),
  })
  .strict();
export type OwnerPolicy = z.infer<typeof OwnerPolicyFile>;

/** The built-in caps when neither the policy's defaults nor an entry sets them. */
export const DEFAULT_LIMITS = { maxMemoryMiB: 4096, maxVcpus: 4, maxVms: 2 } as const;

export interface OwnerRoot {
  path: string;
  readOnly: boolean;
}

/** What one principal may use, resolved from the policy. */
export interface OwnerRules {
  principal: string;
  roots: OwnerRoot[];
  /** Folders refused even inside a root: ALWAYS_DENIED and the data folder outside the principal's own folder. */
  denied: string[];
  bridges: string[];
  taps: string[];
  maxMemoryMiB: number;
  maxVcpus: number;
  maxVms: number;
}

/** What a VM's files are checked by (the rest of the rules, NICs and caps, is checked where the start is placed). */
export type OwnerFileRules = Pick<OwnerRules, 'principal' | 'roots' | 'denied'>;

export const ownerFolder = (dataDir: string, user: string): string => join(dataDir, OWNERS_FOLDER, user);

/** A user entry wins; otherwise the entries of the user's groups, combined (folders and devices added, the highest cap). */
export function ownerRulesFor(policy: OwnerPolicy, dataDir: string, principal: string, groups: readonly string[]): OwnerRules {
  const user = policy.users[principal];
  const entries = user ? [user] : groups.map((g) => policy.groups[g]).filter((e): e is RulesInput => e !== undefined);
  const base = policy.defaults;
  const pick = (key: 'maxMemoryMiB' | 'maxVcpus' | 'maxVms'): number => {
    const set = entries.map((e) => e[key]).filter((v): v is number => v !== undefined);
    return set.length ? Math.max(...set) : (base[key] ?? DEFAULT_LIMITS[key]);
  };
  const union = (key: 'roots' | 'readOnlyRoots' | 'bridges' | 'taps'): string[] => {
    const from = entries.some((e) => e[key] !== undefined) ? entries : [base];
    return [...new Set(from.flatMap((e) => e[key] ?? []))];
  };
  const own = ownerFolder(dataDir, principal);
  return {
    principal,
    roots: [
      { path: own, readOnly: false },
      ...union('roots').map((p) => ({ path: normalize(p), readOnly: false })),
      ...union('readOnlyRoots').map((p) => ({ path: normalize(p), readOnly: true })),
    ],
    denied: [...ALWAYS_DENIED],
    bridges: union('bridges'),
    taps: union('taps'),
    maxMemoryMiB: pick('maxMemoryMiB'),
    maxVcpus: pick('maxVcpus'),
    maxVms: pick('maxVms'),
  };
}

export interface Refusal {
  code: ErrorCode;
  message: string;
}

export const isInside = (path: string, folder: string): boolean => path === folder || path.startsWith(folder.endsWith(sep) ? folder : folder + sep);

/** How a VM uses a file: writable disks need a writable root; everything else is read. */
export type FileUse = 'write' | 'read';

/**
 * Whether a path (absolute, already resolved: the shell passes realpath's answer too) lies where the
 * owner may use it; the data folder counts as denied except the owner's own folder.
 */
export function pathVerdict(rules: OwnerFileRules, dataDir: string, path: string, use: FileUse, what: string): Refusal | undefined {
  if (!isAbsolute(path)) return { code: 'OWNER_PATH_FORBIDDEN', message: `${what} ${path} is not an absolute path` };
  const p = resolve(path);
  const own = ownerFolder(dataDir, rules.principal);
  const denied = rules.denied.find((d) => isInside(p, d)) ?? (isInside(p, dataDir) && !isInside(p, own) ? dataDir : undefined);
  if (denied) return { code: 'OWNER_PATH_FORBIDDEN', message: `${what} ${path} is inside ${denied}, which no VM owner may use` };
  const roots = rules.roots.filter((r) => isInside(p, r.path));
  if (roots.length === 0) return { code: 'OWNER_PATH_FORBIDDEN', message: `${what} ${path} is outside the folders allowed to ${rules.principal} (${rules.roots.map((r) => r.path).join(', ')})` };
  if (use === 'write' && roots.every((r) => r.readOnly)) return { code: 'OWNER_PATH_FORBIDDEN', message: `${what} ${path} is in a read-only folder for ${rules.principal}: make the disk readonly or move it to ${own}` };
  return undefined;
}

/** Every file a spec makes QEMU open, with how it is used. */
export interface SpecFile {
  what: string;
  path: string;
  use: FileUse;
  /** qcow2 disks: the daemon checks the chain. */
  qcow2: boolean;
  /** A directory QEMU serves from (TFTP root), not a file. */
  directory?: boolean;
}

export function specFiles(spec: VmSpec): SpecFile[] {
  const files: SpecFile[] = spec.disks.map((d, i) => ({ what: `disk ${i}`, path: d.path, use: d.readonly ? 'read' : 'write', qcow2: d.format === 'qcow2' }));
  if (spec.cdrom) files.push({ what: 'cdrom', path: spec.cdrom, use: 'read', qcow2: false });
  for (const key of ['kernel', 'initrd', 'bios'] as const) {
    const path = spec.boot[key];
    if (path) files.push({ what: key, path, use: 'read', qcow2: false });
  }
  spec.nics.forEach((n, i) => {
    if (n.tftpRoot) files.push({ what: `nic ${i} TFTP root`, path: n.tftpRoot, use: 'read', qcow2: false, directory: true });
  });
  return files;
}

/** Start options an owner may not give for a defined VM: they would swap what the administrator defined. */
const FILE_OVERRIDES = ['disks', 'cdrom', 'nics'] as const;
const BOOT_FILE_OVERRIDES = ['kernel', 'initrd', 'bios'] as const;

export function overrideVerdict(name: string, adHoc: Partial<VmSpecInput> | undefined): Refusal | undefined {
  if (!adHoc) return undefined;
  const given: string[] = FILE_OVERRIDES.filter((k) => adHoc[k] !== undefined);
  for (const k of BOOT_FILE_OVERRIDES) if (adHoc.boot?.[k] !== undefined) given.push(`boot.${k}`);
  if (given.length === 0) return undefined;
  return { code: 'OWNER_START_OVERRIDE', message: `vm ${name}: only an administrator may replace ${given.join(', ')} when starting it` };
}

/** Taps and bridges: only those the policy gives this owner; user-mode NAT needs none. */
export function networkVerdict(rules: OwnerRules, spec: VmSpec): Refusal | undefined {
  for (const [i, nic] of spec.nics.entries()) {
    if (nic.mode === 'bridge' && !rules.bridges.includes(nic.bridge ?? '')) {
      return { code: 'OWNER_NETWORK_FORBIDDEN', message: `vm ${spec.name}: nic ${i} joins bridge ${nic.bridge ?? '(none)'}, which is not ${rules.principal}'s` };
    }
    if (nic.hostAccess) {
      return { code: 'OWNER_NETWORK_FORBIDDEN', message: `vm ${spec.name}: nic ${i} opens NAT to this host's own addresses; only an administrator may` };
    }
    const tapNamed = nic.mode === 'tap' || ((nic.mode === 'bridge' || nic.mode === 'local') && nic.ifname !== undefined);
    if (tapNamed && !rules.taps.includes(nic.ifname ?? '')) {
      return { code: 'OWNER_NETWORK_FORBIDDEN', message: `vm ${spec.name}: nic ${i} uses tap ${nic.ifname ?? '(none)'}, which is not ${rules.principal}'s` };
    }
  }
  return undefined;
}

/** The owner's running VMs plus this one stay within the caps. */
export function quotaVerdict(rules: OwnerRules, spec: VmSpec, running: readonly VmSpec[]): Refusal | undefined {
  const memory = running.reduce((sum, s) => sum + s.memoryMiB, spec.memoryMiB);
  const vcpus = running.reduce((sum, s) => sum + s.vcpus, spec.vcpus);
  const who = rules.principal;
  if (running.length + 1 > rules.maxVms) return { code: 'OWNER_QUOTA_EXCEEDED', message: `vm ${spec.name}: ${who} already runs ${running.length} VM(s), the most allowed is ${rules.maxVms}` };
  if (memory > rules.maxMemoryMiB) return { code: 'OWNER_QUOTA_EXCEEDED', message: `vm ${spec.name}: ${memory} MiB of memory over ${who}'s running VMs would pass the ${rules.maxMemoryMiB} MiB allowed` };
  if (vcpus > rules.maxVcpus) return { code: 'OWNER_QUOTA_EXCEEDED', message: `vm ${spec.name}: ${vcpus} vCPUs over ${who}'s running VMs would pass the ${rules.maxVcpus} allowed` };
  return undefined;
}

/**
 * A backing-file or data-file name QEMU would follow: `json:` pseudo-filenames and protocol names
 * (nbd:, http:, ssh:, file: …) reach anything, so only plain paths pass.
 */
export function backingNameVerdict(name: string): string | undefined {
  if (name.length === 0) return 'an empty backing file name';
  if (name.includes('\0')) return 'a backing file name with a NUL byte';
  if (/^json:/i.test(name)) return `a json: pseudo-filename (${name.slice(0, 60)})`;
  const colon = name.indexOf(':');
  if (colon >= 0 && (name.indexOf('/') < 0 || colon < name.indexOf('/'))) return `a protocol filename (${name.slice(0, 60)})`;
  return undefined;
}

/** Where QEMU looks for a backing file: relative names are relative to the image's folder. */
export function backingPath(imagePath: string, backing: string): string {
  return isAbsolute(backing) ? normalize(backing) : resolve(imagePath, '..', backing);
}

/** What a qcow2 header in an owner's chain may not do; the backing file itself is checked by the shell next. */
export function qcow2ChainVerdict(path: string, h: Qcow2Header, depth: number): string | undefined {
  if (h.dataFile !== undefined || (h.incompatibleFeatures & 4n) !== 0n) return `${path} keeps its data in an external file${h.dataFile ? ` (${h.dataFile})` : ''}`;
  if (h.backingFileOffset === 0) return undefined;
  if (h.backingFile === undefined) return `${path} names a backing file the daemon could not read from its header`;
  const name = backingNameVerdict(h.backingFile);
  if (name) return `${path} has ${name} as its backing file`;
  if (depth + 1 > MAX_BACKING_DEPTH) return `${path}: the backing chain is deeper than ${MAX_BACKING_DEPTH}`;
  if (h.backingFormat !== undefined && h.backingFormat !== 'qcow2' && h.backingFormat !== 'raw') return `${path}: backing format ${h.backingFormat} is neither qcow2 nor raw`;
  return undefined;
}
