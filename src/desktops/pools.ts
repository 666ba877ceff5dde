// Pools: definitions, the broker (who gets which desktop) and the spare planner's loop; sessions and display
// clients are pool-sessions.ts, which PoolService fronts.
// Decisions are pure (broker-plan.ts, spares-plan.ts); this shell builds their views from the store,
// runs their answers through the desktop lifecycle (pool-machine.ts) and reports what happened.
import { EventEmitter } from 'node:events';
import { ArdesiaError } from '../contract/errors.js';
import { GuestUserName } from '../contract/guest.js';
import {
  type ConnectBody,
  type DesktopState,
  type DesktopView,
  Pool,
  type PoolInput,
  type PoolPatch,
  type PoolView,
  type SessionInfo,
  type SessionView,
} from '../contract/pools.js';
import type { ServiceContext } from '../images/context.js';
import { auditAppend, auditFeed } from '../audit/log.js';
import { requireImage } from '../images/versions.js';
import { homeGet, imageCurrentVersions, imageGet } from '../images/repo.js';
import { defaultStartMode } from './start-mode.js';
import { placementRefusalForUser } from '../contract/hosts.js';
import { type BrokerDecision, brokerDecide, isEntitled, type BrokerView } from './broker-plan.js';
import { isInSession } from './lifecycle.js';
import { type DesktopMachine, targetVersionOf } from './pool-machine.js';
import { desktopViewOf, nowIso, poolDesktopsAll, poolDesktopsOf, poolGet, poolList, poolOf, requirePool, requirePoolDesktop } from './pool-repo.js';
import { PoolPlanner } from './pool-planner.js';
import { type Caller, type PoolServiceEvents, type PoolServiceOptions, SESSION_END_STATES, type SessionReady } from './pool-events.js';
import { PoolSessions } from './pool-sessions.js';
import { type ConnectTimes, LoginTimelines } from './login-timeline-recorder.js';
import { UsageRecorder } from './usage-recorder.js';
import type { SpareWait } from '../contract/timeline.js';
import { type ForecastQuery, poolForecast, recordSessionEnds } from './pool-forecast.js';
import type { Forecast } from './forecast.js';
import { hostUnreachableError, untilPreviousSessionEnded, untilSessionStarted } from './session-wait.js';
import { rolloutPendingAtLogoff, versionCounts } from './spares-plan.js';

/** A connect brokers at most this many desktops: a second one if the first one's host went silent, a third to be sure. */
const CONNECT_ATTEMPTS = 3;

/** What a connect waits for before its desktop can take the user: nothing, a boot, or a new clone (and its boot). */
export function spareWaitOf(d: Exclude<BrokerDecision, { kind: 'refuse' }>): SpareWait {
  if (d.kind === 'clone') return 'clone';
  if (d.kind === 'cold-start') return 'boot';
  if (d.kind === 'existing' && (d.desktop.state === 'stopped' || d.desktop.state === 'booting')) return 'boot';
  return 'none';
}

/** A pool as `who` may see it: hosts and their capacities only for administrators. */
export function viewForCaller(view: PoolView, who: Pick<Caller, 'admin'>): PoolView {
  return who.admin || !view.cannotPlace ? view : { ...view, cannotPlace: placementRefusalForUser(view.cannotPlace, view.name) };
}

// Callers import these from here, PoolService's module.
export type { Caller, PoolServiceEvents, PoolServiceOptions, SessionReady } from './pool-events.js';

export class PoolService extends EventEmitter<PoolServiceEvents> {
  readonly planner: PoolPlanner;
  /** Spares the broker handed out whose assign has not landed in the store yet: name → user. */
  private readonly claims = new Map<string, string>();
  /** Sessions, their display clients and the thin clients they were opened from. */
  private readonly tracker: PoolSessions;
  /** Each connect's login timeline, from the request to the first frame (login-timeline-recorder.ts). */
  readonly timelines: LoginTimelines;
  /** Sessions started and ended, desktops booted and reset (usage-recorder.ts). */
  readonly usage: UsageRecorder;
  /** Connects whose assign went out and whose guest has not said "session started" yet: desktop → request time. */
  private readonly awaitingSession = new Map<string, Omit<SessionReady, 'seconds'> & { requestedAt: number }>();

