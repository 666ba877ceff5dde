// The spare planner's loop: level-triggered, per pool, after every change and on a timer. It runs the pure
// plan (spares-plan.ts) through the desktop lifecycle, creates new clones, and enforces the idle policy.
import { ArdesiaError } from '../contract/errors.js';
import type { DesktopView, Pool } from '../contract/pools.js';
import { idleTimeouts } from './idle-plan.js';
import type { ServiceContext } from '../images/context.js';
import { type DesktopMachine, targetVersionOf } from './pool-machine.js';
import { nowIso, poolDesktopGet, poolDesktopsBooting, poolGet, poolList, poolOf } from './pool-repo.js';
import { failedRetryDelayMs, planSpares, retriesStillCounted, type SpareAction } from './spares-plan.js';
import { needsPlacement, placeSpareActions } from './placement-plan.js';
import type { PoolPlacement } from './pool-events.js';
import type { PlacementRefusal } from '../contract/hosts.js';
import type { ScheduleStatus } from '../contract/pool-schedule.js';
import { type BootEstimate, bootEstimateAfter, scheduleNow } from './spare-schedule.js';
import { isInSession } from './lifecycle.js';

const TICK_MS = 5_000;

/** Actions that take a free spare out of the warm or cold tier (the broker may have chosen it since the plan). */
function takesSpareAway(action: SpareAction): action is Extract<SpareAction, { kind: 'stop' | 'recycle' | 'retire' }> {
  return action.kind === 'stop' || action.kind === 'recycle' || action.kind === 'retire';
}

export interface PlannerDeps {
  bootStormLimit: number;
  /** The IANA time zone spare schedules are read in. */
  timeZone: string;
  /** The pool's desktops as the broker sees them (claims applied). */
  view(pool: string): Promise<DesktopView[]>;
  /** A spare the broker has chosen for a user whose assign has not landed yet (its claim, made after this pass's view). */
  claimed(desktop: string): boolean;
  clientActivity(desktop: string): { count: number; activityAt: number } | undefined;
  placement: PoolPlacement;
  /** The pool's condition changed: its placement refusal, or what it makes of its spare schedule (its view says). */
  placementChanged(pool: string): void;
}

export class PoolPlanner {
  private timer: NodeJS.Timeout | undefined;
  private readonly running = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();
  private readonly suspended = new Set<string>();
  /** Pools whose last pass wanted to boot a desktop and found no host: why. */
  private readonly refusals = new Map<string, PlacementRefusal>();
  /** Pools with a spare schedule: what the last pass made of it. */
  private readonly schedules = new Map<string, ScheduleStatus>();
  /** Desktops booting now: when they started (ms), to measure the pool's boot time when they are ready. */
  private readonly bootingSince = new Map<string, number>();
  /** By pool: its failed spares this planner retried, how often since each was last ready (the next retry waits
   *  longer: spares-plan.ts). Kept in memory: a daemon restart begins again at the first wait. */
  private readonly retries = new Map<string, Map<string, number>>();

  constructor(
    private readonly ctx: ServiceContext,
    private readonly machine: DesktopMachine,
    private readonly deps: PlannerDeps,
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.tickAll(), TICK_MS);
    this.timer.unref();
    void this.tickAll();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** No new pass of `pool`, and no action of the one under way after its current one. */
  suspend(pool: string): void {
    this.suspended.add(pool);
  }

  /** Resolves once `pool`'s pass in flight (if any) has ended: after suspend(), nothing of the planner acts on it. */
  async passEnded(pool: string): Promise<void> {
    await this.running.get(pool);
  }

  resume(pool: string): void {
    this.suspended.delete(pool);
    this.kick(pool);
  }

  /** Plans every pool (also on a timer, and when an image version is published or rolled back). */
  async tickAll(): Promise<void> {
    for (const row of await poolList(this.ctx.db)) this.kick(row.name);
  }

  /** Plans `pool` again soon; a pass in progress is followed by one more, never run twice at once. */
  kick(pool: string): void {
    if (!this.timer || this.suspended.has(pool)) return;
    if (this.running.has(pool)) {
      this.again.add(pool);
      return;
    }
    const pass = this.pass(pool)
      .catch((err) => this.ctx.deps.log.error({ err, pool }, `planning pool ${pool} failed`))
      .finally(() => {
        this.running.delete(pool);
        if (this.again.delete(pool)) this.kick(pool);
      });
    this.running.set(pool, pass);
  }

  /** Waits for the passes in flight (tests, shutdown). */
  async settle(): Promise<void> {
    while (this.running.size > 0) await Promise.all(this.running.values());
  }

