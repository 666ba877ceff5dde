// The broker's shell: a connect decided by the pure broker (broker-plan.ts) against the store's view, carried out
// through the desktop lifecycle (pool-machine.ts), then waited on until the session starts in the guest. A desktop
// whose host goes silent before the session started there is given up and the next one brokered.
import { ArdesiaError } from '../contract/errors.js';
import { BrokerRefusalCode, type ConnectBody, type DesktopState, type DesktopView, type Pool, type SessionInfo, type SessionView } from '../contract/pools.js';
import { placementRefusalForUser } from '../contract/hosts.js';
import type { SpareWait } from '../contract/timeline.js';
import type { ServiceContext } from '../images/context.js';
import { homeGet } from '../images/repo.js';
import { auditAppend } from '../audit/log.js';
import { type BrokerDecision, brokerDecide, isEntitled, type BrokerView } from './broker-plan.js';
import { hasSessionStarted, isInSession } from './lifecycle.js';
import { type DesktopMachine, targetVersionOf } from './pool-machine.js';
import { desktopViewOf, poolDesktopsBooting, poolDesktopsOwned, poolOf, requirePool, requirePoolDesktop } from './pool-repo.js';
import type { PoolPlanner } from './pool-planner.js';
import type { Caller, PoolServiceOptions, SessionReady } from './pool-events.js';
import type { ConnectTimes, LoginTimelines } from './login-timeline-recorder.js';
import { GuestUserName } from '../contract/guest.js';
import { hostUnreachableError, untilPreviousSessionEnded, untilSessionStarted } from './session-wait.js';

/** A connect brokers at most this many desktops: a second one if the first one's host went silent, a third to be sure. */
const CONNECT_ATTEMPTS = 3;

/** What a connect waits for before its desktop can take the user: nothing, a boot, or a new clone (and its boot). */
export function spareWaitOf(d: Exclude<BrokerDecision, { kind: 'refuse' }>): SpareWait {
  if (d.kind === 'clone') return 'clone';
  if (d.kind === 'cold-start') return 'boot';
  if (d.kind === 'existing' && (d.desktop.state === 'stopped' || d.desktop.state === 'booting')) return 'boot';
  return 'none';
}

/** What the broker uses of its pool service (pools.ts). */
export interface BrokerDeps {
  ctx: ServiceContext;
  machine: DesktopMachine;
  opts: PoolServiceOptions;
  planner: PoolPlanner;
  timelines: LoginTimelines;
  /** The pool's desktops with the broker's in-flight claims applied. */
  desktopViews(pool: string): Promise<DesktopView[]>;
  lockPool<T>(name: string, fn: () => Promise<T>): Promise<T>;
  /** The decision's kind, for metrics. */
  brokered(kind: BrokerDecision['kind'] | 'refuse'): void;
  openedFrom(desktop: string, thinClient: string, who: Caller): void;
  sessionOf(desktop: string): Promise<SessionInfo>;
}

/** A refusal of the broker's own (no desktop to give: the pool full, the boot storm, placement), not a desktop's failure. */
const isBrokerRefusal = (code: string): boolean => (BrokerRefusalCode.options as readonly string[]).includes(code);

/** Errors after which a connect gives the desktop up and brokers another (within its wait and CONNECT_ATTEMPTS). */
function givesUpForAnother(err: unknown): err is ArdesiaError {
  if (!(err instanceof ArdesiaError)) return false;
  return err.code === 'DESKTOP_HOST_UNREACHABLE' || (err.code === 'DESKTOP_FAILED' && (err.details as { handedOut?: boolean } | undefined)?.handedOut === true);
}

/** A spare the broker chose that went another way before its assign landed (the planner retired it as a surplus, or
 *  moved it on, between the decision and the assign): not the user's failure, so it is given up like a failed spare
 *  and the connect brokers again; anything else is passed on as it is. */
export function spareLostBeforeAssign(err: unknown, how: BrokerDecision['kind'], desktop: string): unknown {
  if (how !== 'warm' && how !== 'cold-start') return err;
  if (!(err instanceof ArdesiaError) || (err.code !== 'DESKTOP_NOT_FOUND' && err.code !== 'DESKTOP_STATE')) return err;
  return new ArdesiaError('DESKTOP_FAILED', `desktop ${desktop} went another way before it was handed to you (${err.message})`, { handedOut: true, desktop });
}

