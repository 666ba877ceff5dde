// Who may view a desktop's display: pool desktops (the session's user, or an admin) first, then standalone
// desktops and plain VMs. Display clients of pool desktops drive the lifecycle (connected ⇄ disconnected).
import type { Principal } from '../contract/users.js';
import type { DisplayEnd } from '../contract/display.js';
import { ArdesiaError } from '../contract/errors.js';
import type { DisplayAccess, DisplayClient, StandaloneDisplayAccess } from '../gateway/access.js';
import { isInSession } from './lifecycle.js';
import type { PoolService } from './pools.js';

/** How long a user whose desktop's host was lost is told so by a display ticket (a portal reconnecting meanwhile). */
const LOST_NOTICE_MS = 15 * 60_000;

export class DesktopDisplayAccess implements DisplayAccess {
  private readonly poolDesktops = new Set<string>();
  private readonly closers = new Map<string, Set<(end: DisplayEnd) => void>>();
  /** Desktops whose host was lost under a user's session, for a while: that user's next ticket is told so. */
  private readonly lostUnder = new Map<string, { user: string; at: number }>();
  /** Desktops last seen in a session that is not ending: leaving it ends their displays. */
  private readonly liveSessions = new Set<string>();

  constructor(
    private readonly pools: PoolService,
    private readonly standalone: StandaloneDisplayAccess,
  ) {
    pools.on('display-end', (desktop, end) => this.end(desktop, end));
    // The lifecycle closes display clients only on its idle timeout (in-use → disconnected).
    pools.machine.on('disconnect-clients', (desktop) => this.end(desktop, 'idle'));
    // Before the session's end below: the portal tells its user the server stopped, and opens a new desktop. A portal
    // whose display had already dropped (the link went first) learns it from its next ticket.
    pools.machine.on('host-lost', (desktop, user) => {
      this.end(desktop, 'host-lost');
      const now = Date.now();
      for (const [d, l] of this.lostUnder) if (now - l.at > LOST_NOTICE_MS) this.lostUnder.delete(d);
      if (user !== null) this.lostUnder.set(desktop, { user, at: now });
    });
    // A session that ends (logoff, guest reboot or shutdown) ends its displays as "logged off", not as a drop.
    pools.machine.on('desktop', (view) => {
      const was = this.liveSessions.has(view.name);
      if (isInSession(view.state) && view.state !== 'logging-off') return void this.liveSessions.add(view.name);
      this.liveSessions.delete(view.name);
      if (was || view.state === 'logging-off') this.end(view.name, 'logged-off');
    });
  }

  private end(desktop: string, end: DisplayEnd): void {
    for (const close of [...(this.closers.get(desktop) ?? [])]) close(end);
  }

  async access(who: Principal, desktop: string): Promise<{ vm: string }> {
    const pooled = await this.pools.displayAccess(desktop, { name: who.name, admin: who.admin, groups: who.groups }).catch((err: unknown) => {
      if (err instanceof ArdesiaError && err.code === 'FORBIDDEN') this.lostNotice(who, desktop);
      throw err;
    });
    if (!pooled) {
      // Retired since its host was lost under the caller's session (a portal whose display had dropped before, asking
      // again): the same notice, not a final "not found".
      this.lostNotice(who, desktop);
      return this.standalone.access(who, desktop);
    }
    if (!this.pools.machine.guests.has(pooled.vm)) {
      // Its host lost, its session not yet ended (the guest forgotten first): the same notice, not a final "not running".
      this.lostNotice(who, desktop);
      throw new ArdesiaError('VM_NOT_RUNNING', `desktop ${desktop} is not running`);
    }
    this.poolDesktops.add(desktop);
    return pooled;
  }

  /** Throws DESKTOP_HOST_LOST when `desktop`'s host was lost under `who`'s session a short while ago. */
  private lostNotice(who: Principal, desktop: string): void {
    const lost = this.lostUnder.get(desktop);
    if (lost?.user === who.name && Date.now() - lost.at <= LOST_NOTICE_MS) {
      throw new ArdesiaError('DESKTOP_HOST_LOST', `the server of desktop ${desktop} stopped and your session there ended`);
    }
  }

  clientConnected(desktop: string, client: DisplayClient): void {
    if (this.poolDesktops.has(desktop)) void this.pools.clientConnected(desktop, client);
    else this.standalone.clientConnected(desktop, client);
  }

  clientActivity(desktop: string): void {
    this.pools.clientActivity(desktop);
  }

  firstFrame(desktop: string): void {
    if (this.poolDesktops.has(desktop)) this.pools.firstFrame(desktop);
  }

  onDisconnectRequest(desktop: string, close: (end: DisplayEnd) => void): () => void {
    let set = this.closers.get(desktop);
    if (!set) this.closers.set(desktop, (set = new Set()));
    set.add(close);
    return () => {
      set.delete(close);
      if (set.size === 0) this.closers.delete(desktop);
    };
  }

  clientDisconnected(desktop: string): void {
    if (this.poolDesktops.has(desktop)) void this.pools.clientDisconnected(desktop);
    else this.standalone.clientDisconnected(desktop);
  }
}
