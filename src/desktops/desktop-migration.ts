// A persistent pool desktop moved live to another host (a drain, `vm migrate`): held still under its lock, so no
// lifecycle step runs meanwhile (a logoff waits for the move); its plugged home is carried (plugged into the destination
// before the state arrives) and the home's sanlock lease handed over between the source's completion and the
// destination's resume. Once there, its guest is followed on the new host and the lease recorded with the new QEMU — also
// when the controller stopped before recording the move and finds it finished when it is back.
import { type MigratingDisk, type MigratingLease } from '../contract/agent.js';
import { ArdesiaError } from '../contract/errors.js';
import { DESKTOP_LIVE_MOVE_STATES } from '../contract/pools.js';
import type { DesktopCarried } from '../cluster/vm-migrations.js';
import { poolNeed } from '../cluster/hosts.js';
import { HOME_DISK } from './desktop-guest.js';
import type { DesktopHomeSteps } from './desktop-home-steps.js';
import { recordHost } from './desktop-vm-steps.js';
import { type PoolDesktopRow, poolOf, requirePool, requirePoolDesktop } from './pool-repo.js';

/** How long a move waits for the desktop's guest channel to connect before it begins. */
const GUEST_CHANNEL_SETTLE_MS = 10_000;

/** Runs `move` on desktop `name` (the caller holds its lock), then follows the desktop where it went. */
export async function desktopMoveLive<T>(s: DesktopHomeSteps, name: string, move: (carried: DesktopCarried) => Promise<T>): Promise<T> {
  const row = await requirePoolDesktop(s.ctx.db, name);
  const pool = poolOf(await requirePool(s.ctx.db, row.pool));
  if (!pool.persistent) throw new ArdesiaError('VM_NOT_MIGRATABLE', `vm ${name} is a desktop of pool ${pool.name}, which is not persistent: it moves at its next logoff`);
  if (!DESKTOP_LIVE_MOVE_STATES.has(row.state)) throw new ArdesiaError('VM_NOT_MIGRATABLE', `desktop ${name} is ${row.state}: a persistent desktop moves live once it is ready, in use or disconnected`);
  const guest = await s.guests.watch(name);
  if (!guest) throw new ArdesiaError('VM_NOT_RUNNING', `desktop ${name} is not running`);
  // Not while its guest channel is connecting (a controller just back watches its desktops again): see channelSettled.
  if (!(await guest.channelSettled(GUEST_CHANNEL_SETTLE_MS))) s.log.warn({ desktop: name }, `desktop ${name}: its guest channel is not connected; it moves all the same`);
  const home = (await s.homes.list()).find((h) => h.leasedTo === name);
  // Asked of its QEMU now, not taken from the guest's flag: after a controller restart that flag is set by a question its
  // agent may not have been linked to answer, and a move that left a plugged home out fails at the destination.
  if (home) await guest.adoptHome();
  const disks: MigratingDisk[] = home && guest.hasHome ? [{ ...HOME_DISK, path: s.ctx.paths.home(home.user) }] : [];
  const lease = home ? await s.homes.leaseToCarry(home.user, name) : undefined;
  const leases: MigratingLease[] = lease ? [lease] : [];
  const result = await s.guests.whileMoving(name, () => move({ need: poolNeed(pool), disks, leases }));
  await desktopFollow(s, row, home?.user, lease !== undefined);
  return result;
}

/** A move found finished but unrecorded (the controller stopped between the destination's resume and the record;
 *  cluster/vm-migrations.ts): `record` run with the desktop held still (the caller holds its lock), then the desktop
 *  followed on its new host as after any move. Whether the move was recorded. */
export async function desktopArrived(s: DesktopHomeSteps, name: string, record: () => Promise<boolean>): Promise<boolean> {
  const { row, home, leased } = await movingDesktop(s, name);
  if (!(await s.guests.whileMoving(name, record))) return false;
  await desktopFollow(s, row, home?.user, leased);
  return true;
}

/** A move whose destination may have run the desktop before it went down (cluster/vm-migrations.ts destinationDown):
 *  `record` run with the desktop held still (the caller holds its lock), then the desktop recorded on that host and its
 *  home's lease as taken there (by a QEMU gone with its host): the host-loss rules end the session and re-serve the
 *  user, and the home's release asks nothing of the dead host. Whether the move was recorded. */
export async function desktopLostWith(s: DesktopHomeSteps, name: string, host: string, record: () => Promise<boolean>): Promise<boolean> {
  const { row, home, leased } = await movingDesktop(s, name);
  if (!(await s.guests.whileMoving(name, record))) return false;
  await recordHost(s.ctx, row);
  s.guests.forget(name);
  if (home !== undefined && leased) await s.homes.leaseMoved(home.user, name, null, host);
  s.log.warn({ desktop: name, host, home: home?.user ?? null }, `desktop ${name} recorded on host ${host}, which is down: its move there may have run it`);
  return true;
}

/** A desktop whose move is being recorded: its row, the home leased to it, and whether that home's lease went with the
 *  VM (the destination took it before its resume: what is left is the store's record of it). */
async function movingDesktop(s: DesktopHomeSteps, name: string) {
  const row = await requirePoolDesktop(s.ctx.db, name);
  const home = (await s.homes.list()).find((h) => h.leasedTo === name);
  const leased = home !== undefined && (await s.homes.leaseToCarry(home.user, name)) !== undefined;
  return { row, home, leased };
}

/** After a move: the desktop's host recorded, its guest channel, home plug and lease holder the new QEMU's. */
async function desktopFollow(s: DesktopHomeSteps, row: PoolDesktopRow, homeUser: string | undefined, leased: boolean): Promise<void> {
  const name = row.name;
  await recordHost(s.ctx, row);
  // Its QEMU is another now: the guest channel, the home's plug and the lease's holder are the new host's.
  s.guests.forget(name);
  const arrived = await s.guests.watch(name);
  if (!arrived) {
    s.log.warn({ desktop: name }, `desktop ${name} moved, but its VM is not seen running on its new host yet`);
    return;
  }
  await arrived.adoptHome();
  if (homeUser !== undefined && leased) await s.homes.leaseMoved(homeUser, name, arrived.pid, arrived.host);
  s.log.info({ desktop: name, host: arrived.host, pid: arrived.pid, home: homeUser ?? null }, `desktop ${name} moved live to host ${arrived.host ?? 'of the controller'}${homeUser !== undefined ? ` with the home of ${homeUser}` : ''}`);
}