  private async pass(name: string): Promise<void> {
    const row = await poolGet(this.ctx.db, name);
    if (!row) this.retries.delete(name);
    if (!row || this.suspended.has(name)) return;
    const pool = poolOf(row);
    const desktops = await this.deps.view(name);
    const schedule = await this.scheduleCheck(pool, desktops);
    // While a schedule is set, it says how many warm spares to keep (booting early for a coming rule).
    const target = schedule ? { ...pool, warmSpares: schedule.warmTarget } : pool;
    const booting = this.machine.bootsInFlight(await poolDesktopsBooting(this.ctx.db));
    const retries = this.retriesOf(name, desktops);
    const planned = planSpares(target, desktops, await targetVersionOf(this.ctx, pool), booting, this.deps.bootStormLimit, Date.now(), this.machine.startsByRestore(pool), (d) => retries.get(d) ?? 0);
    const refusal = needsPlacement(planned) ? await this.deps.placement.checkPool(pool) : null;
    this.noteRefusal(name, refusal);
    const actions = placeSpareActions(planned, desktops, await this.deps.placement.hostsNotUp(), refusal === null);
    for (const action of actions) {
      if (this.suspended.has(name)) return; // the pool is being deleted: its desktops are the delete's now
      await this.run(pool, action);
    }
    await this.enforceIdle(pool, desktops);
  }

  /** The pool's retried spares, without those ready or in a session since, or gone (a name is used again). */
  private retriesOf(pool: string, desktops: readonly DesktopView[]): Map<string, number> {
    const retries = retriesStillCounted(this.retries.get(pool) ?? new Map<string, number>(), desktops);
    this.retries.set(pool, retries);
    return retries;
  }

  /** Why the pool cannot place a desktop now, or null. */
  cannotPlace(pool: string): PlacementRefusal | null {
    return this.refusals.get(pool) ?? null;
  }

  /** What the last pass made of the pool's spare schedule, or null without one. */
  scheduleStatus(pool: string): ScheduleStatus | null {
    return this.schedules.get(pool) ?? null;
  }

  /** Reads the pool's schedule against now, its boot estimate and the hosts' capacity; notes a change. */
  async scheduleCheck(pool: Pool, desktops: readonly DesktopView[]): Promise<ScheduleStatus | null> {
    const status = pool.spareSchedule.length === 0 ? null : scheduleNow({
      rules: pool.spareSchedule,
      now: Date.now(),
      timeZone: this.deps.timeZone,
      boot: await this.bootEstimate(pool.name),
      bootStormLimit: this.deps.bootStormLimit,
      capacity: await this.deps.placement.poolCapacity(pool),
      inSession: desktops.filter((d) => isInSession(d.state)).length,
      sizeText: `${pool.memoryMiB} MiB, ${pool.vcpus} vCPU${pool.vcpus === 1 ? '' : 's'} each`,
    });
    const before = this.schedules.get(pool.name) ?? null;
    if (status) this.schedules.set(pool.name, status);
    else this.schedules.delete(pool.name);
    if (JSON.stringify(before) !== JSON.stringify(status)) {
      for (const problem of status?.problems ?? []) if (!before?.problems.includes(problem)) this.ctx.deps.log.warn({ pool: pool.name }, `pool ${pool.name}: ${problem}`);
      this.deps.placementChanged(pool.name);
    }
    return status;
  }

  private async bootEstimate(pool: string): Promise<BootEstimate | null> {
    const row = await this.ctx.db.selectFrom('pool_boot_times').selectAll().where('pool', '=', pool).executeTakeFirst();
    return row ? { ms: Number(row.estimate_ms), samples: Number(row.samples) } : null;
  }

  /** Measures boots from the desktops' own transitions: booting → ready is one boot of its pool. */
  async desktopChanged(view: DesktopView): Promise<void> {
    if (view.state === 'booting') {
      this.bootingSince.set(view.name, Date.parse(view.since));
      return;
    }
    const started = this.bootingSince.get(view.name);
    this.bootingSince.delete(view.name);
    if (started === undefined || view.state !== 'ready') return;
    const next = bootEstimateAfter(await this.bootEstimate(view.pool), Date.parse(view.since) - started);
    const at = nowIso();
    await this.ctx.db
      .insertInto('pool_boot_times')
      .values({ pool: view.pool, estimate_ms: next.ms, samples: next.samples, updated_at: at })
      .onConflict((oc) => oc.column('pool').doUpdateSet({ estimate_ms: next.ms, samples: next.samples, updated_at: at }))
      .execute();
  }

  private noteRefusal(pool: string, refusal: PlacementRefusal | null): void {
    const before = this.refusals.get(pool);
    if (before?.message === refusal?.message) return;
    if (refusal) {
      this.refusals.set(pool, refusal);
      this.ctx.deps.log.warn({ pool, code: refusal.code }, `pool ${pool} cannot place a desktop: ${refusal.message}`);
    } else this.refusals.delete(pool);
    this.deps.placementChanged(pool);
  }

