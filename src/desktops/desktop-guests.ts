// The guest helpers of running pool desktops: one DesktopGuest per VM, its messages within a budget, and what they
// mean for the desktop's lifecycle (an event, a login stage, the clipboard), handed to the machine through a sink.
import type { Logger } from 'pino';
import { GuestBudget, GUEST_MESSAGE_BUDGET, guestTextForLog } from '../agent/guest-budget.js';
import type { GuestVm } from '../hypervisor/guest-vm.js';
import { DesktopGuest, guestEventOf, type GuestSignal } from './desktop-guest.js';
import type { DesktopEvent } from './lifecycle.js';

/** Where the guests' news goes (pool-machine.ts). */
export interface GuestSink {
  event(name: string, event: DesktopEvent): void;
  /** The VM exited, with QEMU's reason. */
  exited(name: string, reason: string): void;
  loginStage(name: string, stage: 'home-mounted'): void;
  sessionStarted(name: string): void;
  clipboard(name: string, ready: boolean): void;
}

export class DesktopGuests {
  private readonly guests = new Map<string, DesktopGuest>();
  /** Watches whose VM is still being looked up: a second watch meanwhile gets the same guest. */
  private readonly pending = new Map<string, Promise<DesktopGuest | undefined>>();
  /** Desktops moving live, with their source QEMU's exit once seen. */
  private readonly exitsWhileMoving = new Map<string, string | undefined>();

  constructor(
    /** The running VM, on this host or an agent's; undefined when it does not run. */
    private readonly vmOf: (name: string) => Promise<GuestVm | undefined>,
    private readonly log: Logger,
    private readonly sink: GuestSink,
  ) {}

  get(name: string): DesktopGuest | undefined {
    return this.guests.get(name);
  }

  has(name: string): boolean {
    return this.guests.has(name);
  }

  /** The desktop's guest, followed from now on (messages, reboots and shutdowns, the exit); undefined when its VM is not running. */
  async watch(name: string): Promise<DesktopGuest | undefined> {
    const existing = this.guests.get(name);
    if (existing) return existing;
    const looking = this.pending.get(name) ?? this.lookUp(name);
    this.pending.set(name, looking);
    return looking.finally(() => this.pending.delete(name));
  }

  private async lookUp(name: string): Promise<DesktopGuest | undefined> {
    const vm = await this.vmOf(name);
    if (!vm) return undefined;
    const guest = new DesktopGuest(vm, name);
    this.guests.set(name, guest);
    const budget = new GuestBudget(GUEST_MESSAGE_BUDGET, Date.now());
    // Only the guest's own messages are budgeted (clipboard changes too): QMP events and the exit come from QEMU.
    const withinBudget = (): boolean => {
      const taken = budget.take(Date.now());
      if (!taken.accepted) {
        if (taken.firstRefused) this.log.warn({ desktop: name }, `guest of ${name} sends messages too fast; ignoring them until it slows down`);
        return false;
      }
      if (taken.refusedBefore > 0) this.log.warn({ desktop: name, ignored: taken.refusedBefore }, `guest of ${name}: ${taken.refusedBefore} messages were ignored`);
      return true;
    };
    guest.on('signal', (signal) => {
      if (signal.kind === 'message' && !withinBudget()) return;
      this.onSignal(name, guest, signal);
    });
    guest.on('clipboard', (ready) => {
      if (!withinBudget()) return;
      this.log.info({ desktop: name }, `the clipboard agent of ${name} is ${ready ? 'ready' : 'not ready'}`);
      this.sink.clipboard(name, ready);
    });
    return guest;
  }

  /** Runs a live migration of the desktop (desktop-migration.ts): its source QEMU's exit meanwhile is the hand-off,
   *  not the desktop's end, unless the move fails (then it is passed on after). */
  async whileMoving<T>(name: string, move: () => Promise<T>): Promise<T> {
    this.exitsWhileMoving.set(name, undefined);
    let moved = false;
    try {
      const result = await move();
      moved = true;
      return result;
    } finally {
      const exit = this.exitsWhileMoving.get(name);
      this.exitsWhileMoving.delete(name);
      if (!moved && exit !== undefined) this.sink.exited(name, exit);
    }
  }

  /** The desktop is gone (retired): its guest is closed and forgotten. */
  forget(name: string): void {
    this.guests.get(name)?.close();
    this.guests.delete(name);
  }

  closeAll(): void {
    for (const guest of this.guests.values()) guest.close();
    this.guests.clear();
  }

  private onSignal(name: string, guest: DesktopGuest, signal: GuestSignal): void {
    if (signal.kind === 'exited') {
      if (this.guests.get(name) === guest) this.guests.delete(name);
      if (this.exitsWhileMoving.has(name)) return void this.exitsWhileMoving.set(name, signal.reason);
      return this.sink.exited(name, signal.reason);
    }
    if (signal.kind === 'guest-reset') return this.sink.event(name, { type: 'guest-reboot' });
    if (signal.kind === 'guest-shutdown') return this.sink.event(name, { type: 'guest-shutdown' });
    const event = guestEventOf(signal.message);
    if (signal.message.type === 'home-mounted') this.sink.loginStage(name, 'home-mounted');
    if (signal.message.type === 'session-started') this.sink.sessionStarted(name);
    if (signal.message.type === 'error') this.log.warn({ desktop: name }, `guest helper of ${name}: ${guestTextForLog(signal.message.message)}`);
    if (event) this.sink.event(name, event);
  }
}
