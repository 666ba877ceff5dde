// Pool sessions: who is on which desktop, logoff/reset/disconnect, admin desktop actions, and the display
// clients (count, last client, activity for the idle policy) with the thin client a session was opened from.
import type { EventEmitter } from 'node:events';
import { ArdesiaError } from '../contract/errors.js';
import type { ClientInfo, DesktopState, DesktopView, SessionInfo } from '../contract/pools.js';
import type { ServiceContext } from '../images/context.js';
import { auditAppend } from '../audit/log.js';
import { isInSession } from './lifecycle.js';
import type { Caller, PoolServiceEvents } from './pool-events.js';
import type { DesktopMachine } from './pool-machine.js';
import { nowIso, type PoolDesktopRow, poolDesktopsOwned, poolOf, requirePool, requirePoolDesktop } from './pool-repo.js';

export class PoolSessions {
  /** Sessions whose user asked for a reset: re-cloned as soon as the session has ended. */
  private readonly resetAfterSession = new Set<string>();
  /** The thin client (MAC) a session was opened from. */
  private readonly thinClientOf = new Map<string, string>();
  private readonly clients = new Map<string, { count: number; last: ClientInfo | null; activityAt: number }>();

  constructor(
    private readonly ctx: ServiceContext,
    private readonly machine: DesktopMachine,
    private readonly events: EventEmitter<PoolServiceEvents>,
  ) {}

  /** A desktop changed: once out of session, a requested reset runs and its client tracking ends. */
  desktopChanged(view: DesktopView): void {
    if (isInSession(view.state)) return;
    if (this.resetAfterSession.delete(view.name) && view.state !== 'resetting' && view.state !== 'retiring') {
      void this.machine.fireQuietly(view.name, { type: 'reset' });
    }
    const mac = this.thinClientOf.get(view.name);
    if (mac) this.events.emit('thin-client', mac, null);
    this.thinClientOf.delete(view.name);
    this.clients.delete(view.name);
  }

  /** A connect came from a thin client: it is the session's last client, and the thin client shows `who`. */
  openedFrom(desktop: string, thinClient: string, who: Caller): void {
    this.clientInfo(desktop).last = { address: who.address ?? '', thinClient, at: nowIso() };
    this.thinClientOf.set(desktop, thinClient);
    this.events.emit('thin-client', thinClient, who.name);
  }

  /** The display clients of a desktop's session, for the idle policy. */
  activityOf(desktop: string): { count: number; activityAt: number } | undefined {
    return this.clients.get(desktop);
  }

  private clientInfo(desktop: string) {
    let info = this.clients.get(desktop);
    if (!info) this.clients.set(desktop, (info = { count: 0, last: null, activityAt: Date.now() }));
    return info;
  }

  async sessionOf(desktop: string): Promise<SessionInfo> {
    return this.sessionFrom(await requirePoolDesktop(this.ctx.db, desktop));
  }

  private sessionFrom(row: PoolDesktopRow): SessionInfo {
    const c = this.clients.get(row.name);
    return {
      user: row.user ?? '',
      pool: row.pool,
      desktop: row.name,
      state: row.state as DesktopState,
      since: row.since,
      imageVersion: row.version,
      clients: c?.count ?? 0,
      lastClient: c?.last ?? null,
      clipboardReady: this.machine.clipboardReadyOf(row.name),
    };
  }

  async list(who: Caller): Promise<SessionInfo[]> {
    const rows = (await poolDesktopsOwned(this.ctx.db)).filter((d) => isInSession(d.state as DesktopState) && (who.admin || d.user === who.name));
    // From the rows just read: one query for the whole list, not one more per session.
    return rows.map((r) => this.sessionFrom(r));
  }

  /** The session on `desktop`, if the caller may act on it (its user or an admin); others learn nothing. */
  private async requireSession(desktop: string, who: Caller): Promise<SessionInfo> {
    const row = await requirePoolDesktop(this.ctx.db, desktop).catch(() => undefined);
    if (!row || row.user === null || !isInSession(row.state as DesktopState) || (!who.admin && row.user !== who.name)) {
      throw new ArdesiaError('SESSION_NOT_FOUND', `you have no session on desktop ${desktop}`);
    }
    return this.sessionOf(desktop);
  }

  async logoff(desktop: string, who: Caller): Promise<SessionInfo> {
    const session = await this.requireSession(desktop, who);
    await this.machine.fire(desktop, { type: 'logoff-requested' });
    await auditAppend(this.ctx.db, who.name, 'session.logoff', desktop, { user: session.user }, who.address);
    return this.sessionOf(desktop);
  }

