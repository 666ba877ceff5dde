// The store's upgrade: forward-only migrations, each in its own transaction on both dialects, recorded in
// Kysely's kysely_migration table (stores made by the Migrator read the same), with the release that ran each.
import { type Kysely, type Migration, sql } from 'kysely';
import { ArdesiaError } from '../contract/errors.js';
import { ardesiaRelease } from '../lib/release.js';
import { dialectOf } from './dialect.js';
import { migrationPlan, newestRelease } from './migrate-plan.js';

/** Kysely's own bookkeeping table: kept so stores made by earlier releases (which used Kysely's Migrator) upgrade in place. */
export const MIGRATION_TABLE = 'kysely_migration';
/** Which release ran each migration: named when a store is newer than the daemon opening it. */
export const MIGRATION_RELEASE_TABLE = 'ardesia_migration_release';
/** Transaction-level advisory lock key on PostgreSQL: two processes never run the same migration. */
const MIGRATE_LOCK_KEY = 0x4d494752; // "MIGR"

export interface MigrateOptions {
  /** Called once before the first pending migration of a store that already has some: the automatic backup; returns where it is. */
  beforeUpgrade?(pending: string[]): Promise<string | undefined>;
  /** This build's release (package.json), recorded with each migration. */
  release?: string;
}

export interface MigrateResult {
  applied: string[];
  backup?: string;
}

/** The names recorded in a store as run (none for a new, empty store). */
export async function recordedMigrations(db: Kysely<any>): Promise<string[]> {
  await ensureBookkeeping(db);
  const rows = await db.selectFrom(MIGRATION_TABLE).select('name').execute();
  return rows.map((r) => String(r.name));
}

export async function migrateStore(db: Kysely<any>, migrations: Record<string, Migration>, opts: MigrateOptions = {}): Promise<MigrateResult> {
  const release = opts.release ?? ardesiaRelease();
  const recorded = await recordedMigrations(db);
  const plan = migrationPlan(Object.keys(migrations), recorded);
  if (plan.unknown.length > 0) throw await storeNewerError(db, plan.unknown, release);
  if (plan.pending.length === 0) return { applied: [] };
  const backup = recorded.length > 0 ? await opts.beforeUpgrade?.(plan.pending) : undefined;
  const applied: string[] = [];
  for (const name of plan.pending) {
    try {
      await db.transaction().execute(async (trx) => {
        if (dialectOf(db) === 'postgres') await sql`select pg_advisory_xact_lock(${MIGRATE_LOCK_KEY})`.execute(trx);
        // Another process may have run it meanwhile (PostgreSQL is shared): then it is done.
        if (await trx.selectFrom(MIGRATION_TABLE).select('name').where('name', '=', name).executeTakeFirst()) return;
        await migrations[name]!.up(trx);
        await trx.insertInto(MIGRATION_TABLE).values({ name, timestamp: new Date().toISOString() }).execute();
        await trx.insertInto(MIGRATION_RELEASE_TABLE).values({ name, release }).execute();
      });
    } catch (err) {
      if (err instanceof ArdesiaError) throw err;
      const done = applied.length ? ` (${applied.join(', ')} done before it)` : '';
      throw new ArdesiaError('STORE_UPGRADE_FAILED', `store migration ${name} failed and was rolled back${done}: ${(err as Error).message}${backup ? `; the store before the upgrade is in ${backup}` : ''}`, { migration: name, applied, backup }, undefined);
    }
    applied.push(name);
  }
  return { applied, backup };
}

/** The names recorded as run, read only (a backup must not change the store it copies). */
export async function recordedMigrationsRead(db: Kysely<any>): Promise<string[]> {
  const tables = await db.introspection.getTables();
  if (!tables.some((t) => t.name === MIGRATION_TABLE)) return [];
  return (await db.selectFrom(MIGRATION_TABLE).select('name').execute()).map((r) => String(r.name));
}

async function ensureBookkeeping(db: Kysely<any>): Promise<void> {
  // The same columns as Kysely's Migrator makes, so either may open the other's store.
  await db.schema.createTable(MIGRATION_TABLE).ifNotExists().addColumn('name', 'varchar(255)', (c) => c.notNull().primaryKey()).addColumn('timestamp', 'varchar(255)', (c) => c.notNull()).execute();
  await db.schema.createTable(MIGRATION_RELEASE_TABLE).ifNotExists().addColumn('name', 'varchar(255)', (c) => c.notNull().primaryKey()).addColumn('release', 'text', (c) => c.notNull()).execute();
}

async function storeNewerError(db: Kysely<any>, unknown: string[], release: string): Promise<ArdesiaError> {
  const rows = await db.selectFrom(MIGRATION_RELEASE_TABLE).select(['name', 'release']).where('name', 'in', unknown).execute();
  const needs = newestRelease(rows.map((r) => String(r.release)));
  const which = needs ? `Ardesia ${needs} or newer` : 'a newer Ardesia (one that knows these migrations)';
  return new ArdesiaError(
    'STORE_NEWER',
    `the store was upgraded by a newer release: it records migration${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}, which this Ardesia ${release} does not know; it needs ${which}`,
    { unknown, needs: needs ?? null, release },
  );
}
