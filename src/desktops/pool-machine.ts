// The I/O shell of the desktop lifecycle: every state change of a pool desktop goes through `fire`, which
// asks the pure transition table (lifecycle.ts), records the new state, then runs the effects in order.
// Effects that end in another event (a VM that failed to start, a finished re-clone) queue it; queued
// events run after the desktop's lock is released, so a chain never deadlocks on itself.
import { EventEmitter } from 'node:events';
import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ArdesiaError, type ErrorCode } from '../contract/errors.js';
import type { DesktopView, Pool } from '../contract/pools.js';
import type { VmSpec } from '../contract/vm.js';
import type { ServiceContext } from '../images/context.js';
import { imageGet } from '../images/repo.js';
import { type GuestVm, localGuestVm } from '../hypervisor/guest-vm.js';
import type { DesktopGuest } from './desktop-guest.js';
import { DesktopGuests } from './desktop-guests.js';
import { DesktopWatchdogs } from './desktop-watchdogs.js';
import { type DesktopHomeSteps, releaseHome } from './desktop-home-steps.js';
import { type DesktopVmSteps, provisionDesktop, stopDesktopVm } from './desktop-vm-steps.js';
import { runDesktopEffect } from './desktop-effects.js';
import type { HomeService } from './homes.js';
import { desktopVmSpec } from './desktop-vm.js';
import { desktopFailure } from './failure.js';
import { followLateStart, reconcileDesktop } from './desktop-reconcile.js';
import { desktopArrived, desktopLostWith, desktopMoveLive } from './desktop-migration.js';
import type { DesktopCarried } from '../cluster/vm-migrations.js';
import { type DesktopEffect, type DesktopEvent, desktopTransition } from './lifecycle.js';
import { PoolTemplates } from './pool-templates.js';
import { desktopViewOf, nowIso, poolDesktopUpdate, poolOf, type PoolDesktopRow, requirePool, requirePoolDesktop } from './pool-repo.js';

export interface MachineOptions {
  /** A booted desktop whose helper never says "ready" in this time failed. */
  bootTimeoutMs: number;
  /** A logoff the guest does not confirm in this time is forced. */
  logoffTimeoutMs: number;
  /** The user's XKB layout, from the auth domain (the session applies it in the guest). */
  keyboardLayoutOf(user: string): Promise<string | undefined>;
  /** A desktop VM running on an agent's host (cluster/remote-desktop-vms.ts), or undefined when it runs on none. */
  remoteVmOf?(name: string): Promise<GuestVm | undefined>;
}

export interface MachineEvents {
  /** A desktop's view after every change (the API's live events, metrics, waiters). */
  /** lastErrorCode: the registry code of the step that failed, when a waiting connect should pass it on as it is. */
  desktop: [DesktopView, { lastError: string | null; lastErrorCode?: ErrorCode }];
  'desktop-removed': [string];
  /** The guest helper reported a session started (for the login-to-ready latency). */
  'session-started': [string];
  /** A login timeline stage seen here (login-timeline-recorder.ts): the desktop is ready for the user (its home is
   *  about to be attached), the home is attached, the guest reports it mounted. */
  'login-stage': [string, 'spare' | 'home-attached' | 'home-mounted'];
  /** Close every display client of the desktop (idle policy, logoff). */
  'disconnect-clients': [string];
  /** The session's clipboard agent on the desktop came up or went away (SessionInfo.clipboardReady). */
  clipboard: [string, boolean];
  /** A restore pool's template changed state (PoolView.template). */
  template: [string];
  /** The desktop's host was judged down, with the session's user: its display clients are told so (the portal opens a
   *  new desktop). */
  'host-lost': [string, string | null];
  /** A host's link went silent (its name): connects waiting for a session there give up and broker another desktop. */
  'host-unreachable': [string];
}

/** States a desktop on a host gone silent leaves (lifecycle.ts host-unreachable): no session has started there. */
const UNREACHABLE_OUT_OF_SESSION = new Set(['booting', 'ready', 'assigned', 'resetting', 'failed']);


/** The target version of a pool: its fixed version, or the image's current one; null when there is none. */
export async function targetVersionOf(ctx: ServiceContext, pool: Pool): Promise<number | null> {
  if (pool.version !== 'latest') return pool.version;
  return (await imageGet(ctx.db, pool.image))?.current_version ?? null;
}

