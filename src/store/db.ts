// Opens the store and brings its schema up to date: embedded SQLite (better-sqlite3 12 under Kysely, the
// default) or PostgreSQL (node-postgres under Kysely), with the same migrations (dialect.ts holds what differs).
import SqliteDatabase from 'better-sqlite3';
import { chmodSync, closeSync, existsSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { Kysely, PostgresDialect, SqliteDialect, type LogEvent, type Migration } from 'kysely';
import pg from 'pg';
import { ArdesiaError } from '../contract/errors.js';
import { AUTH_MIGRATIONS } from './migrations-auth.js';
import { POOL_MIGRATIONS } from './migrations-pools.js';
import { NETBOOT_MIGRATIONS } from './migrations-netboot.js';
import { HOST_MIGRATIONS } from './migrations-hosts.js';
import { MIGRATIONS } from './migrations.js';
import { TIMELINE_MIGRATIONS } from './migrations-timeline.js';
import { CONTROLLER_MIGRATIONS } from './migrations-controller.js';
import { fenceEveryTable, TERM_SETTING } from './controller-fence.js';
import { migrateStore, type MigrateResult } from './migrate.js';
import { postgresUpgradeBackup, sqliteUpgradeBackup } from './upgrade-backup.js';
import type { Database } from './schema.js';
import { queryLogged } from './query-count.js';

export type Store = Kysely<Database>;

/** The store and its -wal/-shm files: read and written by the daemon's account only. */
export const STORE_FILE_MODE = 0o600;

export type StoreLocation = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

/** Pure: where the store is, from --database (or ARDESIA_DATABASE): unset or `sqlite` is DATA_DIR/ardesia.db. */
export function storeLocation(database: string | undefined, dataDir: string): StoreLocation {
  const given = database?.trim() ?? '';
  if (given === '' || given === 'sqlite') return { kind: 'sqlite', path: join(dataDir, 'ardesia.db') };
  const normalized = socketUrlNormalized(given);
  let url: URL;
  try {
    url = new URL(normalized);
  } catch {
    throw new ArdesiaError('DATABASE_URL_INVALID', `--database ${redactUrl(given)} is neither "sqlite" nor a URL`);
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') throw new ArdesiaError('DATABASE_URL_INVALID', `--database: ${url.protocol.replace(/:$/, '')} is not a store Ardesia speaks (postgres:// or sqlite)`);
  if (url.pathname.replace(/^\//, '') === '') throw new ArdesiaError('DATABASE_URL_INVALID', `--database ${redactUrl(given)} names no database (postgres://HOST/DATABASE)`);
  return { kind: 'postgres', url: normalized };
}

/**
 * libpq's and node-postgres's socket form with a user and no host, `postgres://USER[:PASSWORD]@/DB?host=/run/postgresql`,
 * is no WHATWG URL (userinfo needs a host): the same connection as `postgres:///DB?host=…&user=USER[&password=…]`,
 * which it is. Anything else is returned as given.
 */
export function socketUrlNormalized(given: string): string {
  const m = /^(postgres(?:ql)?:\/\/)([^@/?#]*)@(\/[^?#]*)?(\?[^#]*)?$/i.exec(given);
  if (!m) return given;
  const [, scheme, userinfo, path, query] = m;
  const colon = userinfo!.indexOf(':');
  const params = new URLSearchParams(query?.slice(1) ?? '');
  const user = decodeURIComponent(colon < 0 ? userinfo! : userinfo!.slice(0, colon));
  if (user !== '') params.set('user', user);
  if (colon >= 0) params.set('password', decodeURIComponent(userinfo!.slice(colon + 1)));
  const search = params.toString();
  return `${scheme}${path ?? '/'}${search === '' ? '' : `?${search}`}`;
}

/** Pure: a database URL fit for messages and logs, its password replaced (in the userinfo or a `password=` parameter). */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^:/@]*):[^@/]*@/i, '$1:***@').replace(/([?&]password=)[^&#]*/gi, '$1***');
}

/** Every migration this build knows, from each domain's file (names sort globally). */
export const ALL_MIGRATIONS: Record<string, Migration> = { ...MIGRATIONS, ...AUTH_MIGRATIONS, ...POOL_MIGRATIONS, ...NETBOOT_MIGRATIONS, ...HOST_MIGRATIONS, ...TIMELINE_MIGRATIONS, ...CONTROLLER_MIGRATIONS };

export interface OpenStoreOptions {
  /** Where PostgreSQL's automatic pre-upgrade dumps go (the daemon: DATA_DIR/store-backups); SQLite's lie next to the store. */
  upgradeBackupDir?: string;
  /** The migrations to bring the store to (tests give fewer, to make an older store); default every one. */
  migrations?: Record<string, Migration>;
  /** Told what the upgrade did (the daemon logs it). */
  onMigrated?(result: MigrateResult): void;
  /** PostgreSQL: the leading controller's term, carried by every connection of the pool (the fence checks it). */
  controllerTerm?: number;
  /** Told of every failed query (the daemon steps down when the fence refuses its term). */
  onQueryError?(error: unknown): void;
}

/** Opens the store at a SQLite path (`:memory:` too) or a location from storeLocation(), and upgrades it. */
export async function openStore(where: string | StoreLocation, opts: OpenStoreOptions = {}): Promise<Store> {
  const loc: StoreLocation = typeof where === 'string' ? { kind: 'sqlite', path: where } : where;
  const sqlite = loc.kind === 'sqlite' ? openSqliteFile(loc.path) : undefined;
  const log = (event: LogEvent) => {
    queryLogged();
    if (event.level === 'error') opts.onQueryError?.(event.error);
  };
  const db = sqlite ? new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }), log }) : new Kysely<Database>({ dialect: new PostgresDialect({ pool: postgresPool((loc as { url: string }).url, opts.controllerTerm) }), log });
  try {
    const result = await migrateStore(db, opts.migrations ?? ALL_MIGRATIONS, {
      beforeUpgrade: async (pending) => {
        if (sqlite) return loc.kind === 'sqlite' && isOnDisk(loc.path) ? sqliteUpgradeBackup(sqlite, loc.path, pending[0]!) : undefined;
        if (loc.kind === 'postgres' && opts.upgradeBackupDir) return postgresUpgradeBackup(loc.url, opts.upgradeBackupDir, pending[0]!);
        return undefined;
      },
    });
    if (result.applied.length > 0) opts.onMigrated?.(result);
    // Tables of migrations after the fence's own get it too (idempotent: only those without it).
    if (loc.kind === 'postgres' && result.applied.length > 0) await fenceEveryTable(db);
  } catch (error) {
    await db.destroy();
    if (loc.kind === 'postgres' && !(error instanceof ArdesiaError) && isConnectionError(error)) throw new ArdesiaError('DATABASE_UNREACHABLE', `PostgreSQL at ${redactUrl(loc.url)}: ${(error as Error).message}`);
    throw error;
  }
  return db;
}

