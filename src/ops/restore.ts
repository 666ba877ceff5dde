// `ardesia restore FILE --data-dir DIR [--database URL]`: a verified backup onto an empty data folder (and an
// empty PostgreSQL database). Everything is built in a temporary folder beside DIR and renamed into place last;
// on any failure what was made is removed again (the loaded database emptied).
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, rmdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import pg from 'pg';
import { ArdesiaError } from '../contract/errors.js';
import { redactUrl, STORE_FILE_MODE, storeLocation } from '../store/db.js';
import { postgresLoad, postgresTableCount } from '../store/postgres-tools.js';
import { fileSha256, treeEntries } from './files.js';
import { archiveProblems, type BackupManifest, MANIFEST_FILE, SUMS_FILE } from './manifest.js';
import { archiveVerify } from './verify.js';

export interface RestoreRequest {
  file: string;
  dataDir: string;
  /** A postgres:// URL: the (empty) database a PostgreSQL backup is loaded into. */
  database?: string;
}

export interface RestoreResult {
  dataDir: string;
  manifest: BackupManifest;
  store: 'sqlite' | 'postgres';
}

export async function restoreBackup(req: RestoreRequest): Promise<RestoreResult> {
  const dataDir = resolve(req.dataDir);
  if (existsSync(dataDir) && readdirSync(dataDir).length > 0) {
    throw new ArdesiaError('RESTORE_TARGET_NOT_EMPTY', `the data folder ${dataDir} is not empty (${readdirSync(dataDir).slice(0, 5).join(', ')}${readdirSync(dataDir).length > 5 ? ', …' : ''}): a restore never mixes a backup with what is there`);
  }
  const target = storeLocation(req.database, dataDir);
  const { manifest, sums } = await archiveVerify(resolve(req.file));
  if (manifest.store.kind !== target.kind) {
    throw new ArdesiaError('RESTORE_FAILED', manifest.store.kind === 'postgres' ? 'this backup holds a PostgreSQL store: give the empty database to load it into with --database postgres://…' : 'this backup holds a SQLite store: restore it without --database (it becomes DATA_DIR/ardesia.db)');
  }
  if (target.kind === 'postgres') {
    const tables = await postgresTableCount(target.url);
    if (tables > 0) throw new ArdesiaError('RESTORE_TARGET_NOT_EMPTY', `the database ${redactUrl(target.url)} is not empty (${tables} tables): load the backup into a new, empty database`);
  }

  mkdirSync(dirname(dataDir), { recursive: true });
  const work = mkdtempSync(join(dirname(dataDir), `.${basename(dataDir)}.restore-`));
  let loaded = false;
  try {
    await tarExtract(resolve(req.file), work);
    // The bytes on disk are checked again: what was verified in the archive is what the site now has.
    const onDisk = new Map<string, string>();
    for (const e of treeEntries(work, '.')) if (!e.dir) onDisk.set(e.name.replace(/^\.\//, ''), await fileSha256(join(work, e.name)));
    const problems = archiveProblems(sums, onDisk, manifest);
    if (problems.length) throw new ArdesiaError('BACKUP_INVALID', `the extracted files differ from the backup's list: ${problems.join('; ')}`);
    if (target.kind === 'sqlite') {
      renameSync(join(work, manifest.store.member), join(work, 'ardesia.db'));
      chmodSync(join(work, 'ardesia.db'), STORE_FILE_MODE);
    } else {
      await postgresLoad(target.url, join(work, manifest.store.member));
      loaded = true;
    }
    for (const name of ['store', MANIFEST_FILE, SUMS_FILE]) rmSync(join(work, name), { recursive: true, force: true });
    chmodSync(work, 0o711); // as `serve` makes it: owners reach their token files
    if (existsSync(dataDir)) rmdirSync(dataDir); // empty, checked above; rename(2) then puts the whole site in place at once
    renameSync(work, dataDir);
  } catch (err) {
    rmSync(work, { recursive: true, force: true });
    if (loaded && target.kind === 'postgres') await postgresEmpty(target.url);
    if (err instanceof ArdesiaError) throw err;
    throw new ArdesiaError('RESTORE_FAILED', `restore into ${dataDir}: ${(err as Error).message}`);
  }
  return { dataDir, manifest, store: target.kind };
}

function tarExtract(file: string, into: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    // Names and types were checked before; --no-overwrite-dir and no absolute names keep tar inside `into` regardless.
    const child = spawn('tar', ['--extract', '--file', file, '--directory', into, '--numeric-owner', '--same-permissions', '--no-overwrite-dir'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    child.on('error', reject);
    child.on('exit', (code, signal) => (code === 0 ? resolvePromise() : reject(new Error(`tar could not extract the backup (${code ?? signal}): ${stderr.trim().split('\n').slice(-3).join(' ')}`))));
  });
}

/** Undoes a load into a database that was empty before it (checked): its tables, sequences and functions go. */
async function postgresEmpty(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('drop schema public cascade');
    await client.query('create schema public');
  } catch {
    // reported by the restore's own error; the database was empty before, the administrator may drop it
  } finally {
    await client.end().catch(() => {});
  }
}