export class DesktopMachine extends EventEmitter<MachineEvents> {
  /** The guest helpers of running desktops (desktop-guests.ts). */
  readonly guests: DesktopGuests;
  /** Desktops booting by restore now: not boots, so the boot-storm limit does not count them. */
  private readonly restoring = new Set<string>();
  private readonly watchdogs: DesktopWatchdogs;
  /** The exit reason of each desktop VM that exited, until its vm-exited event has been fired. */
  private readonly exits = new Map<string, string>();
  /** Resets stalled on a VM its host could not stop now (cut off, or dying): resumed once the VM is gone. */
  private readonly stalledResets = new Set<string>();
  /** The registry code of each desktop's last failed step, when it is one a waiting connect passes on (desktop-effects.ts). */
  private readonly failureCodes = new Map<string, ErrorCode>();
  /** The daemon is stopping: what its own stop does to the VMs is not a desktop event (see reconcile). */
  private closing = false;
  /** Restore templates of pools in start mode restore (pool-templates.ts). */
  readonly templates: PoolTemplates;

  constructor(
    private readonly ctx: ServiceContext,
    private readonly homes: HomeService,
    private readonly opts: MachineOptions,
  ) {
    super();
    this.watchdogs = new DesktopWatchdogs(opts, (name, armed, event, timeoutMs) => this.watchdogExpired(name, armed, event, timeoutMs));
    const vmOf = async (name: string): Promise<GuestVm | undefined> => {
      const runtime = ctx.vms.runtimeOf(name);
      return runtime ? localGuestVm(runtime) : opts.remoteVmOf?.(name);
    };
    this.guests = new DesktopGuests(vmOf, ctx.deps.log, {
      event: (name, event) => void this.fireQuietly(name, event),
      exited: (name, reason) => {
        this.exits.set(name, reason);
        void this.fireQuietly(name, { type: 'vm-exited' }).finally(() => this.exits.delete(name));
      },
      loginStage: (name, stage) => this.emit('login-stage', name, stage),
      sessionStarted: (name) => this.emit('session-started', name),
      clipboard: (name, ready) => this.emit('clipboard', name, ready),
    });
    this.templates = new PoolTemplates(ctx, (pool, name, image, disk) => desktopVmSpec(this.ctx, pool, name, image, disk), opts.bootTimeoutMs, (pool) => this.emit('template', pool));
  }

  private get log() {
    return this.ctx.deps.log;
  }

  locked<T>(name: string, fn: () => Promise<T>): Promise<T> {
    return this.ctx.lock.run(`pool-desktop:${name}`, fn);
  }

  /** A persistent desktop moved live by `move` (cluster/vm-migrations.ts), held still meanwhile (desktop-migration.ts). */
  movingLive<T>(name: string, move: (carried: DesktopCarried) => Promise<T>): Promise<T> {
    if (this.closing) throw new ArdesiaError('DESKTOP_STATE', `desktop ${name}: the daemon is stopping; try again once it is back`);
    return this.locked(name, async () => {
      const result = await desktopMoveLive(this.homeSteps, name, move);
      this.emitDesktop(await requirePoolDesktop(this.ctx.db, name)); // its new host
      return result;
    });
  }

  /** A persistent desktop's move found finished but unrecorded (cluster/vm-migrations.ts): recorded and followed under
   *  its lock (desktop-migration.ts); whether it was recorded. */
  arrivedLive(name: string, record: () => Promise<boolean>): Promise<boolean> {
    return this.locked(name, async () => {
      const recorded = await desktopArrived(this.homeSteps, name, record);
      if (recorded) this.emitDesktop(await requirePoolDesktop(this.ctx.db, name));
      return recorded;
    });
  }

  /** A persistent desktop's move whose destination went down before it was settled (cluster/vm-migrations.ts): recorded
   *  there under its lock (desktop-migration.ts); whether it was. */
  lostWithHost(name: string, host: string, record: () => Promise<boolean>): Promise<boolean> {
    return this.locked(name, async () => {
      const recorded = await desktopLostWith(this.homeSteps, name, host, record);
      if (recorded) this.emitDesktop(await requirePoolDesktop(this.ctx.db, name));
      return recorded;
    });
  }

  /** Fires `event`; throws DESKTOP_STATE with the table's reason when the state refuses it. */
  async fire(name: string, event: DesktopEvent): Promise<DesktopView> {
    const queued: Array<[string, DesktopEvent]> = [];
    if (this.closing) throw new ArdesiaError('DESKTOP_STATE', `desktop ${name}: the daemon is stopping; try again once it is back`);
    const view = await this.locked(name, () => this.fireLocked(name, event, queued));
    for (const [n, e] of queued) void this.fireQuietly(n, e);
    return view;
  }

