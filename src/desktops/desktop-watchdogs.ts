// Booting and logging-off are bounded in time: a guest that never answers is failed or forced off. One timer per
// desktop, armed at each transition; it fires only if the desktop is still in the state (and since) it was armed in.
import type { PoolDesktopRow } from './pool-repo.js';
import type { DesktopEvent } from './lifecycle.js';

export interface WatchdogTimeouts {
  bootTimeoutMs: number;
  logoffTimeoutMs: number;
}

/** Called when a timer runs out: the desktop's name, the state and `since` it was armed in, the event, the timeout. */
export type WatchdogExpired = (name: string, armed: { state: string; since: string }, event: DesktopEvent, timeoutMs: number) => Promise<void>;

export class DesktopWatchdogs {
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly timeouts: WatchdogTimeouts, private readonly expired: WatchdogExpired) {}

  arm(row: Pick<PoolDesktopRow, 'name' | 'state' | 'since'>): void {
    this.clear(row.name);
    const timeout = row.state === 'booting' ? this.timeouts.bootTimeoutMs : row.state === 'logging-off' ? this.timeouts.logoffTimeoutMs : 0;
    if (timeout === 0) return;
    const event: DesktopEvent = row.state === 'booting' ? { type: 'boot-failed' } : { type: 'logoff-timeout' };
    const armed = { state: row.state, since: row.since };
    const timer = setTimeout(() => {
      this.timers.delete(row.name);
      void this.expired(row.name, armed, event, timeout);
    }, timeout);
    timer.unref();
    this.timers.set(row.name, timer);
  }

  clear(name: string): void {
    clearTimeout(this.timers.get(name));
    this.timers.delete(name);
  }

  clearAll(): void {
    for (const name of [...this.timers.keys()]) this.clear(name);
  }
}
