// A running pool desktop as the daemon sees it, on whichever host it runs (hypervisor/guest-vm.ts): the guest channel to
// its helper, the guest's reboots and power-offs, and the home volume hot-plugged with a known serial.
import { EventEmitter } from 'node:events';
import { GuestChannel } from '../agent/guest-channel.js';
import { type AssignMessage, type ClipboardAgentState, type GuestToHostMessage } from '../contract/guest.js';
import type { DesktopEvent } from './lifecycle.js';
import { KeyboardLayout } from '../contract/users.js';
import type { GuestVm } from '../hypervisor/guest-vm.js';
import { HOME_DISK_SERIAL } from './service.js';

/** The home as every desktop's VM has it hot-plugged (a migration plugs it the same way into the destination). */
export const HOME_DISK = { node: 'home0', device: 'home0', serial: HOME_DISK_SERIAL };
export const UNPLUG_TIMEOUT_MS = 15_000;
/** A guest channel through an agent is redialled less eagerly than a local socket (each try is a stream over the link). */
const REMOTE_RECONNECT_MS = 1000;
/** At most this long between dials that keep failing (the agent refuses: it no longer has the VM): within the wait a
 *  step gives a redial after a relink (GUEST_REDIAL_WAIT_MS, 10 s). */
const REMOTE_RECONNECT_CAP_MS = 4000;

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
  private closed = false;
  private clipboard = false;
  private readonly unsubscribe: () => void;

  constructor(private readonly vm: GuestVm, name: string) {
    super();
    this.channel = new GuestChannel(name, { connectSocket: () => vm.connectGuest(), ...(vm.host ? { reconnectDelayMs: REMOTE_RECONNECT_MS, reconnectCapMs: REMOTE_RECONNECT_CAP_MS } : {}) }).open();
    this.channel.on('message', (message) => {
      const ready = clipboardReadyAfter(this.clipboard, message);
      if (ready !== this.clipboard) {
        this.clipboard = ready;
        this.emit('clipboard', ready);
      }
      this.emit('signal', { kind: 'message', message });
    });
    this.unsubscribe = vm.onEvent((e) => {
      if (e.kind === 'exited') this.close();
      this.emit('signal', e);
    });
  }

  /** Once the guest channel is connected, or after `withinMs`: whether it is. A live migration waits for it (the
   *  channel's socket connecting in the moment a migration began failed the state's load at the destination here). */
  channelSettled(withinMs: number): Promise<boolean> {
    if (this.channel.isConnected) return Promise.resolve(true);
    return new Promise((resolve) => {
      const connected = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.channel.off('connected', connected);
        resolve(this.channel.isConnected);
      }, withinMs);
      this.channel.once('connected', connected);
    });
  }

  /** QEMU's pid: the holder of the home's sanlock lease (serve --home-leases sanlock). */
  get pid(): number {
    return this.vm.pid;
  }

  /** The host the desktop runs on, or undefined for the controller's own. */
  get host(): string | undefined {
    return this.vm.host;
  }

  async plugHome(path: string): Promise<void> {
    if (this.homePlugged) return;
    await this.vm.plugDisk({ ...HOME_DISK, path });
    this.homePlugged = true;
  }

  /** device_del needs the guest's consent (ACPI/PCIe hot-plug): false when it did not let go in time. */
  async unplugHome(timeoutMs = UNPLUG_TIMEOUT_MS): Promise<boolean> {
    if (!this.homePlugged) return true;
    if (!(await this.vm.unplugDisk(HOME_DISK, timeoutMs))) return false;
    this.homePlugged = false;
    return true;
  }

  /** A crash-consistent copy of the plugged home into `target`, made by its QEMU's host; false when no home is plugged. */
  async copyHome(target: string, sizeBytes: number): Promise<boolean> {
    if (!this.homePlugged) return false;
    await this.vm.copyDisk(HOME_DISK.node, target, sizeBytes);
    return true;
  }

  /** After a daemon restart: is a home volume plugged in already? */
  async adoptHome(): Promise<void> {
    this.homePlugged = await this.vm.diskPlugged(HOME_DISK.device);
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
    this.unsubscribe();
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