  /** The desktop's host was judged down (cluster/host-loss-watch.ts; its VM is recorded lost): the session ends as after
   *  a crash, a spare is cloned afresh for another host. */
  async hostLost(name: string, reason: string): Promise<void> {
    const row = await requirePoolDesktop(this.ctx.db, name).catch(() => undefined);
    this.emit('host-lost', name, row?.user ?? null);
    this.guests.forget(name);
    this.exits.set(name, reason);
    await this.fireQuietly(name, { type: 'host-lost' }).finally(() => this.exits.delete(name));
  }

  /** The link of `host` went silent (cluster/agent-links.ts): connects waiting on a desktop there are told at once
   *  ('host-unreachable'), then each desktop there without a session lets its user go and is reset once its VM is gone
   *  (lifecycle.ts); sessions run on, untouched: a cut-off host keeps its VMs and their leases. */
  async hostUnreachable(host: string): Promise<void> {
    this.emit('host-unreachable', host);
    const rows = await this.ctx.db.selectFrom('pool_desktops').select(['name', 'state', 'user']).where('host', '=', host).execute();
    // A failed or resetting desktop there matters only while it still holds a user.
    const holdsUser = (r: { state: string; user: string | null }) => (r.state !== 'failed' && r.state !== 'resetting') || r.user !== null;
    const affected = rows.filter((r) => UNREACHABLE_OUT_OF_SESSION.has(r.state) && holdsUser(r));
    if (affected.length) this.log.warn({ host, desktops: affected.map((r) => r.name) }, `host ${host} went silent: ${affected.length} desktop(s) there without a session are let go`);
    for (const r of affected) await this.fireQuietly(r.name, { type: 'host-unreachable' });
  }

  /** Whether the pool starts its disposable desktops by restore now (start mode restore, its template ready). */
  startsByRestore(pool: Pool): boolean {
    return this.templates.statusOf(pool)?.state === 'ready';
  }

  /** Desktops booting now, over all pools (the boot-storm limit's scope); restores are not boots. */
  bootsInFlight(desktops: ReadonlyArray<{ name: string; state: string }>): number {
    return desktops.filter((d) => d.state === 'booting' && !this.restoring.has(d.name)).length;
  }

  /** For events from guests, QMP and timers: a refusal is expected (a reboot reported twice) and only logged. */
  async fireQuietly(name: string, event: DesktopEvent): Promise<void> {
    if (this.closing) return;
    try {
      await this.fire(name, event);
    } catch (err) {
      const e = err as ArdesiaError;
      if (e.code === 'DESKTOP_STATE' || e.code === 'DESKTOP_NOT_FOUND') this.log.debug({ desktop: name, event: event.type }, e.message);
      else this.log.error({ err, desktop: name, event: event.type }, `desktop ${name}: ${event.type} failed`);
    }
  }

