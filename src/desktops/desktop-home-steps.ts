// The home and guest steps of a pool desktop's lifecycle effects (pool-machine.ts runs them): the user's home leased
// and plugged into the desktop's VM, unplugged and released, and the guest helper told to start or end the session.
// The VM may run on the controller's host or an agent's (DesktopGuest hides which).
import { ArdesiaError } from '../contract/errors.js';
import type { Pool } from '../contract/pools.js';
import { vmRunning } from '../images/context.js';
import { assignMessage } from './desktop-guest.js';
import { type DesktopVmSteps, stopDesktopVm, until } from './desktop-vm-steps.js';
import type { HomeService } from './homes.js';
import type { PoolDesktopRow } from './pool-repo.js';

/** How long a step waits for the guest channel of a desktop on an agent's host to be dialled again. */
const GUEST_REDIAL_WAIT_MS = 10_000;

export interface DesktopHomeSteps extends DesktopVmSteps {
  homes: HomeService;
  /** The user's XKB layout (the session applies it in the guest). */
  keyboardLayoutOf(user: string): Promise<string | undefined>;
}

/** A scratch-home pool's desktop has its blank home from its start. Otherwise: the user's home made if new, leased (with serve --home-leases, sanlock's lease for this QEMU on its host too), then
 *  plugged in; the lease given back when the plug fails. */
export async function attachHome(s: DesktopHomeSteps, row: PoolDesktopRow, pool: Pool, user: string): Promise<void> {
  const guest = await s.guests.watch(row.name);
  if (!guest) throw new ArdesiaError('VM_NOT_RUNNING', `desktop ${row.name} is not running`);
  if (pool.home === 'scratch') return; // its blank home disk came with the VM (desktop-vm.ts); nothing of the user's to plug
  await s.homes.ensure(user, pool.homeSizeBytes, 'broker');
  await s.homes.lease(user, row.name, guest.pid, guest.host);
  try {
    await guest.plugHome(s.ctx.paths.home(user));
  } catch (err) {
    await s.homes.release(user, row.name);
    throw err;
  }
}

/** Unplugs the home if the VM still runs (forcing the VM off if the guest will not let go), then releases the lease. */
export async function releaseHome(s: DesktopHomeSteps, row: PoolDesktopRow): Promise<void> {
  const guest = s.guests.get(row.name);
  if (guest?.hasHome && (await vmRunning(s.ctx, row.name))) {
    const unplugged = await guest.unplugHome().catch(() => false);
    if (!unplugged) {
      s.log.warn({ desktop: row.name }, `the guest of ${row.name} did not release the home volume; stopping it by force`);
      await stopDesktopVm(s, row.name, true);
    }
  }
  const home = (await s.homes.list()).find((h) => h.leasedTo === row.name);
  if (home) await s.homes.release(home.user, row.name);
}

export async function notifyGuest(s: DesktopHomeSteps, row: PoolDesktopRow, message: { type: 'assign'; user: string } | { type: 'logoff' }): Promise<void> {
  const guest = await s.guests.watch(row.name);
  // A desktop on an agent's host is dialled again after a controller restart or a relink: a moment's wait, not a failure.
  if (guest?.host !== undefined) await until(() => guest.channel.isConnected, GUEST_REDIAL_WAIT_MS);
  if (!guest?.channel.isConnected) throw new ArdesiaError('VM_NOT_RUNNING', `the guest helper of ${row.name} is not connected`);
  if (message.type === 'logoff') return guest.channel.send({ type: 'logoff' });
  guest.channel.send(assignMessage(message.user, await s.keyboardLayoutOf(message.user)));
}
