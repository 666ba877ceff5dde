// A restore template: the saved state of one booted desktop (paused at its guest helper's `ready`) and its frozen
// overlay, from which clones start. Pure: the template's key, its manifest, and why a clone cannot load it.
// A clone differs from the template only in its block graph (its own overlay on the template's, so one more
// backing node and other fdset numbers): the migration stream holds devices and RAM, never block nodes, so the
// devices fingerprint leaves -blockdev/-add-fd out and everything else must be identical.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { type LaunchArgv, type MachineShape, machineShapeProblems, normalisedArgv } from './manifest.js';
import { withoutSharedRam } from './shared-ram.js';

/** 2: the RAM is a shared memfd saved apart (ram.bin), the state holds only the devices; 1 is rebuilt. */
export const TEMPLATE_FORMAT = 2;
const Sha256 = z.string().regex(/^[0-9a-f]{64}$/);

/** What a template depends on: any change makes another template (the old one is removed once unused). */
export interface TemplateKeyParts {
  image: string;
  version: number;
  /** The gold version's sha256: a re-imported version with the same number is another template. */
  versionSha256: string;
  memoryMiB: number;
  vcpus: number;
  /** The VM's devices as the pool sets them (display, network), in the desktop spec's terms. */
  devices: unknown;
  qemuVersion: string;
  accel: 'kvm' | 'tcg';
}

export function templateKey(parts: TemplateKeyParts): string {
  const ordered = [parts.image, parts.version, parts.versionSha256, parts.memoryMiB, parts.vcpus, JSON.stringify(parts.devices), parts.qemuVersion, parts.accel];
  return createHash('sha256').update(JSON.stringify(ordered)).digest('hex').slice(0, 16);
}

export const TemplateManifest = z.object({
  format: z.literal(TEMPLATE_FORMAT),
  key: z.string().regex(/^[0-9a-f]{16}$/),
  image: z.string(),
  version: z.number().int(),
  savedAt: z.string(),
  qemuVersion: z.string(),
  machine: z.string(),
  memoryMiB: z.number().int(),
  vcpus: z.number().int(),
  accel: z.enum(['kvm', 'tcg']),
  /** sha256 of the launch's argv without its block graph (templateDevicesFingerprint). */
  devicesSha256: Sha256,
  /** The frozen overlay every clone's overlay is backed by, and its sha256 when the state was saved. */
  overlay: z.object({ path: z.string(), bytes: z.number().int().min(0), sha256: Sha256 }).strict(),
  state: z.object({ bytes: z.number().int().min(0), sha256: Sha256 }).strict(),
  /** The guest RAM every clone maps privately (shared-ram.ts), as saved in ram.bin. */
  ram: z.object({ bytes: z.number().int().min(0), sha256: Sha256 }).strict(),
  /** boot → guest helper `ready`, and the save, in ms: the figures README and the benchmark quote. */
  bootMs: z.number().int().min(0),
  saveMs: z.number().int().min(0),
  /** The guest kernel's CONFIG_VMGENID as its helper read it: unknown when the guest has no kernel config to read. */
  kernelVmgenid: z.enum(['yes', 'unknown']),
}).strict();
export type TemplateManifest = z.infer<typeof TemplateManifest>;

/** The argv as in manifest.ts's normalisedArgv, without the block graph (-blockdev, -add-fd, fdset numbers) and the shared RAM's backend. */
export function templateDevicesArgv(launch: LaunchArgv): string[] {
  const argv = withoutSharedRam(normalisedArgv(launch));
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '-blockdev' || argv[i] === '-add-fd') {
      i++;
      continue;
    }
    out.push(argv[i]!.replace(/\/dev\/fdset\/\d+/g, '/dev/fdset/<n>').replace(/\/proc\/self\/fd\/\d+/g, '/proc/self/fd/<n>'));
  }
  return out;
}

export function templateDevicesFingerprint(launch: LaunchArgv): string {
  return createHash('sha256').update(templateDevicesArgv(launch).join('\0')).digest('hex');
}

/** A clone's launch in the manifest's terms: its machine, and the first backing image of its system disk. */
export interface CloneIdentity extends MachineShape {
  devicesSha256: string;
  /** The image directly below the clone's system overlay (its header's backing file). */
  backing: string | undefined;
}

/** Why a clone cannot load the template (empty: it can); every difference listed. The files' sha256 are checked apart. */
export function templateCloneProblems(t: TemplateManifest, clone: CloneIdentity): string[] {
  const problems = machineShapeProblems(t, clone);
  if (t.devicesSha256 !== clone.devicesSha256) problems.push('the devices or their options differ from the template\'s (the devices fingerprint changed)');
  if (clone.backing !== t.overlay.path) problems.push(`the system disk is backed by ${clone.backing ?? 'nothing'}, not by the template's overlay ${t.overlay.path}`);
  return problems;
}

/** A template a VM is to start from: its manifest and state file (both checked by the caller before). */
export interface TemplateToLoad {
  manifest: TemplateManifest;
  stream: string;
  /** The template's sealed RAM memfd as the daemon opens it (/proc/HOLDER/fd/N, shared-ram.ts). */
  ram: string;
  /** ram.bin, the RAM as saved: what another host loads into a memfd of its own. */
  ramFile: string;
}