  private async fireLocked(name: string, fired: DesktopEvent, queued: Array<[string, DesktopEvent]>): Promise<DesktopView> {
    const row = await requirePoolDesktop(this.ctx.db, name);
    // The VM a reset could not stop is gone now: the reset goes on (decided under the lock: the stall may be a moment old);
    // an administrator's reset of it tries the stop again.
    const resumes = (fired.type === 'vm-exited' || fired.type === 'host-lost') && row.state === 'resetting' && this.stalledResets.delete(name);
    const retries = fired.type === 'reset' && row.state === 'resetting' && this.stalledResets.delete(name);
    const event: DesktopEvent = resumes ? { type: 'reset-resume' } : retries ? { type: 'reset-retry' } : fired;
    if (resumes) this.log.info({ desktop: name, event: event.type }, `desktop ${name}: its VM is gone (${fired.type}); the reset that waited on its stop goes on`);
    const pool = poolOf(await requirePool(this.ctx.db, row.pool));
    const target = await targetVersionOf(this.ctx, pool);
    // A clone only from a template that is ready and checked: otherwise the desktop boots (and the build starts).
    const template = event.type === 'boot-requested' || event.type === 'assign' ? await this.templates.forClone(pool, row.image, row.version).catch((err: Error) => this.templateUnusable(pool, row, err)) : undefined;
    const result = desktopTransition(row.state as DesktopView['state'], event, {
      persistent: pool.persistent,
      onLogoff: pool.onLogoff,
      versionIsCurrent: target === null || row.version === target,
      user: row.user,
      startMode: template ? 'restore' : 'boot',
    });
    if ('refused' in result) {
      this.log.info({ desktop: name, state: row.state, event: event.type }, `desktop ${name}: ${result.refused}`);
      throw new ArdesiaError('DESKTOP_STATE', `desktop ${name} (${row.state}): ${result.refused}`);
    }
    if (result.next !== row.state) {
      row.since = nowIso();
      this.log.info({ desktop: name, from: row.state, to: result.next, event: event.type }, `desktop ${name}: ${row.state} → ${result.next}`);
    }
    if (result.next === 'failed' && row.state !== 'failed') await this.recordFailure(row, event);
    // What went wrong before this event (a failed restore): the effects may need it after the row forgets it.
    const cause = row.last_error;
    if (result.next !== 'failed') Object.assign(row, { last_error: null, failure_step: null, failure_vm_exit: null, failure_console: null });
    row.state = result.next;
    if (row.state !== 'booting') this.restoring.delete(name);
    if (result.effects.some((e) => e.kind === 'restore-vm')) this.restoring.add(name);
    await poolDesktopUpdate(this.ctx.db, name, {
      state: row.state,
      since: row.since,
      last_error: row.last_error,
      failure_step: row.failure_step,
      failure_vm_exit: row.failure_vm_exit,
      failure_console: row.failure_console,
    });
    this.watchdogs.arm(row);
    try {
      for (const effect of result.effects) {
        if (row.state === 'retiring' && effect.kind === 'retire') {
          await this.retire(row);
          return desktopViewOf(row);
        }
        if ((await this.runEffect(row, pool, target, effect, queued, cause)) === 'stalled') break;
      }
    } catch (err) {
      // The state is recorded already: those waiting on the desktop hear of it, with what stopped its steps.
      await this.fail(row, `${event.type}: ${(err as Error).message}`).catch(() => undefined);
      this.emitDesktop(row);
      throw err;
    }
    this.emitDesktop(row);
    return desktopViewOf(row);
  }

  private emitDesktop(row: PoolDesktopRow): void {
    this.emit('desktop', desktopViewOf(row), { lastError: row.last_error, lastErrorCode: row.last_error === null ? undefined : this.failureCodes.get(row.name) });
  }

  /** Why the desktop fails now: the step it leaves, the recorded error, the VM's exit reason, the console's last line. */
  private async recordFailure(row: PoolDesktopRow, event: DesktopEvent): Promise<void> {
    const status = await this.ctx.vms.get(row.name).catch(() => undefined);
    const vmExit = this.exits.get(row.name) ?? status?.lastStopReason ?? null;
    const consoleTail = status ? (await this.ctx.vms.consoleLog(row.name, 4096).catch(() => Buffer.alloc(0))).toString('utf8') : null;
    const failure = desktopFailure(row.state as DesktopView['state'], event.type, { lastError: row.last_error, vmExit, consoleTail });
    this.log.warn({ desktop: row.name, failure }, `desktop ${row.name} failed: ${failure.message}`);
    Object.assign(row, { last_error: failure.message, failure_step: failure.step, failure_vm_exit: failure.vmExit, failure_console: failure.consoleLine });
  }

  /** The code of the desktop's last failed step when a waiting connect passes it on (the failure may precede the wait). */
  failureCodeOf(name: string): ErrorCode | undefined {
    return this.failureCodes.get(name);
  }

  private async fail(row: PoolDesktopRow, message: string, code?: ErrorCode): Promise<void> {
    if (this.closing) return; // the daemon's own stop cut the step short: not the desktop's failure
    row.last_error = message;
    if (code) this.failureCodes.set(row.name, code);
    else this.failureCodes.delete(row.name);
    await poolDesktopUpdate(this.ctx.db, row.name, { last_error: message });
  }

  private runEffect(row: PoolDesktopRow, pool: Pool, target: number | null, effect: DesktopEffect, queued: Array<[string, DesktopEvent]>, cause: string | null): Promise<void | 'stalled'> {
    return runDesktopEffect(
      {
        steps: this.steps,
        homeSteps: this.homeSteps,
        templates: this.templates,
        fail: (r, message, code) => this.fail(r, message, code),
        stalled: (name) => void this.stalledResets.add(name),
        emit: (event: 'login-stage' | 'disconnect-clients', name: string, stage?: 'spare' | 'home-attached') => (event === 'login-stage' ? this.emit(event, name, stage!) : this.emit(event, name)),
        retire: (r) => this.retire(r),
      },
      row,
      pool,
      target,
      effect,
      (event) => queued.push([row.name, event]),
      cause,
    );
  }

