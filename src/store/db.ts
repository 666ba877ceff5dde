// Opens the embedded SQLite store (better-sqlite3 12 under Kysely) and brings its schema up to date.
import SqliteDatabase from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, type MigrationProvider } from 'kysely';
import { AUTH_MIGRATIONS } from './migrations-auth.js';
import { POOL_MIGRATIONS } from './migrations-pools.js';
import { NETBOOT_MIGRATIONS } from './migrations-netboot.js';
import { MIGRATIONS } from './migrations.js';
import type { Database } from './schema.js';

export type Store = Kysely<Database>;

export async function openStore(path: string): Promise<Store> {
  const sqlite = new SqliteDatabase(path);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  const provider: MigrationProvider = { getMigrations: async () => ({ ...MIGRATIONS, ...AUTH_MIGRATIONS, ...POOL_MIGRATIONS, ...NETBOOT_MIGRATIONS }) };
  const { error } = await new Migrator({ db, provider }).migrateToLatest();
  if (error) {
    await db.destroy();
    throw error;
  }
  return db;
}