/** The store as it is, not upgraded: an offline backup reads it (SQLite: the file must exist). */
export function openStoreAsIs(loc: StoreLocation): Store {
  if (loc.kind === 'postgres') return new Kysely<Database>({ dialect: new PostgresDialect({ pool: postgresPool(loc.url) }) });
  if (!existsSync(loc.path)) throw new ArdesiaError('STORE_UNREACHABLE', `there is no store at ${loc.path}: is this the data folder (--data-dir), or does the site keep its store in PostgreSQL (--database)?`);
  return new Kysely<Database>({ dialect: new SqliteDialect({ database: openSqliteFile(loc.path) }) });
}

const isOnDisk = (path: string) => path !== ':memory:' && path !== '';

function openSqliteFile(path: string): SqliteDatabase.Database {
  // Password hashes, sessions and token hashes: owner-only. Created 0600 before SQLite opens it, and set
  // again for a store made by an older version; SQLite gives -wal and -shm the mode of the database file.
  const onDisk = isOnDisk(path);
  if (onDisk) {
    closeSync(openSync(path, 'a', STORE_FILE_MODE));
    chmodSync(path, STORE_FILE_MODE);
  }
  const sqlite = new SqliteDatabase(path);
  sqlite.pragma('journal_mode = WAL');
  if (onDisk) for (const side of [`${path}-wal`, `${path}-shm`]) if (existsSync(side)) chmodSync(side, STORE_FILE_MODE);
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  return sqlite;
}

/** int8 as a JS number, as SQLite gives it: the store's bigints are sizes, ids and epoch ms, all below 2^53. */
const PG_TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => (oid === pg.types.builtins.INT8 && format !== 'binary' ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text'))) as typeof pg.types.getTypeParser,
};

function postgresPool(url: string, controllerTerm?: number): pg.Pool {
  // No connectionTimeoutMillis: pg-pool applies it to waiting for a free client too, failing queries under load
  // (seen at 50 readers); postgresConnect() bounds the leadership connection's first connect instead.
  const pool = new pg.Pool({ connectionString: controllerTerm === undefined ? url : urlWithTerm(url, controllerTerm), max: 10, types: PG_TYPES });
  // An idle client whose server went away: the next query reports it; unhandled it would end the daemon.
  pool.on('error', () => {});
  return pool;
}

/**
 * The term goes in the startup packet (the URL's `options`, which node-postgres prefers over its config's), added
 * to options the administrator gave: no connection of a controller's pool can exist without it.
 */
export function urlWithTerm(url: string, term: number): string {
  const u = new URL(url);
  const given = u.searchParams.get('options');
  u.searchParams.set('options', [given, `-c ${TERM_SETTING}=${term}`].filter((o) => o !== null && o.trim() !== '').join(' '));
  return u.toString();
}

function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && (/^E[A-Z]+$/.test(code) || code.startsWith('08') || code === '28P01' || code === '28000' || code === '3D000') || /timeout|terminated/i.test((err as Error).message ?? '');
}

/** One connection of its own (not the store's pool), connected; an unreachable server is DATABASE_UNREACHABLE. */
export async function postgresConnect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  client.on('error', () => {}); // a dropped connection is reported by the query that meets it
  try {
    await client.connect();
  } catch (err) {
    throw new ArdesiaError('DATABASE_UNREACHABLE', `PostgreSQL at ${redactUrl(url)}: ${(err as Error).message}`);
  }
  return client;
}
