// How the VM service shows a VM (pure: its record and its QEMU here, or its agent's last report), and the reads and
// errors its verbs share: the spec checked against the contract, a QMP failure as a registry error, a screendump.
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ArdesiaError } from '../contract/errors.js';
import { type VmSpec, type VmState, type VmStatus, VmSpec as VmSpecSchema } from '../contract/vm.js';
import { TCG_WARNING } from '../hypervisor/host/index.js';
import { canPause, canReset, canUnpause } from '../hypervisor/lifecycle.js';
import { QmpError } from '../hypervisor/qmp/errors.js';
import type { VmRuntime } from '../hypervisor/vm-runtime.js';
import type { VmRecord } from '../store/vms.js';
import { remoteRuntimeView } from './remote-vm.js';

/** What runs of a VM: its QEMU of this daemon first; else, placed on another host, as its agent last reported it. */
export function vmSeen(rec: Pick<VmRecord, 'observed'>, rt: Pick<VmRuntime, 'state' | 'pid' | 'accel' | 'startedAt'> | undefined, onAnotherHost: boolean): ReturnType<typeof remoteRuntimeView> {
  if (rt) return { running: true, state: rt.state, pid: rt.pid, accel: rt.accel, startedAt: rt.startedAt };
  return onAnotherHost ? remoteRuntimeView(rec) : { running: false, state: 'stopped', pid: null, accel: null, startedAt: null };
}

/** A VM as `vm status` shows it (vmSeen). */
export function vmStatusView(rec: VmRecord, rt: VmRuntime | undefined, onAnotherHost: boolean, savedStateOn: string | null = null): VmStatus {
  const spec = rt?.spec ?? rec.spec;
  const seen = vmSeen(rec, rt, onAnotherHost);
  return {
    name: rec.name,
    state: seen.state,
    pid: seen.pid,
    accel: seen.accel,
    accelNote: seen.accel === 'tcg' ? TCG_WARNING : null,
    memoryMiB: spec.memoryMiB,
    vcpus: spec.vcpus,
    arch: spec.arch,
    owner: ownerText(spec),
    source: rec.source,
    lastStopReason: seen.running ? null : rec.lastStopReason,
    startedAt: seen.startedAt,
    hostLoss: rec.hostLoss,
    savedStateOn,
    spec,
  };
}

export function parseSpec(input: unknown): VmSpec {
  const parsed = VmSpecSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'spec'}: ${i.message}`).join('; ');
    throw new ArdesiaError('VM_SPEC_INVALID', problems, parsed.error.issues);
  }
  return parsed.data;
}

function ownerText(spec: VmSpec): string | null {
  if (!spec.owner) return null;
  return `${spec.owner.user ?? ''}${spec.owner.group ? `:${spec.owner.group}` : ''}`;
}

/** A QMP command on a running VM that failed (QEMU hung, or exiting) as a registry error naming the command and why. */
export function monitorFailed(name: string, what: string): (err: unknown) => never {
  return (err) => {
    if (err instanceof QmpError) throw new ArdesiaError('VM_MONITOR_FAILED', `vm ${name}: ${what} failed: ${err.message}`);
    throw err;
  };
}

/** A PNG of the screen of a QEMU of this host (QMP screendump into its runtime folder, read back, removed). */
export async function screendumpPng(rt: VmRuntime): Promise<Buffer> {
  const name = rt.spec.name;
  const file = join(rt.paths.dir, `screendump-${randomBytes(6).toString('hex')}.png`);
  try {
    await rt.qmp.screendump(file, 'png').catch(monitorFailed(name, 'screendump'));
    // QEMU's account owns the folder: the file is read without following a link it may have put there.
    const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      if (!(await handle.stat()).isFile()) throw new ArdesiaError('VM_MONITOR_FAILED', `vm ${name}: the screendump is not a regular file`);
      return await handle.readFile();
    } finally {
      await handle.close();
    }
  } finally {
    await rm(file, { force: true });
  }
}

/** vmctl's operations on a running QEMU: when its state allows each, and what a refusal adds to "vm NAME is STATE". */
export const RUNTIME_OPS = {
  pause: { allowed: canPause, refusal: ', not running' },
  unpause: { allowed: canUnpause, refusal: ', not paused' },
  reset: { allowed: canReset, refusal: '' },
} as const satisfies Record<string, { allowed: (s: VmState) => boolean; refusal: string }>;
export type RuntimeOp = keyof typeof RUNTIME_OPS;