/** The desktop a connect gave up with `err` (its details name it), if any. */
export function desktopGivenUp(err: ArdesiaError): string | undefined {
  const desktop = (err.details as { desktop?: unknown } | undefined)?.desktop;
  return typeof desktop === 'string' ? desktop : undefined;
}

/** A spare handed out whose session did not start, gone `failed` (its boot, its VM) or `resetting` (the session could
 *  not start: its reset may wait for the VM's host): given up for another. */
const HANDED_OUT_GIVEN_UP: readonly string[] = ['failed', 'resetting'];

/** After attempt `attempt` of a connect failed with `err` (pure): broker another, or the error the user sees. When the
 *  broker has no other desktop to give (the pool full, the boot storm, no host), why the one given up failed says more. */
export function connectAfterFailure(err: unknown, givenUp: ArdesiaError | undefined, attempt: number, leftMs: number): { retry: ArdesiaError } | { fail: unknown } {
  if (givesUpForAnother(err) && attempt < CONNECT_ATTEMPTS && leftMs > 0) return { retry: err };
  if (givenUp && err instanceof ArdesiaError && err.code !== givenUp.code && isBrokerRefusal(err.code)) return { fail: givenUp };
  return { fail: err };
}

export class PoolBroker {
  /** Spares handed out whose assign has not landed in the store yet: name → user. */
  readonly claims = new Map<string, string>();
  /** Connects whose assign went out and whose guest has not said "session started" yet: desktop → request time. */
  readonly awaitingSession = new Map<string, Omit<SessionReady, 'seconds'> & { requestedAt: number }>();

  constructor(private readonly d: BrokerDeps) {}

  private async sessionsAll(): Promise<SessionView[]> {
    return (await poolDesktopsOwned(this.d.ctx.db))
      .filter((d) => isInSession(d.state as DesktopState))
      .map((d) => ({ user: d.user, pool: d.pool, desktop: d.name }));
  }

  private async brokerView(pool: Pool): Promise<BrokerView> {
    const booting = await poolDesktopsBooting(this.d.ctx.db);
    return {
      pool,
      targetVersion: await targetVersionOf(this.d.ctx, pool),
      desktops: await this.d.desktopViews(pool.name),
      sessions: await this.sessionsAll(),
      bootsInFlight: this.d.machine.bootsInFlight(booting),
      bootStormLimit: this.d.opts.bootStormLimit,
      restores: this.d.machine.startsByRestore(pool),
      ...(this.d.opts.cutOffHosts ? { unreachableHosts: this.d.opts.cutOffHosts() } : {}),
      ...(this.d.opts.notReadyHosts ? { notReadyHosts: this.d.opts.notReadyHosts() } : {}),
    };
  }

