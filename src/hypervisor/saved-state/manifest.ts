// A saved VM state (QEMU's migration stream of a paused VM) and its manifest: what the restoring launch
// must be identical in, and the sha256 of the stream. Pure: fingerprints, checks and the wire header.
// QEMU loads a stream only into an identical machine (same build, machine type, memory, devices in the
// same order), and the guest's disks must be exactly as they were when it was paused, or its file
// systems are corrupted: both are checked here BEFORE a QEMU is started.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

export const SAVED_STATE_FORMAT = 1;
/** The first line of a state sent over the wire (`vm send`): the magic, then one JSON line, then the stream. */
export const SAVED_STATE_MAGIC = 'ARDESIA-VM-STATE/1';
/** The manifest line's size limit: a header longer than this is no Ardesia state. */
export const SAVED_STATE_HEADER_MAX_BYTES = 64 * 1024;

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/);

/** One disk as it was when the VM was paused: a writable one by its content, a read-only one by size and mtime. */
export const SavedDisk = z.object({
  index: z.number().int().min(0),
  path: z.string(),
  writable: z.boolean(),
  sizeBytes: z.number().int().min(0),
  sha256: Sha256.optional(),
  mtimeMs: z.number().optional(),
}).strict();
export type SavedDisk = z.infer<typeof SavedDisk>;

export const SavedStateManifest = z.object({
  format: z.literal(SAVED_STATE_FORMAT),
  vm: z.string(),
  savedAt: z.string(),
  /** QEMU's version as `qemu-system-* --version` prints it ("7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)"). */
  qemuVersion: z.string(),
  machine: z.string(),
  memoryMiB: z.number().int(),
  vcpus: z.number().int(),
  accel: z.enum(['kvm', 'tcg']),
  /** sha256 of the launch's normalised argv (launchFingerprint): devices, their order and options. */
  launchSha256: Sha256,
  disks: z.array(SavedDisk),
  state: z.object({ bytes: z.number().int().min(0), sha256: Sha256 }).strict(),
  /** HMAC-SHA256 of the rest with the site's key (stateSeal): a VM owner may receive only a sealed state. */
  seal: Sha256.optional(),
}).strict();
export type SavedStateManifest = z.infer<typeof SavedStateManifest>;

/** JSON with keys sorted at every level: the bytes a seal covers do not depend on how the manifest was built. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The seal of a manifest (every field but the seal itself, the stream's sha256 included) under the site's key. */
export function stateSeal(manifest: SavedStateManifest, key: Buffer): string {
  const { seal: _seal, ...sealed } = manifest;
  return createHmac('sha256', key).update(canonicalJson(sealed)).digest('hex');
}

/** Whether the manifest carries this site's seal (compared in constant time). */
export function stateSealValid(manifest: SavedStateManifest, key: Buffer): boolean {
  if (manifest.seal === undefined) return false;
  const want = Buffer.from(stateSeal(manifest, key), 'hex');
  const got = Buffer.from(manifest.seal, 'hex');
  return got.length === want.length && timingSafeEqual(got, want);
}

/** What a restore would launch now, in the manifest's terms (state aside). */
export type LaunchIdentity = Omit<SavedStateManifest, 'format' | 'vm' | 'savedAt' | 'state'>;

export interface LaunchArgv {
  binary: string;
  args: readonly string[];
  /** The VM's name and runtime folder: a state may be received under another name. */
  vm: string;
  runtimeDir: string;
}

/**
 * The argv with what may differ between two identical machines made neutral: `-incoming`, the VM's name and
 * runtime folder, and a SPICE port picked at each start. Everything else (devices, order, options) counts.
 */
