// Pools: definitions and the spare planner's loop; the broker's connects are pool-broker.ts, sessions and display
// clients pool-sessions.ts, both fronted by PoolService.
// Decisions are pure (broker-plan.ts, spares-plan.ts); this shell builds their views from the store,
// runs their answers through the desktop lifecycle (pool-machine.ts) and reports what happened.
import { EventEmitter } from 'node:events';
import { ArdesiaError } from '../contract/errors.js';
import {
  type ConnectBody,
  type DesktopState,
  type DesktopView,
  Pool,
  type PoolInput,
  type PoolPatch,
  type PoolView,
  type SessionInfo,
} from '../contract/pools.js';
import type { ServiceContext } from '../images/context.js';
import { auditAppend, auditFeed } from '../audit/log.js';
import { requireImage } from '../images/versions.js';
import { imageCurrentVersions, imageGet } from '../images/repo.js';
import { defaultStartMode } from './start-mode.js';
import { placementRefusalForUser } from '../contract/hosts.js';
import { isEntitled } from './broker-plan.js';
import { isInSession } from './lifecycle.js';
import { type DesktopMachine, targetVersionOf } from './pool-machine.js';
import { desktopViewOf, nowIso, poolDesktopGroups, poolDesktopsAll, poolDesktopsOf, poolDesktopsOwned, poolGet, poolList, poolOf, requirePool } from './pool-repo.js';
import { PoolPlanner } from './pool-planner.js';
import { type Caller, type PoolServiceEvents, type PoolServiceOptions, SESSION_END_STATES } from './pool-events.js';
import { PoolSessions } from './pool-sessions.js';
import { PoolBroker } from './pool-broker.js';
import { type ConnectTimes, LoginTimelines } from './login-timeline-recorder.js';
import { UsageRecorder } from './usage-recorder.js';
import { type ForecastQuery, poolForecast, recordSessionEnds } from './pool-forecast.js';
import type { Forecast } from './forecast.js';
import { rolloutPendingAtLogoff } from './spares-plan.js';
import { type PoolTally, tallyOfDesktops, tallyOfGroups } from './pool-tally.js';
import { groupBy } from '../lib/group-by.js';

/** A pool as `who` may see it: hosts and their capacities only for administrators. */
export function viewForCaller(view: PoolView, who: Pick<Caller, 'admin'>): PoolView {
  return who.admin || !view.cannotPlace ? view : { ...view, cannotPlace: placementRefusalForUser(view.cannotPlace, view.name) };
}

// Callers import these from here, PoolService's module.
export type { Caller, PoolServiceEvents, PoolServiceOptions, SessionReady } from './pool-events.js';

