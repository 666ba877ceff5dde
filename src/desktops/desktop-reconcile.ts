// After a daemon restart, each pool desktop is taken up where its state says (pool-machine.ts reconcile): a retire or
// a first clone cut short is finished, a reset re-clones, a desktop whose VM is gone has the matching event, and one
// whose VM still runs is watched again and its guest helper asked what it does now; a boot whose start was reported late
// is followed when it is.
import type { Pool } from '../contract/pools.js';
import { DAEMON_STOP_REASON } from '../contract/vm.js';
import { vmRunning } from '../images/context.js';
import type { DesktopGuest } from './desktop-guest.js';
import { type DesktopVmSteps, recloneDesktop, until } from './desktop-vm-steps.js';
import type { DesktopEvent } from './lifecycle.js';
import { poolDesktopGet, poolOf, type PoolDesktopRow, requirePool } from './pool-repo.js';

/** What the reconcile uses of the desktop machine. */
export interface ReconcileSteps {
  steps: DesktopVmSteps;
  targetVersion(pool: Pool): Promise<number | null>;
  locked<T>(name: string, fn: () => Promise<T>): Promise<T>;
  fail(row: PoolDesktopRow, message: string): Promise<void>;
  fire(name: string, event: DesktopEvent): Promise<void>;
  watch(name: string): Promise<DesktopGuest | undefined>;
  /** The desktop's watchdog (a boot or a logoff bounded in time) armed again for its state. */
  arm(row: PoolDesktopRow): void;
}

export async function reconcileDesktop(m: ReconcileSteps, row: PoolDesktopRow): Promise<void> {
  const { ctx, log } = m.steps;
  const state = row.state;
  if (state === 'retiring' || state === 'provisioning') return m.fire(row.name, { type: 'retire' });
  if (state === 'resetting') {
    await m.locked(row.name, async () => {
      const pool = poolOf(await requirePool(ctx.db, row.pool));
      await recloneDesktop(m.steps, row, pool, await m.targetVersion(pool));
    }).then(
      () => m.fire(row.name, { type: 'reset-done' }),
      async (err: Error) => {
        await m.fail(row, `re-cloning the system disk after a daemon restart failed: ${err.message}`);
        await m.fire(row.name, { type: 'reset-failed' });
      },
    );
    return;
  }
  if (state === 'stopped' || state === 'failed') return;
  if (!(await vmRunning(ctx, row.name))) {
    // The daemon's own stop (--stop-vms-on-exit) is recorded as such: back to the cold tier, not failed.
    const status = await ctx.vms.get(row.name).catch(() => undefined);
    return m.fire(row.name, { type: status?.lastStopReason === DAEMON_STOP_REASON ? 'daemon-stopped' : 'vm-exited' });
  }
  const guest = await m.watch(row.name);
  await guest?.adoptHome().catch(() => undefined);
  m.arm(row);
  if (!guest) return;
  // Asked what it does now once the channel is up: at once here, or when a desktop on an agent's host is reached again
  // (its agent relinks after the controller's restart); the home is looked for again then too.
  const resync = async () => {
    if (guest.host !== undefined) await guest.adoptHome().catch(() => undefined);
    if (guest.channel.isConnected) guest.channel.send({ type: 'ping' });
  };
  await until(() => guest.channel.isConnected, 5_000);
  if (guest.channel.isConnected) await resync();
  else guest.channel.once('connected', () => void resync().catch((err: Error) => log.warn({ err, desktop: row.name }, `desktop ${row.name}: asking its guest helper what it does failed`)));
}

/** A VM on an agent's host reported running only after its start's wait (a host still joining the lockspace, a slow
 *  image check). A booting desktop whose guest was not followed then is now, so its guest's `ready` reaches the desktop
 *  instead of the boot watchdog failing it. */
export async function followLateStart(m: Pick<ReconcileSteps, 'steps' | 'watch'>, name: string): Promise<void> {
  if (m.steps.guests.has(name) || (await poolDesktopGet(m.steps.ctx.db, name))?.state !== 'booting') return;
  m.steps.log.info({ desktop: name }, `desktop ${name}: its VM reported running after its start's wait; its guest is followed now`);
  await m.watch(name);
}
