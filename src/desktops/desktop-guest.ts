// A running pool desktop as the host sees it: the guest channel to its helper, the QMP events that
// matter to the lifecycle, and the home volume hot-plugged over QMP with a known serial.
import { EventEmitter } from 'node:events';
import { GuestChannel } from '../agent/guest-channel.js';
import { type AssignMessage, type ClipboardAgentState, type GuestToHostMessage } from '../contract/guest.js';
import type { DesktopEvent } from './lifecycle.js';
import { KeyboardLayout } from '../contract/users.js';
import type { VmRuntime } from '../hypervisor/vm-runtime.js';
import { hotplugBus } from '../hypervisor/qemu/argv.js';
import { handFileToQemu } from '../hypervisor/qemu/hand-file.js';
import { HOME_DISK_SERIAL } from './service.js';
import { homeCopyRunning } from './home-copy.js';

const HOME_NODE = 'home0';
const HOME_DEVICE = 'home0';
export const UNPLUG_TIMEOUT_MS = 15_000;

/** What the lifecycle hears from a running desktop, already translated into its own words. */
export type GuestSignal =
  | { kind: 'message'; message: GuestToHostMessage }
  | { kind: 'guest-reset' } // QMP RESET caused by the guest (a reboot)
  | { kind: 'guest-shutdown' } // QMP SHUTDOWN caused by the guest
  | { kind: 'exited'; reason: string };

export interface DesktopGuestEvents {
  signal: [GuestSignal];
  /** The session's clipboard agent came up (true) or went away (false). */
  clipboard: [boolean];
}

export class DesktopGuest extends EventEmitter<DesktopGuestEvents> {
  readonly channel: GuestChannel;
  private homePlugged = false;
  /** The fdset the home was handed in (QMP add-fd), closed after blockdev-del. */
  private homeFdset: number | undefined;
  private closed = false;
  private clipboard = false;

  constructor(private readonly runtime: VmRuntime) {
    super();
    this.channel = new GuestChannel(runtime.paths.guest).open();
    this.channel.on('message', (message) => {
      const ready = clipboardReadyAfter(this.clipboard, message);
      if (ready !== this.clipboard) {
        this.clipboard = ready;
        this.emit('clipboard', ready);
      }
      this.emit('signal', { kind: 'message', message });
    });
    runtime.on('event', this.onQmpEvent);
    runtime.once('exited', this.onExit);
  }

  private readonly onQmpEvent = (ev: { event: string; data?: Record<string, unknown> }): void => {
    if (ev.data?.guest !== true) return;
    if (ev.event === 'RESET') this.emit('signal', { kind: 'guest-reset' });
    if (ev.event === 'SHUTDOWN') this.emit('signal', { kind: 'guest-shutdown' });
  };

  private readonly onExit = (reason: string): void => {
    this.close();
    this.emit('signal', { kind: 'exited', reason });
  };

  /** QEMU's pid: the holder of the home's sanlock lease (serve --home-leases sanlock). */
  get pid(): number {
    return this.runtime.pid;
  }

  get machine(): 'q35' | 'pc' {
    return this.runtime.spec.boot.firmware === 'uefi' ? 'q35' : 'pc';
  }

  /** blockdev-add + device_add with the serial the helper looks for; undone if the device cannot be added. */
  async plugHome(path: string): Promise<void> {
    if (this.homePlugged) return;
    const qmp = this.runtime.qmp;
    // QEMU runs unprivileged: the daemon opens the home and hands it over; QEMU opens no file by name.
    const fdset = await handFileToQemu(this.runtime.paths.qmpFd, path, true);
    try {
      await qmp.blockdevAdd({ driver: 'qcow2', 'node-name': HOME_NODE, file: { driver: 'file', filename: `/dev/fdset/${fdset}` } });
    } catch (err) {
      await qmp.removeFd(fdset).catch(() => undefined);
      throw err;
    }
    try {
      const bus = hotplugBus(this.machine);
      await qmp.deviceAdd({ driver: 'virtio-blk-pci', id: HOME_DEVICE, drive: HOME_NODE, serial: HOME_DISK_SERIAL, ...(bus ? { bus } : {}) });
    } catch (err) {
      await qmp.blockdevDel(HOME_NODE).catch(() => undefined);
      await qmp.removeFd(fdset).catch(() => undefined);
      throw err;
    }
    this.homeFdset = fdset;
    this.homePlugged = true;
  }