  private async run(pool: Pool, action: SpareAction): Promise<void> {
    this.ctx.deps.log.debug({ pool: pool.name, action }, 'spare planner');
    // The pass planned from a view taken before its actions run: a spare the broker chose meanwhile is the user's now.
    if (takesSpareAway(action) && this.deps.claimed(action.desktop)) {
      this.ctx.deps.log.debug({ pool: pool.name, action }, 'spare planner: the broker chose this spare meanwhile; left to it');
      return;
    }
    switch (action.kind) {
      case 'create': {
        const version = await targetVersionOf(this.ctx, pool);
        if (version === null) return;
        await this.insertDesktop(pool, action.name, null, version);
        await this.provisionDesktop(pool, action.name);
        return;
      }
      case 'boot':
        return this.machine.fireQuietly(action.desktop, { type: 'boot-requested' });
      case 'stop':
        return this.machine.fireQuietly(action.desktop, { type: 'stop-requested' });
      case 'recycle':
        return this.machine.fireQuietly(action.desktop, { type: 'image-updated' });
      case 'retire':
        return this.machine.fireQuietly(action.desktop, { type: 'retire' });
      case 'retry': {
        const retries = this.retries.get(pool.name) ?? new Map<string, number>();
        const count = (retries.get(action.desktop) ?? 0) + 1;
        this.retries.set(pool.name, retries.set(action.desktop, count));
        this.ctx.deps.log.info({ pool: pool.name, desktop: action.desktop, retry: count }, `pool ${pool.name}: failed spare ${action.desktop} tried again from a fresh clone (retry ${count}; should it fail again, the next in ${Math.round(failedRetryDelayMs(count) / 60_000)} min)`);
        return this.machine.fireQuietly(action.desktop, { type: 'retry' });
      }
    }
  }

  /** Records a new desktop in provisioning (for `user`, or a spare); the clone comes next. */
  async insertDesktop(pool: Pool, name: string, user: string | null, version?: number): Promise<void> {
    const target = version ?? (await targetVersionOf(this.ctx, pool));
    if (target === null) throw new ArdesiaError('IMAGE_NO_VERSION', `pool ${pool.name} has no image version to clone: image ${pool.image} has none published`);
    const at = nowIso();
    await this.ctx.db
      .insertInto('pool_desktops')
      .values({ name, pool: pool.name, state: 'provisioning', user, host: null, image: pool.image, version: target, since: at, last_error: null, failure_step: null, failure_vm_exit: null, failure_console: null, created_at: at })
      .execute();
  }

  /** Clones the system disk of a desktop in provisioning: it lands cold (stopped), or failed with the reason. */
  async provisionDesktop(pool: Pool, name: string): Promise<void> {
    const row = await poolDesktopGet(this.ctx.db, name);
    if (!row) return;
    try {
      if (await this.ctx.vms.get(name).then(() => true, () => false)) throw new ArdesiaError('VM_EXISTS', `a VM named ${name} already exists; rename it or remove it`);
      await this.machine.provision(row, pool);
    } catch (err) {
      this.ctx.deps.log.error({ err, desktop: name, pool: pool.name }, `cloning the system disk of ${name} failed`);
      await this.ctx.db.updateTable('pool_desktops').set({ last_error: `cloning failed: ${(err as Error).message}` }).where('name', '=', name).execute();
      await this.machine.fire(name, { type: 'provision-failed' });
      throw cloneFailure(pool.name, row.image, row.version, err);
    }
    await this.machine.fire(name, { type: 'provisioned' });
  }

  /** The idle policy (idle-plan.ts) through the lifecycle: disconnect idle clients, log long-disconnected sessions off. */
  private async enforceIdle(pool: Pool, desktops: readonly DesktopView[]): Promise<void> {
    for (const t of idleTimeouts(pool, desktops, (d) => this.deps.clientActivity(d), Date.now())) {
      this.ctx.deps.log.info({ desktop: t.desktop, reason: t.reason }, `desktop ${t.desktop}: idle (${t.reason})`);
      await this.machine.fireQuietly(t.desktop, { type: 'idle-timeout' });
    }
  }
}

/** A failed clone as the user who asked is told it: what could not be made and the cause's code; the detail is in the desktop's last error. */
export function cloneFailure(pool: string, image: string, version: number, err: unknown): ArdesiaError {
  const cause = err instanceof ArdesiaError ? err.code : ((err as NodeJS.ErrnoException | null)?.code ?? 'unexpected error');
  const why = err instanceof ArdesiaError ? `: ${err.message}` : ` (${cause})`;
  return new ArdesiaError('DESKTOP_CLONE_FAILED', `no desktop of pool ${pool} could be prepared: cloning its system disk from image ${image} version ${version} failed${why}`, { cause });
}
