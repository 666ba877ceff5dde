// Opens the embedded SQLite store (better-sqlite3 12 under Kysely) and brings its schema up to date.
import SqliteDatabase from 'better-sqlite3';
import { chmodSync, closeSync, existsSync, openSync } from 'node:fs';
import { Kysely, Migrator, SqliteDialect, type MigrationProvider } from 'kysely';
import { AUTH_MIGRATIONS } from './migrations-auth.js';
import { POOL_MIGRATIONS } from './migrations-pools.js';
import { NETBOOT_MIGRATIONS } from './migrations-netboot.js';
import { MIGRATIONS } from './migrations.js';
import type { Database } from './schema.js';

export type Store = Kysely<Database>;

/** The store and its -wal/-shm files: read and written by the daemon's account only. */
export const STORE_FILE_MODE = 0o600;

export async function openStore(path: string): Promise<Store> {
  // Password hashes, sessions and token hashes: owner-only. Created 0600 before SQLite opens it, and set
  // again for a store made by an older version; SQLite gives -wal and -shm the mode of the database file.
  const onDisk = path !== ':memory:' && path !== '';
  if (onDisk) {
    closeSync(openSync(path, 'a', STORE_FILE_MODE));
    chmodSync(path, STORE_FILE_MODE);
  }
  const sqlite = new SqliteDatabase(path);
  sqlite.pragma('journal_mode = WAL');
  if (onDisk) for (const side of [`${path}-wal`, `${path}-shm`]) if (existsSync(side)) chmodSync(side, STORE_FILE_MODE);
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