  /** A user asks for a desktop of a pool: theirs, a warm spare, a cold one started, or a new clone. A desktop whose host
   *  went silent before the session started there, or a spare that failed before it, is given up, and the next one
   *  brokered (within the connect's wait). */
  async connect(poolName: string, body: ConnectBody, who: Caller, times?: ConnectTimes): Promise<{ desktop: DesktopView; session: SessionInfo }> {
    const requestedAt = performance.now();
    let givenUp: ArdesiaError | undefined;
    const desktopsGivenUp: string[] = [];
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.connectOnce(poolName, body, who, requestedAt, times, desktopsGivenUp);
      } catch (err) {
        const leftMs = body.waitSeconds * 1000 - (performance.now() - requestedAt);
        const next = connectAfterFailure(err, givenUp, attempt, leftMs);
        if ('fail' in next) throw next.fail;
        givenUp = next.retry;
        const desktop = desktopGivenUp(givenUp);
        if (desktop !== undefined) desktopsGivenUp.push(desktop);
        this.d.ctx.deps.log.warn({ pool: poolName, user: who.name, attempt }, `${givenUp.message}: brokering another desktop for ${who.name}`);
      }
    }
  }

  private async connectOnce(poolName: string, body: ConnectBody, who: Caller, requestedAt: number, times: ConnectTimes | undefined, givenUp: readonly string[]): Promise<{ desktop: DesktopView; session: SessionInfo }> {
    const received = times ?? { requestAt: Date.now(), authenticatedAt: Date.now() };
    if (!GuestUserName.safeParse(who.name).success) throw new ArdesiaError('USER_NAME_UNSUITABLE', `${who.name} cannot be an account name inside a desktop`);
    const pool = poolOf(await requirePool(this.d.ctx.db, poolName));
    if (!isEntitled(pool, who.name, who.groups)) {
      this.d.brokered('refuse');
      throw new ArdesiaError('POOL_NOT_ENTITLED', `${who.name} is not entitled to pool ${poolName}`);
    }
    await this.letGoOnSilentHosts(poolName, who.name);
    if (body.wait) await this.previousSessionEnd(poolName, who.name, requestedAt + body.waitSeconds * 1000, givenUp);
    const decision = await this.d.lockPool(poolName, async () => {
      const d = await this.placed(brokerDecide({ user: who.name, groups: who.groups, pool: poolName, givenUp }, await this.brokerView(pool)), pool, who);
      if (d.kind === 'warm' || d.kind === 'cold-start') this.claims.set(d.desktop.name, who.name);
      if (d.kind === 'clone') await this.d.planner.insertDesktop(pool, d.name, who.name);
      return d;
    });
    this.d.brokered(decision.kind);
    if (decision.kind === 'refuse') throw new ArdesiaError(decision.code, decision.message);
    const name = decision.kind === 'clone' ? decision.name : decision.desktop.name;
    const assigns = decision.kind !== 'existing' || decision.desktop.state === 'ready' || decision.desktop.state === 'stopped';
    this.d.timelines.begin(name, poolName, who.name, received, decision.kind, spareWaitOf(decision));
    // The user's session already runs: only the first frame is left to see.
    if (decision.kind === 'existing' && (decision.desktop.state === 'in-use' || decision.desktop.state === 'disconnected')) this.d.timelines.record(name, 'session-started', { skipped: true });
    if (assigns) this.awaitingSession.set(name, { pool: poolName, desktop: name, user: who.name, how: decision.kind, requestedAt });
    try {
      await this.act(pool, decision, who.name);
    } catch (err) {
      this.awaitingSession.delete(name);
      const lost = spareLostBeforeAssign(err, decision.kind, name);
      if (lost !== err) {
        this.d.timelines.end(name);
        throw lost;
      }
      return this.sessionNotStarted(name, who.name, err, decision.kind);
    } finally {
      this.claims.delete(name);
    }
    await auditAppend(this.d.ctx.db, who.name, 'session.connect', name, { pool: poolName, how: decision.kind, thinClient: body.client.thinClient ?? null }, who.address);
    if (body.client.thinClient) this.d.openedFrom(name, body.client.thinClient, who);
    const leftMs = Math.max(1000, body.waitSeconds * 1000 - (performance.now() - requestedAt));
    const desktop = body.wait ? await this.waitForSession(name, who.name, leftMs).catch((err: unknown) => this.sessionNotStarted(name, who.name, err, decision.kind)) : desktopViewOf(await requirePoolDesktop(this.d.ctx.db, name));
    return { desktop, session: await this.d.sessionOf(name) };
  }

  /** The user's desktops of the pool that wait without a session on a host gone silent let them go first (lifecycle.ts
   *  host-unreachable), so the broker hands out another; a persistent owner's kept desktop stays theirs. */
  private async letGoOnSilentHosts(pool: string, user: string): Promise<void> {
    if (!this.d.opts.cutOffHosts?.().size) return; // the usual case: no read on the login path
    const mine = (await this.d.desktopViews(pool)).filter((d) => d.user === user && d.host !== null && !this.reachable(d.host) && !hasSessionStarted(d.state));
    for (const d of mine) await this.d.machine.fireQuietly(d.name, { type: 'host-unreachable' });
  }

  private reachable(host: string): boolean {
    return !this.d.opts.cutOffHosts?.().has(host);
  }

  /** Why the waited-for session did not start, said as the user can act on it: a desktop on a silent host, or a spare
   *  handed out that failed before the session started (its boot, its VM gone with a host that lost power), is given up
   *  (connect brokers another); a home held by a desktop on a silent host says so, and when it frees. */
  private async sessionNotStarted(name: string, user: string, err: unknown, how: BrokerDecision['kind']): Promise<never> {
    this.d.timelines.end(name);
    if (!(err instanceof ArdesiaError)) throw err;
    const row = await requirePoolDesktop(this.d.ctx.db, name).catch(() => undefined);
    if (err.code !== 'DESKTOP_HOST_UNREACHABLE' && row?.host && !this.reachable(row.host)) throw hostUnreachableError(name, row.host);
    if (err.code === 'HOME_LEASED' || err.code === 'HOME_LEASE_HELD') {
      const holder = (await homeGet(this.d.ctx.db, user))?.leased_to;
      const holderRow = holder ? await requirePoolDesktop(this.d.ctx.db, holder).catch(() => undefined) : undefined;
      if (holderRow?.host && !this.reachable(holderRow.host)) {
        // Not a desktop to give up (the connect would only hand out another): the home waits for that host.
        throw new ArdesiaError('HOME_LEASE_HELD', `your home volume is held by desktop ${holder} on host ${holderRow.host}, which the controller cannot reach now: your files are safe there, and the home is freed once ${holderRow.host} is back or judged down`);
      }
    }
    // Only a spare prepared before the user came: their own desktop that failed stays theirs to see (a persistent one is
    // not swapped), and a cold start's or a new clone's failed boot is most likely the image's (another would fail too).
    const state = (err.details as { state?: string } | undefined)?.state;
    if (how === 'warm' && err.code === 'DESKTOP_FAILED' && state !== undefined && HANDED_OUT_GIVEN_UP.includes(state)) {
      throw new ArdesiaError('DESKTOP_FAILED', err.message, { state, handedOut: true, desktop: name }, err.hint);
    }
    throw err;
  }

  /** A decision that boots a desktop (a cold spare, a new clone, a stopped own one) needs a host: refused with the reason when none fits. */
  private async placed(d: BrokerDecision, pool: Pool, who: Caller): Promise<BrokerDecision> {
    const boots = d.kind === 'cold-start' || d.kind === 'clone' || (d.kind === 'existing' && d.desktop.state === 'stopped');
    if (!boots) return d;
    const found = await this.d.opts.placement.checkPool(pool);
    const refusal = found && !who.admin ? placementRefusalForUser(found, pool.name) : found;
    return refusal ? { kind: 'refuse', code: refusal.code, message: refusal.message } : d;
  }

  /** Opening right after a logoff: wait (bounded by the connect's own wait) for the previous session to end rather than
   *  refuse. A desktop this connect gave up is not waited for (its reset may wait minutes for its host), unless it
   *  holds the user's home: no other desktop can have the home before that reset releases it. */
  private async previousSessionEnd(pool: string, user: string, deadlinePerf: number, givenUp: readonly string[]): Promise<void> {
    const deadline = Date.now() + Math.max(0, deadlinePerf - performance.now());
    const homeHolder = givenUp.length === 0 ? undefined : (await homeGet(this.d.ctx.db, user))?.leased_to;
    const passOver = givenUp.filter((name) => name !== homeHolder);
    const log = this.d.ctx.deps.log;
    const waited = await untilPreviousSessionEnded(this.d.machine, () => this.d.desktopViews(pool), user, deadline, passOver, (desktop) => log.info({ pool, user, desktop }, `${user} waits for the previous session on ${desktop} to end`));
    if (waited) log.info({ pool, user, ...waited }, `${user} waited ${waited.ms} ms for the previous session on ${waited.desktop} to end`);
  }

  private async act(pool: Pool, decision: Exclude<BrokerDecision, { kind: 'refuse' }>, user: string): Promise<void> {
    switch (decision.kind) {
      case 'existing':
        if (decision.desktop.state === 'ready' || decision.desktop.state === 'stopped') await this.d.machine.fire(decision.desktop.name, { type: 'assign', user });
        return;
      case 'warm':
      case 'cold-start':
        await this.d.machine.fire(decision.desktop.name, { type: 'assign', user });
        return;
      case 'clone':
        await this.d.planner.provisionDesktop(pool, decision.name);
        await this.d.machine.fire(decision.name, { type: 'assign', user });
    }
  }

  /** Resolves when the desktop is in use by `user` (session-wait.ts); call after the assign landed. */
  private waitForSession(desktop: string, user: string, timeoutMs: number): Promise<DesktopView> {
    const read = async () => {
      const row = await requirePoolDesktop(this.d.ctx.db, desktop);
      return { view: desktopViewOf(row), lastError: row.last_error, ...(row.last_error === null ? {} : { lastErrorCode: this.d.machine.failureCodeOf(desktop) }) };
    };
    return untilSessionStarted(this.d.machine, read, desktop, user, timeoutMs);
  }
}