  constructor(
    private readonly ctx: ServiceContext,
    readonly machine: DesktopMachine,
    readonly opts: PoolServiceOptions,
  ) {
    super();
    this.tracker = new PoolSessions(ctx, machine, this);
    this.timelines = new LoginTimelines(ctx.db, ctx.deps.log, (s) => this.emit('login-stage', s));
    machine.on('login-stage', (desktop, stage) => this.timelines.record(desktop, stage));
    this.usage = new UsageRecorder(ctx.db, ctx.deps.log);
    machine.on('desktop', (view) => this.usage.desktopChanged(view));
    machine.on('desktop-removed', (name) => this.usage.desktopRemoved(name));
    machine.on('session-started', (desktop) => this.timelines.record(desktop, 'session-started'));
    this.planner = new PoolPlanner(ctx, machine, {
      bootStormLimit: opts.bootStormLimit,
      timeZone: opts.timeZone,
      view: (pool) => this.desktopViews(pool),
      clientActivity: (desktop) => this.tracker.activityOf(desktop),
      placement: opts.placement,
      placementChanged: (pool) => void this.show(pool, { name: 'planner', admin: true, groups: [] }).then((v) => this.emit('pool', v), () => undefined),
    });
    machine.on('session-started', (desktop) => this.sessionReady(desktop));
    // A template built, failed or rebuilt: the pool says so (live event), and spares may now restore.
    machine.on('template', (pool) => {
      void this.show(pool, { name: 'planner', admin: true, groups: [] }).then((v) => this.emit('pool', v), () => undefined);
      this.planner.kick(pool);
    });
    recordSessionEnds(ctx, machine);
    machine.on('desktop', (view) => {
      if (!SESSION_END_STATES.includes(view.state)) return;
      this.awaitingSession.delete(view.name);
      // A new clone passes through "stopped" on its way to the user: only a stop after it was ready ends the login.
      if (view.state !== 'stopped' || this.timelines.reached(view.name, 'spare')) this.timelines.end(view.name);
    });
    // A new current version (publish, rollback): pools on "latest" roll now, not at the next tick.
    auditFeed.on('appended', (change) => {
      if (change.action === 'image.publish' || change.action === 'image.rollback') void this.planner.tickAll();
    });
    machine.on('desktop', (view) => {
      void this.planner.desktopChanged(view).catch((err) => this.ctx.deps.log.error({ err, desktop: view.name }, 'recording a boot time failed'));
      this.planner.kick(view.pool);
      this.tracker.desktopChanged(view);
    });
  }

  private sessionReady(desktop: string): void {
    const waiting = this.awaitingSession.get(desktop);
    if (!waiting) return;
    this.awaitingSession.delete(desktop);
    const { requestedAt, ...rest } = waiting;
    this.emit('session-ready', { ...rest, seconds: (performance.now() - requestedAt) / 1000 });
  }

  private lockPool<T>(name: string, fn: () => Promise<T>): Promise<T> {
    return this.ctx.lock.run(`pool:${name}`, fn);
  }

  // ── definitions ────────────────────────────────────────────────────────────────────────────────

