// Store access for pools and pool desktops: rows ↔ wire views, nothing else.
import type { NotNull, Selectable } from 'kysely';
import { ArdesiaError } from '../contract/errors.js';
import { type DesktopFailure, type DesktopFailureStep, Pool, type DesktopState, type DesktopView } from '../contract/pools.js';
import type { Store } from '../store/db.js';
import type { PoolDesktopTable, PoolTable } from '../store/schema-pools.js';

export type PoolRow = Selectable<PoolTable>;
export type PoolDesktopRow = Selectable<PoolDesktopTable>;

export const nowIso = (): string => new Date().toISOString();

export function poolOf(row: PoolRow): Pool {
  return Pool.parse(JSON.parse(row.spec));
}

export function desktopViewOf(row: PoolDesktopRow): DesktopView {
  return { name: row.name, pool: row.pool, state: row.state as DesktopState, user: row.user, host: row.host, imageVersion: row.version, since: row.since, failure: failureOf(row) };
}

/** A failed desktop's reason from its row; one that failed before reasons were recorded says so. */
function failureOf(row: PoolDesktopRow): DesktopFailure | null {
  if (row.state !== 'failed') return null;
  return {
    step: (row.failure_step ?? 'boot') as DesktopFailureStep,
    message: row.last_error ?? 'no reason was recorded (it failed under an older Ardesia); retry it, or see `ardesia vm log` for its console',
    vmExit: row.failure_vm_exit,
    consoleLine: row.failure_console,
  };
}

export const poolGet = (db: Store, name: string) => db.selectFrom('pools').selectAll().where('name', '=', name).executeTakeFirst();
export const poolList = (db: Store) => db.selectFrom('pools').selectAll().orderBy('name').execute();

export async function requirePool(db: Store, name: string): Promise<PoolRow> {
  const row = await poolGet(db, name);
  if (!row) throw new ArdesiaError('POOL_NOT_FOUND', `pool ${name} does not exist`);
  return row;
}

export const poolDesktopGet = (db: Store, name: string) => db.selectFrom('pool_desktops').selectAll().where('name', '=', name).executeTakeFirst();
export const poolDesktopsOf = (db: Store, pool: string) => db.selectFrom('pool_desktops').selectAll().where('pool', '=', pool).orderBy('name').execute();
export const poolDesktopsAll = (db: Store) => db.selectFrom('pool_desktops').selectAll().orderBy('name').execute();
/** The desktops someone has (in session, assigned, or a persistent one's owner), over every pool: sessions are among them. */
export const poolDesktopsOwned = (db: Store) => db.selectFrom('pool_desktops').selectAll().where('user', 'is not', null).$narrowType<{ user: NotNull }>().orderBy('name').execute();
/** How many desktops each pool has in each state, and how many of those someone has (the metrics' gauges). */
export async function poolDesktopCounts(db: Store): Promise<Array<{ pool: string; state: DesktopState; count: number; owned: number }>> {
  const rows = await db.selectFrom('pool_desktops').select((eb) => ['pool', 'state', eb.fn.countAll().as('count'), eb.fn.count('user').as('owned')]).groupBy(['pool', 'state']).orderBy('pool').orderBy('state').execute();
  // PostgreSQL's count is a bigint, which pg hands over as text.
  return rows.map((r) => ({ pool: r.pool, state: r.state as DesktopState, count: Number(r.count), owned: Number(r.owned) }));
}
/** How many desktops each pool has in each state on each image version (a list of pools counts them without their rows). */
export async function poolDesktopGroups(db: Store): Promise<Array<{ pool: string; state: DesktopState; version: number; count: number }>> {
  const rows = await db.selectFrom('pool_desktops').select((eb) => ['pool', 'state', 'version', eb.fn.countAll().as('count')]).groupBy(['pool', 'state', 'version']).execute();
  return rows.map((r) => ({ pool: r.pool, state: r.state as DesktopState, version: r.version, count: Number(r.count) }));
}
/** The desktops booting now, over every pool (what the boot-storm limit counts): not every pool desktop's row. */
export const poolDesktopsBooting = (db: Store) => db.selectFrom('pool_desktops').select(['name', 'state']).where('state', '=', 'booting').orderBy('name').execute();

export async function requirePoolDesktop(db: Store, name: string): Promise<PoolDesktopRow> {
  const row = await poolDesktopGet(db, name);
  if (!row) throw new ArdesiaError('DESKTOP_NOT_FOUND', `desktop ${name} does not exist`);
  return row;
}

export async function poolDesktopUpdate(db: Store, name: string, patch: Partial<Omit<PoolDesktopRow, 'name' | 'pool' | 'created_at'>>): Promise<void> {
  await db.updateTable('pool_desktops').set(patch).where('name', '=', name).execute();
}