  /** The VM of a pool desktop: the pool's size, the image's boot profile, the linked clone; no home (hot-plugged). */
  vmSpec(row: PoolDesktopRow, pool: Pool): Promise<VmSpec> {
    return desktopVmSpec(this.ctx, pool, row.name, row.image, this.ctx.paths.desktopSystem(row.name));
  }

  private get steps(): DesktopVmSteps {
    return { ctx: this.ctx, templates: this.templates, guests: this.guests, log: this.log };
  }

  private get homeSteps(): DesktopHomeSteps {
    return { ...this.steps, homes: this.homes, keyboardLayoutOf: this.opts.keyboardLayoutOf };
  }

  /** The template exists but failed its check: desktops boot, and it is built again. */
  private async templateUnusable(pool: Pool, row: PoolDesktopRow, err: Error): Promise<undefined> {
    await this.templates.rebuild(pool, row.image, row.version, err.message).catch(() => undefined);
    return undefined;
  }

  /** Follows a running desktop VM: guest helper messages, guest reboots and shutdowns, the exit. */
  watch(name: string): Promise<DesktopGuest | undefined> {
    return this.guests.watch(name);
  }

  /** A VM on an agent's host reported running after its start's wait: a booting desktop is followed now (desktop-reconcile.ts). */
  remoteVmStartedLate(name: string): Promise<void> {
    return this.closing ? Promise.resolve() : followLateStart({ steps: this.steps, watch: (n) => this.watch(n) }, name);
  }

  /** Copies the home plugged into the running pool desktop `name` (backup); false when it has none plugged. */
  async homeCopy(name: string, target: string, sizeBytes: number): Promise<boolean> {
    return (await this.guests.get(name)?.copyHome(target, sizeBytes)) ?? false;
  }

  /** Whether the guest's clipboard agent is up in the desktop's session. */
  clipboardReadyOf(name: string): boolean {
    return this.guests.get(name)?.clipboardReady ?? false;
  }

  /** First clone of a new desktop (state provisioning). */
  provision(row: PoolDesktopRow, pool: Pool): Promise<void> {
    return provisionDesktop(this.ctx, row, pool);
  }

  /** Every step idempotent (re-run after a crash): VM off, home released, definition, files and row gone. */
  private async retire(row: PoolDesktopRow): Promise<void> {
    await stopDesktopVm(this.steps, row.name, true);
    this.guests.forget(row.name);
    this.failureCodes.delete(row.name);
    await releaseHome(this.homeSteps, row);
    await this.ctx.vms.undefine(row.name).catch((err: ArdesiaError) => {
      if (err.code !== 'VM_NOT_FOUND') throw err;
    });
    await rm(dirname(this.ctx.paths.desktopSystem(row.name)), { recursive: true, force: true });
    await this.ctx.db.deleteFrom('pool_desktops').where('name', '=', row.name).execute();
    this.watchdogs.clear(row.name);
    this.emit('desktop-removed', row.name);
  }

  /** A booting or logging-off desktop's time ran out: failed, or forced off (desktop-watchdogs.ts). */
  private async watchdogExpired(name: string, armed: { state: string; since: string }, event: DesktopEvent, timeoutMs: number): Promise<void> {
    const now = await requirePoolDesktop(this.ctx.db, name).catch(() => undefined);
    if (now?.state !== armed.state || now.since !== armed.since) return;
    if (event.type === 'boot-failed') await this.fail(now, `the guest helper did not report ready within ${Math.round(timeoutMs / 1000)} s`);
    await this.fireQuietly(name, event);
  }

  /** After a daemon restart: finish what was cut short and re-attach to desktops whose VM still runs (desktop-reconcile.ts). */
  reconcile(row: PoolDesktopRow): Promise<void> {
    return reconcileDesktop(
      {
        steps: this.steps,
        targetVersion: (pool) => targetVersionOf(this.ctx, pool),
        locked: (name, fn) => this.locked(name, fn),
        fail: (r, message) => this.fail(r, message),
        fire: (name, event) => this.fireQuietly(name, event),
        watch: (name) => this.watch(name),
        arm: (r) => this.watchdogs.arm(r),
      },
      row,
    );
  }

  /** From now on, events and step failures are left for the next daemon's reconcile (the daemon is stopping). */
  beginClose(): void {
    this.closing = true;
  }

  close(): void {
    this.closing = true;
    this.watchdogs.clearAll();
    this.guests.closeAll();
  }
}