export function normalisedArgv(launch: LaunchArgv): string[] {
  const out: string[] = [launch.binary.replace(/^.*\//, '')];
  for (let i = 0; i < launch.args.length; i++) {
    const arg = launch.args[i]!;
    if (arg === '-incoming') {
      i++;
      continue;
    }
    let norm = arg.split(launch.runtimeDir).join('<runtime>');
    if (launch.args[i - 1] === '-name') norm = norm.replace(`guest=${launch.vm}`, 'guest=<vm>');
    if (launch.args[i - 1] === '-spice') norm = norm.replace(/\b(tls-)?port=\d+/g, '$1port=<port>');
    out.push(norm);
  }
  return out;
}

export function launchFingerprint(launch: LaunchArgv): string {
  return createHash('sha256').update(normalisedArgv(launch).join('\0')).digest('hex');
}

/** query-version's answer as `qemu-system-* --version` prints it (the host check's form): "7.2.22 (Debian …)". */
export function qemuVersionText(v: { qemu: { major: number; minor: number; micro: number }; package: string }): string {
  const pkg = v.package.trim();
  return `${v.qemu.major}.${v.qemu.minor}.${v.qemu.micro}${pkg ? ` (${pkg})` : ''}`;
}

/** The machine type of an argv (`-machine q35,…` → q35); 'unknown' when none is given. */
export function machineOf(args: readonly string[]): string {
  const at = args.indexOf('-machine');
  return at >= 0 ? (args[at + 1] ?? '').split(',')[0]! || 'unknown' : 'unknown';
}

/** The machine a memory image was taken from, as far as a restore must match it. */
export interface MachineShape {
  qemuVersion: string;
  machine: string;
  memoryMiB: number;
  vcpus: number;
  accel: 'kvm' | 'tcg';
}

/** How the machine `is` differs from the one a memory image was taken from (`was`), one line per difference. */
export function machineShapeProblems(was: MachineShape, is: MachineShape): string[] {
  const fields: [string, keyof MachineShape][] = [['QEMU version', 'qemuVersion'], ['machine type', 'machine'], ['memory (MiB)', 'memoryMiB'], ['vCPUs', 'vcpus'], ['accelerator', 'accel']];
  return fields.filter(([, key]) => was[key] !== is[key]).map(([what, key]) => `${what} was ${String(was[key])}, is ${String(is[key])}`);
}

/**
 * Why a saved state cannot be restored into the launch `now` with the disks `disks` (empty: it can). Every
 * difference is listed, so one refusal says all that must change.
 */
export function savedStateProblems(saved: SavedStateManifest, now: LaunchIdentity): string[] {
  const problems = machineShapeProblems(saved, now);
  if (saved.launchSha256 !== now.launchSha256) problems.push('the devices or their options differ (the launch fingerprint changed)');
  if (saved.disks.length !== now.disks.length) problems.push(`the VM had ${saved.disks.length} disk(s), has ${now.disks.length}`);
  for (const was of saved.disks) {
    const is = now.disks.find((d) => d.index === was.index);
    if (!is) continue;
    if (was.writable !== is.writable) problems.push(`disk ${was.index} was ${was.writable ? 'writable' : 'read-only'}, is not`);
    else if (was.sizeBytes !== is.sizeBytes || was.sha256 !== is.sha256 || was.mtimeMs !== is.mtimeMs) {
      problems.push(`disk ${was.index} (${is.path}) changed since the state was saved`);
    }
  }
  return problems;
}

/** The header sent before the stream: magic line, manifest line. */
export function savedStateHeader(manifest: SavedStateManifest): Buffer {
  return Buffer.from(`${SAVED_STATE_MAGIC}\n${JSON.stringify(manifest)}\n`, 'utf8');
}

export type HeaderParse =
  | { kind: 'more' }
  | { kind: 'invalid'; problem: string }
  | { kind: 'header'; manifest: SavedStateManifest; length: number };

/** Reads the header from the first bytes of a sent state; 'more' until both lines are there. */
export function savedStateHeaderParse(head: Buffer): HeaderParse {
  const magic = Buffer.from(`${SAVED_STATE_MAGIC}\n`);
  const prefix = head.subarray(0, Math.min(head.length, magic.length));
  if (!prefix.equals(magic.subarray(0, prefix.length))) return { kind: 'invalid', problem: 'it does not start as an Ardesia VM state (ardesia vm send writes one)' };
  const end = head.indexOf(0x0a, magic.length);
  if (end < 0) {
    return head.length > SAVED_STATE_HEADER_MAX_BYTES ? { kind: 'invalid', problem: 'its manifest line is too long' } : { kind: 'more' };
  }
  let json: unknown;
  try {
    json = JSON.parse(head.subarray(magic.length, end).toString('utf8'));
  } catch {
    return { kind: 'invalid', problem: 'its manifest is not JSON' };
  }
  const parsed = SavedStateManifest.safeParse(json);
  if (!parsed.success) return { kind: 'invalid', problem: `its manifest is not valid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}` };
  return { kind: 'header', manifest: parsed.data, length: end + 1 };
}
