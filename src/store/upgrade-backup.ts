// The automatic backup taken before a store's migrations run: SQLite through its online backup API into a
// file next to the store, PostgreSQL by pg_dump into the data folder; the KEEP most recent are kept.
import Sqlite from 'better-sqlite3';
import type SqliteDatabase from 'better-sqlite3';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { postgresDump } from './postgres-tools.js';

/** How many automatic pre-upgrade backups stay (older ones are removed after a new one is written). */
export const UPGRADE_BACKUPS_KEPT = 3;
const MARK = '.pre-upgrade-';

/** Pure: the backup's file name; sortable by time (ISO without colons), naming the first migration it precedes. */
export function upgradeBackupName(base: string, at: Date, firstPending: string): string {
  return `${base}${MARK}${at.toISOString().replace(/[:.]/g, '-')}-${firstPending.replace(/[^A-Za-z0-9_-]/g, '_')}`;
}

/** Pure: which of a folder's files are older automatic backups of `base` beyond the `keep` newest. */
export function upgradeBackupsToPrune(files: string[], base: string, keep: number): string[] {
  const ours = files.filter((f) => f.startsWith(`${base}${MARK}`) && !/-(wal|shm|journal)$/.test(f)).sort();
  return ours.slice(0, Math.max(0, ours.length - keep));
}

function prune(dir: string, base: string, keep: number): void {
  for (const f of upgradeBackupsToPrune(readdirSync(dir), base, keep)) rmSync(join(dir, f), { force: true });
}

/** A backup copies the WAL mode with the pages: switched back to a rollback journal, it stays one file when read. */
export function singleFile(path: string): void {
  const copy = new Sqlite(path);
  try {
    copy.pragma('journal_mode = DELETE');
  } finally {
    copy.close();
  }
}

export async function sqliteUpgradeBackup(sqlite: SqliteDatabase.Database, storePath: string, firstPending: string, keep = UPGRADE_BACKUPS_KEPT): Promise<string> {
  const dir = dirname(storePath);
  const target = join(dir, upgradeBackupName(basename(storePath), new Date(), firstPending));
  await sqlite.backup(target);
  singleFile(target);
  prune(dir, basename(storePath), keep);
  return target;
}

export async function postgresUpgradeBackup(url: string, dir: string, firstPending: string, keep = UPGRADE_BACKUPS_KEPT): Promise<string> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const target = join(dir, `${upgradeBackupName('postgres.sql', new Date(), firstPending)}`);
  await postgresDump(url, target);
  prune(dir, 'postgres.sql', keep);
  return target;
}