  /** The session's user (where the pool allows it) or an admin: end the session, then re-clone the system disk. */
  async resetSession(desktop: string, who: Caller): Promise<SessionInfo> {
    const session = await this.requireSession(desktop, who);
    const pool = poolOf(await requirePool(this.ctx.db, session.pool));
    if (!who.admin && !pool.userReset) {
      throw new ArdesiaError('FORBIDDEN', `pool ${pool.name} does not let users reset their desktop`, undefined, 'Log off instead, or ask an administrator to reset your desktop, or to allow resets in this pool (userReset).');
    }
    this.resetAfterSession.add(desktop);
    await this.machine.fire(desktop, { type: 'logoff-requested' }).catch((err) => {
      this.resetAfterSession.delete(desktop);
      throw err;
    });
    await auditAppend(this.ctx.db, who.name, 'session.reset', desktop, { user: session.user }, who.address);
    return this.sessionOf(desktop);
  }

  async disconnect(desktop: string, who: Caller): Promise<SessionInfo> {
    await this.requireSession(desktop, who);
    this.events.emit('display-end', desktop, 'admin-disconnect');
    await auditAppend(this.ctx.db, who.name, 'session.disconnect', desktop, null, who.address);
    return this.sessionOf(desktop);
  }

  /** Admin: re-clone a desktop out of session (the table refuses one in session). */
  async resetDesktop(pool: string, desktop: string, who: Caller): Promise<DesktopView> {
    const row = await requirePoolDesktop(this.ctx.db, desktop);
    if (row.pool !== pool) throw new ArdesiaError('DESKTOP_NOT_FOUND', `pool ${pool} has no desktop ${desktop}`);
    const view = await this.machine.fire(desktop, { type: 'reset' });
    await auditAppend(this.ctx.db, who.name, 'desktop.reset', desktop, { pool }, who.address);
    return view;
  }

  /** Admin: try a failed desktop again (a fresh clone, or its owner's kept disk booted again). */
  async retryDesktop(pool: string, desktop: string, who: Caller): Promise<DesktopView> {
    const row = await requirePoolDesktop(this.ctx.db, desktop);
    if (row.pool !== pool) throw new ArdesiaError('DESKTOP_NOT_FOUND', `pool ${pool} has no desktop ${desktop}`);
    const view = await this.machine.fire(desktop, { type: 'retry' });
    await auditAppend(this.ctx.db, who.name, 'desktop.retry', desktop, { pool }, who.address);
    return view;
  }

  async retireDesktop(pool: string, desktop: string, who: Caller): Promise<{ retired: string }> {
    const row = await requirePoolDesktop(this.ctx.db, desktop);
    if (row.pool !== pool) throw new ArdesiaError('DESKTOP_NOT_FOUND', `pool ${pool} has no desktop ${desktop}`);
    await this.machine.fire(desktop, { type: 'retire' });
    await auditAppend(this.ctx.db, who.name, 'desktop.retire', desktop, { pool }, who.address);
    return { retired: desktop };
  }

  // ── display clients (called by the gateway) ──

  async clientConnected(desktop: string, client: { address: string; thinClient?: string }): Promise<void> {
    const info = this.clientInfo(desktop);
    info.count += 1;
    info.activityAt = Date.now();
    // The portal names its thin client on every display connection (the kiosk's ?thinclient=MAC).
    info.last = { ...client, at: nowIso() };
    await this.machine.fireQuietly(desktop, { type: 'client-connected' });
  }

  async clientDisconnected(desktop: string): Promise<void> {
    const info = this.clientInfo(desktop);
    info.count = Math.max(0, info.count - 1);
    if (info.count === 0) await this.machine.fireQuietly(desktop, { type: 'client-disconnected' });
  }

  clientActivity(desktop: string): void {
    const info = this.clients.get(desktop);
    if (info) info.activityAt = Date.now();
  }

  /** Is `desktop` a pool desktop whose session belongs to the caller (or the caller an admin)? */
  async displayAccess(desktop: string, who: Caller): Promise<{ vm: string } | undefined> {
    const row = await requirePoolDesktop(this.ctx.db, desktop).catch(() => undefined);
    if (!row) return undefined;
    if (!who.admin && (row.user !== who.name || !isInSession(row.state as DesktopState))) {
      throw new ArdesiaError('FORBIDDEN', `desktop ${desktop} is not in a session of yours`);
    }
    return { vm: row.name };
  }
}
