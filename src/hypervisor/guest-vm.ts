// A running VM as the desktop layer drives it, wherever it runs: a byte stream to its guest channel's socket, disks
// hot-plugged by QMP (the file handed over as an fd: QEMU opens nothing by name), and the guest's reboots, power-offs
// and the VM's exit. localGuestVm is a QEMU of this process; an agent's host has its own (cluster/remote-desktop-vms.ts).
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import { hotplugBus } from './qemu/argv.js';
import { handFileToQemu } from './qemu/hand-file.js';
import { diskCopyRunning } from './disk-copy.js';
import type { VmRuntime } from './vm-runtime.js';

/** A disk plugged into a running VM: its file, the block node and device ids, and the serial the guest finds it by. */
export interface HotplugDisk {
  path: string;
  node: string;
  device: string;
  serial: string;
}

export type GuestVmEvent = { kind: 'guest-reset' } | { kind: 'guest-shutdown' } | { kind: 'exited'; reason: string };

export interface GuestVm {
  /** QEMU's pid on its host. */
  readonly pid: number;
  /** The host it runs on, or undefined for this process's own. */
  readonly host: string | undefined;
  /** A byte stream to the guest channel's socket: emits 'connect' once open, 'close' when it ends (reconnect then). */
  connectGuest(): Duplex;
  /** blockdev-add + device_add; both undone when the device cannot be added. */
  plugDisk(disk: HotplugDisk): Promise<void>;
  /** device_del needs the guest's consent: false when it did not let go within timeoutMs. */
  unplugDisk(disk: Pick<HotplugDisk, 'node' | 'device'>, timeoutMs: number): Promise<boolean>;
  /** Whether a device with this id is plugged in (after a daemon restart). */
  diskPlugged(device: string): Promise<boolean>;
  /** Follows the guest's reboots and power-offs and the VM's exit; returns the unsubscribe. */
  onEvent(listener: (e: GuestVmEvent) => void): () => void;
  /** A crash-consistent copy of the plugged disk `node` into a new qcow2 at `target` (disk-copy.ts), made on the VM's own
   *  host: `target` is on the shared data folder for a VM on another host. */
  copyDisk(node: string, target: string, sizeBytes: number): Promise<void>;
}

/** The hot-plugged disks' fdsets, per QEMU: removed after blockdev-del. */
const fdsets = new WeakMap<VmRuntime, Map<string, number>>();

export async function diskPlug(runtime: VmRuntime, disk: HotplugDisk): Promise<void> {
  const qmp = runtime.qmp;
  const fdset = await handFileToQemu(runtime.paths.qmpFd, disk.path, true);
  try {
    await qmp.blockdevAdd({ driver: 'qcow2', 'node-name': disk.node, file: { driver: 'file', filename: `/dev/fdset/${fdset}` } });
  } catch (err) {
    await qmp.removeFd(fdset).catch(() => undefined);
    throw err;
  }
  try {
    const bus = hotplugBus(runtime.spec.boot.firmware === 'uefi' ? 'q35' : 'pc');
    await qmp.deviceAdd({ driver: 'virtio-blk-pci', id: disk.device, drive: disk.node, serial: disk.serial, ...(bus ? { bus } : {}) });
  } catch (err) {
    await qmp.blockdevDel(disk.node).catch(() => undefined);
    await qmp.removeFd(fdset).catch(() => undefined);
    throw err;
  }
  const held = fdsets.get(runtime) ?? new Map<string, number>();
  held.set(disk.node, fdset);
  fdsets.set(runtime, held);
}

export async function diskUnplug(runtime: VmRuntime, disk: Pick<HotplugDisk, 'node' | 'device'>, timeoutMs: number): Promise<boolean> {
  const qmp = runtime.qmp;
  const deleted = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => finish(false), timeoutMs);
    const onEvent = (ev: { event: string; data?: Record<string, unknown> }) => {
      if (ev.event === 'DEVICE_DELETED' && ev.data?.device === disk.device) finish(true);
    };
    const finish = (ok: boolean) => {
      clearTimeout(timer);
      runtime.off('event', onEvent);
      resolve(ok);
    };
    runtime.on('event', onEvent);
  });
  await qmp.deviceDel(disk.device);
  if (!(await deleted)) return false;
  await qmp.blockdevDel(disk.node);
  const fdset = fdsets.get(runtime)?.get(disk.node);
  if (fdset !== undefined) await qmp.removeFd(fdset).catch(() => undefined);
  fdsets.get(runtime)?.delete(disk.node);
  return true;
}

export async function diskPlugged(runtime: VmRuntime, device: string): Promise<boolean> {
  const blocks = await runtime.qmp.queryBlock();
  return blocks.some((b) => (b as { qdev?: string }).qdev?.includes(`/${device}/`) ?? false);
}

/** The guest's own reboot or power-off (QMP RESET / SHUTDOWN with guest=true), or undefined for any other event. */
export function guestEventOfQmp(ev: { event: string; data?: Record<string, unknown> }): 'guest-reset' | 'guest-shutdown' | undefined {
  if (ev.data?.guest !== true) return undefined;
  return ev.event === 'RESET' ? 'guest-reset' : ev.event === 'SHUTDOWN' ? 'guest-shutdown' : undefined;
}

/** A QEMU of this process. */
export function localGuestVm(runtime: VmRuntime): GuestVm {
  return {
    pid: runtime.pid,
    host: undefined,
    copyDisk: (node, target, sizeBytes) => diskCopyRunning(runtime, node, target, sizeBytes),
    connectGuest: () => connect(runtime.paths.guest),
    plugDisk: (disk) => diskPlug(runtime, disk),
    unplugDisk: (disk, timeoutMs) => diskUnplug(runtime, disk, timeoutMs),
    diskPlugged: (device) => diskPlugged(runtime, device),
    onEvent(listener) {
      const onQmp = (ev: { event: string; data?: Record<string, unknown> }) => {
        const kind = guestEventOfQmp(ev);
        if (kind) listener({ kind });
      };
      const onExit = (reason: string) => listener({ kind: 'exited', reason });
      runtime.on('event', onQmp);
      runtime.once('exited', onExit);
      return () => {
        runtime.off('event', onQmp);
        runtime.off('exited', onExit);
      };
    },
  };
}