  /** device_del needs the guest's consent (ACPI/PCIe hot-plug): false when it did not let go in time. */
  async unplugHome(timeoutMs = UNPLUG_TIMEOUT_MS): Promise<boolean> {
    if (!this.homePlugged) return true;
    const qmp = this.runtime.qmp;
    const deleted = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => finish(false), timeoutMs);
      const onEvent = (ev: { event: string; data?: Record<string, unknown> }) => {
        if (ev.event === 'DEVICE_DELETED' && ev.data?.device === HOME_DEVICE) finish(true);
      };
      const finish = (ok: boolean) => {
        clearTimeout(timer);
        this.runtime.off('event', onEvent);
        resolve(ok);
      };
      this.runtime.on('event', onEvent);
    });
    await qmp.deviceDel(HOME_DEVICE);
    if (!(await deleted)) return false;
    await qmp.blockdevDel(HOME_NODE);
    if (this.homeFdset !== undefined) await qmp.removeFd(this.homeFdset).catch(() => undefined);
    this.homeFdset = undefined;
    this.homePlugged = false;
    return true;
  }

  /** A crash-consistent copy of the plugged home into `target` (home-copy.ts); false when no home is plugged. */
  async copyHome(target: string, sizeBytes: number): Promise<boolean> {
    if (!this.homePlugged) return false;
    await homeCopyRunning(this.runtime, HOME_NODE, target, sizeBytes);
    return true;
  }

  /** After a daemon restart: is a home volume plugged in already? */
  async adoptHome(): Promise<void> {
    const blocks = await this.runtime.qmp.queryBlock();
    this.homePlugged = blocks.some((b) => (b as { qdev?: string }).qdev?.includes(`/${HOME_DEVICE}/`) ?? false);
  }

  /** The guest's clipboard agent is up in the current session (a paste sent now reaches it). */
  get clipboardReady(): boolean {
    return this.clipboard;
  }

  get hasHome(): boolean {
    return this.homePlugged;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.channel.close();
    this.runtime.off('event', this.onQmpEvent);
    this.runtime.off('exited', this.onExit);
  }
}

/** A stable uid for a user in every desktop (files on the home volume keep their owner): 10000–59999. */
export function guestUid(user: string): number {
  let h = 0x811c9dc5;
  for (const ch of Buffer.from(user)) h = Math.imul(h ^ ch, 0x01000193) >>> 0;
  return 10_000 + (h % 50_000);
}

/** The assign message for `user`; a keyboard layout the users contract would refuse is left out (the guest keeps its default). */
export function assignMessage(user: string, keyboardLayout: string | null | undefined): AssignMessage {
  const layout = KeyboardLayout.safeParse(keyboardLayout);
  return { type: 'assign', user, uid: guestUid(user), homeSerial: HOME_DISK_SERIAL, ...(layout.success ? { keyboardLayout: layout.data } : {}) };
}

const READY: Record<ClipboardAgentState, boolean> = { ready: true, waiting: false };

/** Whether the session's clipboard agent is up after `message` (pure): a session starting or ending has none yet. */
export function clipboardReadyAfter(before: boolean, message: GuestToHostMessage): boolean {
  switch (message.type) {
    case 'clipboard':
      return READY[message.state];
    case 'pong':
      return message.user !== undefined && message.clipboard !== undefined ? READY[message.clipboard] : message.user === undefined ? false : before;
    case 'ready':
    case 'session-started':
    case 'session-ended':
      return false;
    case 'error':
    case 'home-mounted':
      return before;
  }
}

/** The lifecycle event a guest helper message stands for. */
export function guestEventOf(message: GuestToHostMessage): DesktopEvent | undefined {
  switch (message.type) {
    case 'ready':
      return { type: 'guest-ready' };
    case 'session-started':
      return { type: 'session-started' };
    case 'session-ended':
      return message.reason === 'logoff' ? { type: 'session-ended' } : message.reason === 'reboot' ? { type: 'guest-reboot' } : { type: 'guest-shutdown' };
    case 'pong': // the answer to the ping after a daemon restart: what the helper is doing now
      return message.user === undefined ? { type: 'guest-ready' } : { type: 'session-started' };
    case 'error':
    case 'home-mounted':
      return undefined;
  }
}