  private parse(input: unknown): Pool {
    const parsed = Pool.safeParse(input);
    if (parsed.success) return parsed.data;
    const problems = parsed.error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message));
    throw new ArdesiaError('POOL_INVALID', problems.join('; '), parsed.error.issues);
  }

  async create(input: PoolInput, who: Caller): Promise<PoolView> {
    // Left out: chosen from what the image's guest helper can do (start-mode.ts).
    const image = input.startMode === undefined && typeof input.image === 'string' ? await imageGet(this.ctx.db, input.image) : undefined;
    const startMode = input.startMode ?? (image ? defaultStartMode({ guestHelper: image.guest_helper }, input.network ?? { mode: 'none' }) : undefined);
    const pool = this.parse({ ...input, ...(startMode ? { startMode } : {}) });
    return this.lockPool(pool.name, async () => {
      if (await poolGet(this.ctx.db, pool.name)) throw new ArdesiaError('POOL_EXISTS', `pool ${pool.name} already exists`);
      await requireImage(this.ctx, pool.image);
      const at = nowIso();
      await this.ctx.db.insertInto('pools').values({ name: pool.name, spec: JSON.stringify(pool), created_at: at, created_by: who.name, updated_at: at }).execute();
      await auditAppend(this.ctx.db, who.name, 'pool.create', pool.name, pool, who.address);
      await this.planner.scheduleCheck(pool, []);
      this.planner.kick(pool.name);
      await this.templatePrepare(pool);
      return this.announce(pool);
    });
  }

  async update(name: string, patch: PoolPatch, who: Caller): Promise<PoolView> {
    return this.lockPool(name, async () => {
      const current = poolOf(await requirePool(this.ctx.db, name));
      const { onLogoff: _derived, ...stored } = current;
      const pool = this.parse({ ...stored, ...(current.persistent ? { onLogoff: current.onLogoff } : {}), ...patch, name });
      if (pool.image !== current.image) await requireImage(this.ctx, pool.image);
      await this.ctx.db.updateTable('pools').set({ spec: JSON.stringify(pool), updated_at: nowIso() }).where('name', '=', name).execute();
      await auditAppend(this.ctx.db, who.name, 'pool.update', name, patch, who.address);
      await this.planner.scheduleCheck(pool, await this.desktopViews(name));
      this.planner.kick(name);
      await this.templatePrepare(pool);
      return this.announce(pool);
    });
  }

  /** A restore pool's template is built as soon as the pool asks for it, so its first spares can already be clones. */
  private async templatePrepare(pool: Pool): Promise<void> {
    const version = await targetVersionOf(this.ctx, pool);
    if (version !== null) await this.machine.templates.prepare(pool, pool.image, version).catch((err: Error) => this.ctx.deps.log.error({ err, pool: pool.name }, 'preparing the template failed'));
  }

  /** Refused while users have sessions; otherwise every desktop is retired, then the pool goes. */
  async delete(name: string, who: Caller): Promise<{ deleted: string; desktopsRetired: number }> {
    const desktops = await this.lockPool(name, async () => {
      await requirePool(this.ctx.db, name);
      const all = await poolDesktopsOf(this.ctx.db, name);
      const busy = all.filter((d) => isInSession(d.state as DesktopState));
      if (busy.length > 0) throw new ArdesiaError('POOL_IN_USE', `pool ${name} has ${busy.length} session(s): ${busy.map((d) => `${d.user} on ${d.name}`).join(', ')}`);
      this.planner.suspend(name);
      return all;
    });
    try {
      for (const d of desktops) await this.machine.fire(d.name, { type: 'retire' });
      await this.ctx.db.deleteFrom('pools').where('name', '=', name).execute();
    } catch (err) {
      this.planner.resume(name);
      throw err;
    }
    await auditAppend(this.ctx.db, who.name, 'pool.delete', name, { desktops: desktops.length }, who.address);
    this.emit('pool-removed', name);
    // Its templates' disk and RAM go now rather than at the next housekeeping round.
    void this.templatesCollect().catch((err: Error) => this.ctx.deps.log.warn({ err, pool: name }, 'removing unused templates failed; the next housekeeping round tries again'));
    return { deleted: name, desktopsRetired: desktops.length };
  }

  /** Pools that would break without this image (any version: every pool of it; one version: pools pinned to it). */
  async poolsUsingImage(image: string, version: number | undefined): Promise<string[]> {
    return (await poolList(this.ctx.db))
      .map(poolOf)
      .filter((p) => p.image === image && (version === undefined || p.version === version))
      .map((p) => `pool ${p.name}`);
  }

  /** Three queries whatever the number of pools and desktops (the pools, every pool desktop, the images' versions). */
  async list(who: Caller): Promise<PoolView[]> {
    const [poolRows, rows, images] = await Promise.all([poolList(this.ctx.db), poolDesktopsAll(this.ctx.db), imageCurrentVersions(this.ctx.db)]);
    const pools = poolRows.map(poolOf).filter((p) => who.admin || isEntitled(p, who.name, who.groups));
    const byPool = new Map<string, DesktopView[]>();
    for (const r of rows) {
      const list = byPool.get(r.pool) ?? byPool.set(r.pool, []).get(r.pool)!;
      list.push(this.withClaim(desktopViewOf(r)));
    }
    return pools.map((p) => viewForCaller(this.viewFrom(p, byPool.get(p.name) ?? [], p.version !== 'latest' ? p.version : (images.get(p.image) ?? null)), who));
  }

  /** Desktops and logins per hour of the week from past sessions, what the hosts allow, a proposed spare schedule. */
  async forecast(name: string, q: ForecastQuery): Promise<Forecast> {
    return poolForecast(this.ctx, poolOf(await requirePool(this.ctx.db, name)), q, { timeZone: this.opts.timeZone, placement: this.opts.placement });
  }

  async show(name: string, who: Caller): Promise<PoolView> {
    const pool = poolOf(await requirePool(this.ctx.db, name));
    if (!who.admin && !isEntitled(pool, who.name, who.groups)) throw new ArdesiaError('POOL_NOT_FOUND', `pool ${name} does not exist`);
    return viewForCaller(await this.viewOf(pool), who);
  }

  async viewOf(pool: Pool): Promise<PoolView> {
    return this.viewFrom(pool, await this.desktopViews(pool.name), await targetVersionOf(this.ctx, pool));
  }

  private viewFrom(pool: Pool, desktops: DesktopView[], currentVersion: number | null): PoolView {
    const byState: Partial<Record<DesktopState, number>> = {};
    for (const d of desktops) byState[d.state] = (byState[d.state] ?? 0) + 1;
    const byVersion = Object.fromEntries(versionCounts(desktops).map((c) => [String(c.version), c.count]));
    return { ...pool, currentVersion, counts: { total: desktops.length, byState, byVersion }, pendingAtLogoff: rolloutPendingAtLogoff(pool, desktops, currentVersion), cannotPlace: this.planner.cannotPlace(pool.name), schedule: this.planner.scheduleStatus(pool.name), template: this.machine.templates.statusOf(pool) };
  }

  async announce(pool: Pool): Promise<PoolView> {
    const view = await this.viewOf(pool);
    this.emit('pool', view);
    return view;
  }

  /** The pool's desktops with the broker's in-flight claims applied (a claimed spare is no longer free). */
  async desktopViews(pool: string): Promise<DesktopView[]> {
    return (await poolDesktopsOf(this.ctx.db, pool)).map((r) => this.withClaim(desktopViewOf(r)));
  }

  private withClaim(view: DesktopView): DesktopView {
    const claim = this.claims.get(view.name);
    return claim !== undefined && view.user === null ? { ...view, user: claim } : view;
  }

  async poolDesktops(pool: string): Promise<DesktopView[]> {
    await requirePool(this.ctx.db, pool);
    return this.desktopViews(pool);
  }

  // ── the broker ────────────────────────────────────────────────────────────────────────────────

  private async sessionsAll(): Promise<SessionView[]> {
    return (await poolDesktopsAll(this.ctx.db))
      .filter((d) => d.user !== null && isInSession(d.state as DesktopState))
      .map((d) => ({ user: d.user!, pool: d.pool, desktop: d.name }));
  }

  private async brokerView(pool: Pool): Promise<BrokerView> {
    const all = await poolDesktopsAll(this.ctx.db);
    return {
      pool,
      targetVersion: await targetVersionOf(this.ctx, pool),
      desktops: await this.desktopViews(pool.name),
      sessions: await this.sessionsAll(),
      bootsInFlight: this.machine.bootsInFlight(all),
      bootStormLimit: this.opts.bootStormLimit,
      restores: this.machine.startsByRestore(pool),
      unreachableHosts: new Set(all.map((d) => d.host).filter((h): h is string => h !== null && !this.reachable(h))),
    };
  }

  /** A user asks for a desktop of a pool: theirs, a warm spare, a cold one started, or a new clone. A desktop whose host
   *  went silent before the session started there is given up, and the next one brokered (within the connect's wait). */
  async connect(poolName: string, body: ConnectBody, who: Caller, times?: ConnectTimes): Promise<{ desktop: DesktopView; session: SessionInfo }> {
    const requestedAt = performance.now();
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.connectOnce(poolName, body, who, requestedAt, times);
      } catch (err) {
        const leftMs = body.waitSeconds * 1000 - (performance.now() - requestedAt);
        if (!(err instanceof ArdesiaError && err.code === 'DESKTOP_HOST_UNREACHABLE') || attempt >= CONNECT_ATTEMPTS || leftMs <= 0) throw err;
        this.ctx.deps.log.warn({ pool: poolName, user: who.name, attempt }, `${err.message}: brokering another desktop for ${who.name}`);
      }
    }
  }

  private async connectOnce(poolName: string, body: ConnectBody, who: Caller, requestedAt: number, times?: ConnectTimes): Promise<{ desktop: DesktopView; session: SessionInfo }> {
    const received = times ?? { requestAt: Date.now(), authenticatedAt: Date.now() };
    if (!GuestUserName.safeParse(who.name).success) throw new ArdesiaError('USER_NAME_UNSUITABLE', `${who.name} cannot be an account name inside a desktop`);
    const pool = poolOf(await requirePool(this.ctx.db, poolName));
    if (!isEntitled(pool, who.name, who.groups)) {
      this.emit('brokered', 'refuse');
      throw new ArdesiaError('POOL_NOT_ENTITLED', `${who.name} is not entitled to pool ${poolName}`);
    }
    await this.letGoOnSilentHosts(poolName, who.name);
    if (body.wait) await this.previousSessionEnd(poolName, who.name, requestedAt + body.waitSeconds * 1000);
    const decision = await this.lockPool(poolName, async () => {
      const d = await this.placed(brokerDecide({ user: who.name, groups: who.groups, pool: poolName }, await this.brokerView(pool)), pool, who);
      if (d.kind === 'warm' || d.kind === 'cold-start') this.claims.set(d.desktop.name, who.name);
      if (d.kind === 'clone') await this.planner.insertDesktop(pool, d.name, who.name);
      return d;
    });
    this.emit('brokered', decision.kind);
    if (decision.kind === 'refuse') throw new ArdesiaError(decision.code, decision.message);
    const name = decision.kind === 'clone' ? decision.name : decision.desktop.name;
    const assigns = decision.kind !== 'existing' || decision.desktop.state === 'ready' || decision.desktop.state === 'stopped';
    this.timelines.begin(name, poolName, who.name, received, decision.kind, spareWaitOf(decision));
    // The user's session already runs: only the first frame is left to see.
    if (decision.kind === 'existing' && (decision.desktop.state === 'in-use' || decision.desktop.state === 'disconnected')) this.timelines.record(name, 'session-started', { skipped: true });
    if (assigns) this.awaitingSession.set(name, { pool: poolName, desktop: name, user: who.name, how: decision.kind, requestedAt });
    try {
      await this.act(pool, decision, who.name);
    } catch (err) {
      this.awaitingSession.delete(name);
      return this.sessionNotStarted(name, who.name, err);
    } finally {
      this.claims.delete(name);
    }
    await auditAppend(this.ctx.db, who.name, 'session.connect', name, { pool: poolName, how: decision.kind, thinClient: body.client.thinClient ?? null }, who.address);
    if (body.client.thinClient) this.tracker.openedFrom(name, body.client.thinClient, who);
    const leftMs = Math.max(1000, body.waitSeconds * 1000 - (performance.now() - requestedAt));
    const desktop = body.wait ? await this.waitForSession(name, who.name, leftMs).catch((err: unknown) => this.sessionNotStarted(name, who.name, err)) : desktopViewOf(await requirePoolDesktop(this.ctx.db, name));
    return { desktop, session: await this.sessionOf(name) };
  }

  /** The user's desktops of the pool that wait without a session on a host gone silent let them go first (lifecycle.ts
   *  host-unreachable), so the broker hands out another; a persistent owner's kept desktop stays theirs. */
  private async letGoOnSilentHosts(pool: string, user: string): Promise<void> {
    const mine = (await this.desktopViews(pool)).filter((d) => d.user === user && d.host !== null && !this.reachable(d.host) && !isInSession(d.state));
    for (const d of mine) await this.machine.fireQuietly(d.name, { type: 'host-unreachable' });
  }

  private reachable(host: string): boolean {
    return this.opts.hostReachable?.(host) ?? true;
  }

  /** Why the waited-for session did not start, said as the user can act on it: a desktop on a silent host is given up
   *  (connect brokers another); a home held by a desktop on a silent host says so, and when it frees. */
  private async sessionNotStarted(name: string, user: string, err: unknown): Promise<never> {
    this.timelines.end(name);
    if (!(err instanceof ArdesiaError)) throw err;
    const row = await requirePoolDesktop(this.ctx.db, name).catch(() => undefined);
    if (err.code !== 'DESKTOP_HOST_UNREACHABLE' && row?.host && !this.reachable(row.host)) throw hostUnreachableError(name, row.host);
    if (err.code === 'HOME_LEASED' || err.code === 'HOME_LEASE_HELD') {
      const holder = (await homeGet(this.ctx.db, user))?.leased_to;
      const holderRow = holder ? await requirePoolDesktop(this.ctx.db, holder).catch(() => undefined) : undefined;
      if (holderRow?.host && !this.reachable(holderRow.host)) {
        // Not a desktop to give up (the connect would only hand out another): the home waits for that host.
        throw new ArdesiaError('HOME_LEASE_HELD', `your home volume is held by desktop ${holder} on host ${holderRow.host}, which the controller cannot reach now: your files are safe there, and the home is freed once ${holderRow.host} is back or judged down`);
      }
    }
    throw err;
  }

  /** A decision that boots a desktop (a cold spare, a new clone, a stopped own one) needs a host: refused with the reason when none fits. */
  private async placed(d: BrokerDecision, pool: Pool, who: Caller): Promise<BrokerDecision> {
    const boots = d.kind === 'cold-start' || d.kind === 'clone' || (d.kind === 'existing' && d.desktop.state === 'stopped');
    if (!boots) return d;
    const found = await this.opts.placement.checkPool(pool);
    const refusal = found && !who.admin ? placementRefusalForUser(found, pool.name) : found;
    return refusal ? { kind: 'refuse', code: refusal.code, message: refusal.message } : d;
  }

  /** Opening right after a logoff: wait (bounded by the connect's own wait) for the previous session to end rather than refuse. */
  private async previousSessionEnd(pool: string, user: string, deadlinePerf: number): Promise<void> {
    const deadline = Date.now() + Math.max(0, deadlinePerf - performance.now());
    const waited = await untilPreviousSessionEnded(this.machine, () => this.desktopViews(pool), user, deadline);
    if (waited) this.ctx.deps.log.info({ pool, user, ...waited }, `${user} waited ${waited.ms} ms for the previous session on ${waited.desktop} to end`);
  }

  private async act(pool: Pool, decision: Exclude<BrokerDecision, { kind: 'refuse' }>, user: string): Promise<void> {
    switch (decision.kind) {
      case 'existing':
        if (decision.desktop.state === 'ready' || decision.desktop.state === 'stopped') await this.machine.fire(decision.desktop.name, { type: 'assign', user });
        return;
      case 'warm':
      case 'cold-start':
        await this.machine.fire(decision.desktop.name, { type: 'assign', user });
        return;
      case 'clone':
        await this.planner.provisionDesktop(pool, decision.name);
        await this.machine.fire(decision.name, { type: 'assign', user });
    }
  }

  /** Resolves when the desktop is in use by `user` (session-wait.ts); call after the assign landed. */
  waitForSession(desktop: string, user: string, timeoutMs: number): Promise<DesktopView> {
    const read = async () => {
      const row = await requirePoolDesktop(this.ctx.db, desktop);
      return { view: desktopViewOf(row), lastError: row.last_error, ...(row.last_error === null ? {} : { lastErrorCode: this.machine.failureCodeOf(desktop) }) };
    };
    return untilSessionStarted(this.machine, read, desktop, user, timeoutMs);
  }

  // ── sessions and display clients (pool-sessions.ts) ───────────────────────────────────────────

  sessionOf(desktop: string): Promise<SessionInfo> {
    return this.tracker.sessionOf(desktop);
  }
  sessions(who: Caller): Promise<SessionInfo[]> {
    return this.tracker.list(who);
  }
  logoff(desktop: string, who: Caller): Promise<SessionInfo> {
    return this.tracker.logoff(desktop, who);
  }
  resetSession(desktop: string, who: Caller): Promise<SessionInfo> {
    return this.tracker.resetSession(desktop, who);
  }
  disconnect(desktop: string, who: Caller): Promise<SessionInfo> {
    return this.tracker.disconnect(desktop, who);
  }
  resetDesktop(pool: string, desktop: string, who: Caller): Promise<DesktopView> {
    return this.tracker.resetDesktop(pool, desktop, who);
  }
  retryDesktop(pool: string, desktop: string, who: Caller): Promise<DesktopView> {
    return this.tracker.retryDesktop(pool, desktop, who);
  }
  retireDesktop(pool: string, desktop: string, who: Caller): Promise<{ retired: string }> {
    return this.tracker.retireDesktop(pool, desktop, who);
  }
  /** Called by the gateway when a display client connects (the portal names its thin client). */
  clientConnected(desktop: string, client: { address: string; thinClient?: string }): Promise<void> {
    return this.tracker.clientConnected(desktop, client);
  }
  /** Called by the gateway when the first framebuffer update went to a display client: the login timeline's last stage. */
  firstFrame(desktop: string): void {
    this.timelines.record(desktop, 'first-frame');
  }
  clientDisconnected(desktop: string): Promise<void> {
    return this.tracker.clientDisconnected(desktop);
  }
  clientActivity(desktop: string): void {
    this.tracker.clientActivity(desktop);
  }
  displayAccess(desktop: string, who: Caller): Promise<{ vm: string } | undefined> {
    return this.tracker.displayAccess(desktop, who);
  }

  /** Template builds no restore pool or desktop needs any more are removed (a housekeeping chore); how many went. */
  async templatesCollect(): Promise<number> {
    const pools = (await poolList(this.ctx.db)).map(poolOf);
    const desktops = await poolDesktopsAll(this.ctx.db);
    const wanted: Array<{ pool: Pool; image: string; version: number }> = [];
    for (const pool of pools.filter((p) => p.startMode === 'restore')) {
      const target = await targetVersionOf(this.ctx, pool);
      if (target !== null) wanted.push({ pool, image: pool.image, version: target });
      for (const d of desktops.filter((x) => x.pool === pool.name)) wanted.push({ pool, image: d.image, version: d.version });
    }
    return this.machine.templates.collect(wanted, desktops.map((d) => this.ctx.paths.desktopSystem(d.name)));
  }

  /** After a daemon restart, before the planner runs. */
  async reconcile(): Promise<{ desktops: number }> {
    const rows = await poolDesktopsAll(this.ctx.db);
    for (const row of rows) await this.machine.reconcile(row);
    // Restore pools find their template again (templates/<key>/current) or start building it, and say which.
    for (const pool of (await poolList(this.ctx.db)).map(poolOf)) await this.templatePrepare(pool);
    return { desktops: rows.length };
  }

  start(): void {
    this.planner.start();
  }

  /** Daemon stop: no new plans or events; the passes in flight finish (a boot under way gets its VM, which the
   *  daemon's shutdown then stops or leaves running), so nothing is half-done or recorded as failed. */
  async close(): Promise<void> {
    this.planner.stop();
    this.machine.beginClose();
    await this.planner.settle();
    this.machine.close();
  }
}
