// The store's record of home leases: each host's sanlock host id, each home's resource slot, and who holds
// the lease (host, desktop, QEMU pid, generation) for the console and the audit. sanlock enforces; this records.
import type { Store } from '../../store/db.js';
import type { HomeLeaseTable } from '../../store/schema-hosts.js';
import { MAX_HOST_ID, smallestFree } from './layout.js';
import { ArdesiaError } from '../../contract/errors.js';

export type HomeLeaseRow = HomeLeaseTable;

/** A unique-constraint race with another host's daemon: try the next free number. */
const TRIES = 5;

/** This host's id in the site lockspace, given once (the smallest free) and kept. */
export async function leaseHostId(db: Store, host: string): Promise<number> {
  for (let i = 0; i < TRIES; i++) {
    const mine = await db.selectFrom('lease_host_ids').select('host_id').where('host', '=', host).executeTakeFirst();
    if (mine) return mine.host_id;
    const used = (await db.selectFrom('lease_host_ids').select('host_id').execute()).map((r) => r.host_id);
    const free = smallestFree(used, 1, MAX_HOST_ID);
    if (free === undefined) throw new ArdesiaError('HOME_LEASE_FAILED', `all ${MAX_HOST_ID} sanlock host ids are given: remove old hosts from lease_host_ids`);
    try {
      await db.insertInto('lease_host_ids').values({ host, host_id: free }).execute();
    } catch {
      // another host took `free` (or this host's row appeared) meanwhile: look again
    }
  }
  throw new ArdesiaError('HOME_LEASE_FAILED', `could not give host ${host} a sanlock host id`);
}

export const homeLeaseGet = (db: Store, user: string) => db.selectFrom('home_leases').selectAll().where('user', '=', user).executeTakeFirst();

/** The home's lease row, its slot given (the smallest free) on first need. */
export async function homeLeaseSlot(db: Store, user: string, resourceName: (slot: number) => string): Promise<HomeLeaseRow> {
  for (let i = 0; i < TRIES; i++) {
    const row = await homeLeaseGet(db, user);
    if (row) return row;
    const used = (await db.selectFrom('home_leases').select('slot').execute()).map((r) => r.slot);
    const slot = smallestFree(used, 0)!;
    try {
      await db.insertInto('home_leases').values({ user, slot, resource: resourceName(slot), ready: 0, generation: 0, holder_host: null, holder_desktop: null, holder_pid: null, acquired_at: null }).execute();
    } catch {
      // another daemon gave this slot (or this user a row) meanwhile: look again
    }
  }
  throw new ArdesiaError('HOME_LEASE_FAILED', `could not give the home of ${user} a lease slot`);
}

/** Whether this caller is the one to initialise the home's resource (ready 0 → 2): two hosts' first logins at once
 *  must not both initialise it, or the second would wipe the lease the first just took. */
export async function homeLeaseClaimInit(db: Store, user: string): Promise<boolean> {
  const res = await db.updateTable('home_leases').set({ ready: 2 }).where('user', '=', user).where('ready', '=', 0).executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

export async function homeLeaseReady(db: Store, user: string): Promise<void> {
  await db.updateTable('home_leases').set({ ready: 1 }).where('user', '=', user).execute();
}

/** Records the acquisition: the next generation, held by `pid` of `desktop` on `host` (null: a QEMU gone with its host). */
export async function homeLeaseHeld(db: Store, user: string, holder: { host: string; desktop: string; pid: number | null }, at: string): Promise<number> {
  const row = await db
    .updateTable('home_leases')
    .set((eb) => ({ generation: eb('generation', '+', 1), holder_host: holder.host, holder_desktop: holder.desktop, holder_pid: holder.pid, acquired_at: at }))
    .where('user', '=', user)
    .returning('generation')
    .executeTakeFirstOrThrow();
  return row.generation;
}

/** Clears the holder when it is still `desktop` on `host` (a later holder elsewhere is kept). */
export async function homeLeaseFreed(db: Store, user: string, host: string, desktop: string): Promise<void> {
  await db.updateTable('home_leases').set({ holder_host: null, holder_desktop: null, holder_pid: null, acquired_at: null }).where('user', '=', user).where('holder_host', '=', host).where('holder_desktop', '=', desktop).execute();
}