export class PoolService extends EventEmitter<PoolServiceEvents> {
  readonly planner: PoolPlanner;
  /** Connects: the broker's decisions carried out and waited on (pool-broker.ts). */
  private readonly broker: PoolBroker;
  /** Sessions, their display clients and the thin clients they were opened from. */
  private readonly tracker: PoolSessions;
  /** Each connect's login timeline, from the request to the first frame (login-timeline-recorder.ts). */
  readonly timelines: LoginTimelines;
  /** Sessions started and ended, desktops booted and reset (usage-recorder.ts). */
  readonly usage: UsageRecorder;

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
      claimed: (desktop) => this.broker.claims.has(desktop),
      clientActivity: (desktop) => this.tracker.activityOf(desktop),
      placement: opts.placement,
      placementChanged: (pool) => void this.show(pool, { name: 'planner', admin: true, groups: [] }).then((v) => this.emit('pool', v), () => undefined),
    });
    this.broker = new PoolBroker({
      ctx,
      machine,
      opts,
      planner: this.planner,
      timelines: this.timelines,
      desktopViews: (pool) => this.desktopViews(pool),
      lockPool: (name, fn) => this.lockPool(name, fn),
      brokered: (kind) => this.emit('brokered', kind),
      openedFrom: (desktop, thinClient, who) => this.tracker.openedFrom(desktop, thinClient, who),
      sessionOf: (desktop) => this.sessionOf(desktop),
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
      this.broker.awaitingSession.delete(view.name);
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
    const waiting = this.broker.awaitingSession.get(desktop);
    if (!waiting) return;
    this.broker.awaitingSession.delete(desktop);
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
      // A desktop booting for a user is a session starting: refused here, before anything is retired.
      const busy = all.filter((d) => isInSession(d.state as DesktopState) || (d.state === 'booting' && d.user !== null));
      if (busy.length > 0) throw new ArdesiaError('POOL_IN_USE', `pool ${name} has ${busy.length} session(s) in use or starting: ${busy.map((d) => `${d.user} on ${d.name}`).join(', ')}`);
      this.planner.suspend(name);
      return all;
    });
    try {
      // A pass under way when the pool was suspended ends its current action (a surplus spare retired, a spare created).
      await this.planner.passEnded(name);
      const created = (await poolDesktopsOf(this.ctx.db, name)).filter((d) => !desktops.some((o) => o.name === d.name));
      desktops.push(...created);
      for (const d of desktops) {
        // A planner pass already under way when the pool was suspended may retire a surplus spare first: gone is retired.
        await this.machine.fire(d.name, { type: 'retire' }).catch((err: unknown) => {
          if (!(err instanceof ArdesiaError && err.code === 'DESKTOP_NOT_FOUND')) throw err;
        });
      }
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

  /** Four queries whatever the number of pools and desktops, none reading every desktop's row: the pools, their desktops
   *  counted by state and version, the desktops someone has (sessions among them), the images' versions. */
  async list(who: Caller): Promise<PoolView[]> {
    const [poolRows, groups, owned, images] = await Promise.all([poolList(this.ctx.db), poolDesktopGroups(this.ctx.db), poolDesktopsOwned(this.ctx.db), imageCurrentVersions(this.ctx.db)]);
    const pools = poolRows.map(poolOf).filter((p) => who.admin || isEntitled(p, who.name, who.groups));
    const groupsOf = groupBy(groups, (g) => g.pool);
    const ownedOf = groupBy(owned.map(desktopViewOf), (d) => d.pool);
    return pools.map((p) => {
      const tally = tallyOfGroups(groupsOf.get(p.name) ?? [], ownedOf.get(p.name) ?? []);
      return viewForCaller(this.viewFrom(p, tally, p.version !== 'latest' ? p.version : (images.get(p.image) ?? null)), who);
    });
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
    return this.viewFrom(pool, tallyOfDesktops(await this.desktopViews(pool.name)), await targetVersionOf(this.ctx, pool));
  }

  private viewFrom(pool: Pool, tally: PoolTally, currentVersion: number | null): PoolView {
    const { total, byState, byVersion } = tally;
    return { ...pool, currentVersion, counts: { total, byState, byVersion }, pendingAtLogoff: rolloutPendingAtLogoff(pool, tally.inSession, currentVersion), cannotPlace: this.planner.cannotPlace(pool.name), schedule: this.planner.scheduleStatus(pool.name), template: this.machine.templates.statusOf(pool) };
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
    const claim = this.broker.claims.get(view.name);
    return claim !== undefined && view.user === null ? { ...view, user: claim } : view;
  }

  async poolDesktops(pool: string): Promise<DesktopView[]> {
    await requirePool(this.ctx.db, pool);
    return this.desktopViews(pool);
  }

  // ── the broker (pool-broker.ts) ───────────────────────────────────────────────────────────────

  /** A user asks for a desktop of a pool: theirs, a warm spare, a cold one started, or a new clone. */
  connect(poolName: string, body: ConnectBody, who: Caller, times?: ConnectTimes): Promise<{ desktop: DesktopView; session: SessionInfo }> {
    return this.broker.connect(poolName, body, who, times);
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
    const byPool = groupBy(desktops, (d) => d.pool);
    for (const pool of pools.filter((p) => p.startMode === 'restore')) {
      const target = await targetVersionOf(this.ctx, pool);
      if (target !== null) wanted.push({ pool, image: pool.image, version: target });
      // Each image version the pool's desktops are on, once (a pool's hundred desktops share one or two).
      const versions = new Map((byPool.get(pool.name) ?? []).map((d) => [`${d.image}@${d.version}`, { image: d.image, version: d.version }]));
      for (const v of versions.values()) wanted.push({ pool, ...v });
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
