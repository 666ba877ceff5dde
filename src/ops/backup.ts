// `ardesia backup`: a consistent snapshot of the store (SQLite online backup API, or pg_dump), the site's
// configuration and secrets (tls/, tokens/, root.token), and a manifest of image versions and homes with
// their sha256; with --with-images / --with-homes their files too. One tar archive, SHA256SUMS inside.
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import Sqlite from 'better-sqlite3';
import { ArdesiaError } from '../contract/errors.js';
import { ardesiaRelease } from '../lib/release.js';
import type { Store, StoreLocation } from '../store/db.js';
import { recordedMigrationsRead } from '../store/migrate.js';
import { postgresDump } from '../store/postgres-tools.js';
import { singleFile } from '../store/upgrade-backup.js';
import { fileSha256, treeEntries } from './files.js';
import { type BackupManifest, BACKUP_FORMAT, BACKUP_FORMAT_VERSION, MANIFEST_FILE, STORE_POSTGRES_MEMBER, STORE_SQLITE_MEMBER, SUMS_FILE, sumsFormat } from './manifest.js';

export interface BackupRequest {
  withImages: boolean;
  withHomes: boolean;
}

export interface BackupSource {
  dataDir: string;
  /** The store, open (the daemon's, or one opened without upgrading it for an offline backup). */
  store: Store;
  storeAt: StoreLocation;
  /**
   * Copies the home of `user`, attached to the running desktop `desktop`, consistently into `target` (the daemon:
   * QEMU's blockdev-backup); absent offline, where such a home is refused.
   */
  homeInUseCopy?(user: string, desktop: string, target: string, sizeBytes: number): Promise<void>;
}

/** A backup ready to be written: the staged files, the members in order (each with the folder it is read from). */
export interface PreparedBackup {
  manifest: BackupManifest;
  entries: Array<{ base: string; name: string; dir: boolean }>;
  /** Regular files' stat before hashing: a file that changed by the time tar read it fails the backup. */
  watched: Array<{ path: string; mtimeMs: number; size: number }>;
  cleanup(): void;
}

export async function backupPrepare(src: BackupSource, req: BackupRequest, stageParent: string): Promise<PreparedBackup> {
  mkdirSync(stageParent, { recursive: true, mode: 0o700 });
  const stage = mkdtempSync(join(stageParent, '.backup-'));
  const cleanup = () => rmSync(stage, { recursive: true, force: true });
  try {
    return await prepareIn(stage, src, req, cleanup);
  } catch (err) {
    cleanup();
    throw err instanceof ArdesiaError ? err : new ArdesiaError('BACKUP_FAILED', `backup: ${(err as Error).message}`);
  }
}

async function prepareIn(stage: string, src: BackupSource, req: BackupRequest, cleanup: () => void): Promise<PreparedBackup> {
  const db = src.store as unknown as import('kysely').Kysely<any>;
  const entries: PreparedBackup['entries'] = [];
  const sums = new Map<string, string>();
  const watched: PreparedBackup['watched'] = [];
  const addFile = async (base: string, name: string, expectSha?: string) => {
    const path = join(base, name);
    const st = statSync(path);
    const sha = await fileSha256(path);
    const after = statSync(path);
    if (after.mtimeMs !== st.mtimeMs || after.size !== st.size) throw new ArdesiaError('BACKUP_HOME_IN_USE', `${name} changed while it was read: something writes to it (a desktop that started meanwhile?)`);
    if (expectSha !== undefined && sha !== expectSha) throw new ArdesiaError('BACKUP_FAILED', `${name}: sha256 ${sha} is not the ${expectSha} the store recorded: the file was damaged or replaced; check it (ardesia image versions) before backing up`);
    watched.push({ path, mtimeMs: st.mtimeMs, size: st.size });
    entries.push({ base, name, dir: false });
    sums.set(name, sha);
    return sha;
  };
  const addDir = (base: string, name: string) => {
    if (!entries.some((e) => e.dir && e.name === name)) entries.push({ base, name, dir: true });
  };
  const addTree = async (base: string, rel: string) => {
    for (const e of treeEntries(base, rel)) {
      if (e.dir) addDir(base, e.name);
      else await addFile(base, e.name);
    }
  };

  // The store first: its snapshot is the point in time the backup describes.
  const migrations = (await recordedMigrationsRead(db)).sort();
  mkdirSync(join(stage, 'store'), { mode: 0o700 });
  addDir(stage, 'store');
  const storeMember = src.storeAt.kind === 'sqlite' ? STORE_SQLITE_MEMBER : STORE_POSTGRES_MEMBER;
  if (src.storeAt.kind === 'sqlite') {
    // The online backup API through a connection of our own: consistent while the daemon keeps writing.
    const reader = new Sqlite(src.storeAt.path, { readonly: true, fileMustExist: true });
    try {
      await reader.backup(join(stage, storeMember));
    } finally {
      reader.close();
    }
    singleFile(join(stage, storeMember));
  } else {
    await postgresDump(src.storeAt.url, join(stage, storeMember));
  }
  await addFile(stage, storeMember);

  // Configuration and secrets the site needs to come back: its CA and certificates (clients pin them), the token files.
  const configStart = entries.length;
  for (const rel of ['tls', 'tokens', 'root.token']) await addTree(src.dataDir, rel);
  const config = entries.slice(configStart).filter((e) => !e.dir).map((e) => e.name);

  const versions = await db.selectFrom('image_versions').select(['image', 'version', 'sha256']).orderBy('image').orderBy('version').execute();
  const images: BackupManifest['images'] = [];
  if (req.withImages) {
    addDir(src.dataDir, 'images');
    for (const v of versions) addDir(src.dataDir, `images/${v.image}`);
  }
  for (const v of versions) {
    const member = `images/${v.image}/${v.version}.qcow2`;
    if (req.withImages) await addFile(src.dataDir, member, v.sha256);
    images.push({ image: v.image, version: Number(v.version), sha256: v.sha256, member, included: req.withImages });
  }
  // Boot files of kernel-booted images (images/NAME/boot/) go with the images.
  if (req.withImages) for (const name of [...new Set(versions.map((v: { image: string }) => v.image))]) await addTree(src.dataDir, `images/${name}/boot`);

  // The desktops' folders, not their system disks: a restored daemon re-clones those from the image into them.
  const desktopNames = [...(await db.selectFrom('pool_desktops').select('name').execute()), ...(await db.selectFrom('desktops').select('name').execute())].map((r) => String(r.name)).sort();
  // Staged copies of the folders (mode and owner kept): a desktop removed while tar runs cannot fail the archive.
  const desktopDirs = desktopNames.filter((d) => existsSync(join(src.dataDir, 'desktops', d)));
  if (desktopDirs.length) {
    mkdirSync(join(stage, 'desktops'), { mode: 0o700 });
    addDir(stage, 'desktops');
  }
  for (const d of desktopDirs) {
    const live = statSync(join(src.dataDir, 'desktops', d), { throwIfNoEntry: false });
    if (!live) continue;
    const copy = join(stage, 'desktops', d);
    mkdirSync(copy);
    chmodSync(copy, live.mode & 0o7777);
    chownSync(copy, live.uid, live.gid);
    addDir(stage, `desktops/${d}`);
  }

  const homeRows = await db.selectFrom('homes').select(['user', 'size_bytes', 'leased_to']).orderBy('user').execute();
  const homes: BackupManifest['homes'] = [];
  if (req.withHomes && homeRows.length) addDir(src.dataDir, 'homes');
  for (const h of homeRows) {
    const member = `homes/${h.user}/home.qcow2`;
    let sha: string | null = null;
    if (req.withHomes) {
      if (h.leased_to) {
        if (!src.homeInUseCopy) throw new ArdesiaError('BACKUP_HOME_IN_USE', `the home of ${h.user} is leased to desktop ${h.leased_to}, which may still run without the daemon; an offline backup cannot copy it consistently. Start the daemon and back up through it, or stop the desktop`);
        mkdirSync(join(stage, 'homes', h.user), { recursive: true, mode: 0o700 });
        addDir(stage, `homes/${h.user}`);
        await src.homeInUseCopy(h.user, h.leased_to, join(stage, member), Number(h.size_bytes));
        sha = await addFile(stage, member);
      } else {
        addDir(src.dataDir, `homes/${h.user}`);
        sha = await addFile(src.dataDir, member);
      }
    }
    homes.push({ user: h.user, sizeBytes: Number(h.size_bytes), member, included: req.withHomes, sha256: sha, inUseBy: h.leased_to ?? null });
  }

  const manifest: BackupManifest = {
    format: BACKUP_FORMAT,
    formatVersion: BACKUP_FORMAT_VERSION,
    createdAt: new Date().toISOString(),
    release: ardesiaRelease(),
    store: { kind: src.storeAt.kind, member: storeMember, migrations },
    images,
    homes,
    config,
  };
  writeFileSync(join(stage, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
  await addFile(stage, MANIFEST_FILE);
  writeFileSync(join(stage, SUMS_FILE), sumsFormat(sums), { mode: 0o600 });
  // SHA256SUMS first, then the manifest: a reader meets the list before what it lists.
  entries.unshift({ base: stage, name: SUMS_FILE, dir: false }, entries.splice(entries.findIndex((e) => e.name === MANIFEST_FILE), 1)[0]!);
  return { manifest, entries, watched, cleanup };
}

/** Pure: GNU tar's arguments writing `entries` (no recursion: each folder and file listed, each from its own folder). */
export function tarCreateArgs(entries: PreparedBackup['entries'], out: string): string[] {
  const args = ['--create', '--format=ustar', '--numeric-owner', '--no-recursion', '--file', out];
  let base: string | undefined;
  for (const e of entries) {
    if (e.base !== base) args.push('-C', (base = e.base));
    args.push(e.name); // safe names: none starts with '-'
  }
  return args;
}

/** Runs tar; `out` '-' streams the archive on the returned stdout. Resolves when tar ends, rejecting on failure or a changed file. */
export function tarCreate(prepared: PreparedBackup, out: string): { stdout: Readable | null; done: Promise<void> } {
  const child = spawn('tar', tarCreateArgs(prepared.entries, out), { stdio: ['ignore', out === '-' ? 'pipe' : 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', (err) => reject(new ArdesiaError('BACKUP_FAILED', `tar could not run: ${err.message}`)));
    child.on('exit', (code, signal) => {
      if (code !== 0) return reject(new ArdesiaError('BACKUP_FAILED', `tar failed (${code ?? signal}): ${stderr.trim().split('\n').slice(-3).join(' ')}`));
      for (const w of prepared.watched) {
        const st = statSync(w.path, { throwIfNoEntry: false });
        if (!st || st.mtimeMs !== w.mtimeMs || st.size !== w.size) return reject(new ArdesiaError('BACKUP_HOME_IN_USE', `${w.path} changed while the backup was written (a desktop started on it meanwhile?); run the backup again`));
      }
      resolve();
    });
  });
  return { stdout: child.stdout, done };
}

/**
 * The daemon's backup: prepared (errors answered as such), then streamed from tar's stdout; the staging removed
 * when tar ends. tar failing before its first byte rejects, so the caller answers the error instead of an empty
 * 200; failing later destroys the stream, so the client sees a broken transfer instead of a short archive.
 */
export async function backupStream(src: BackupSource, req: BackupRequest, stageParent: string, onEnd: (err?: unknown) => void): Promise<Readable> {
  const prepared = await backupPrepare(src, req, stageParent);
  const { stdout, done } = tarCreate(prepared, '-');
  const out = new PassThrough();
  const drained = new Promise<void>((resolve) => stdout!.once('end', resolve));
  let first: Buffer | undefined;
  let returned = false;
  const started = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      stdout!.pause();
      stdout!.off('data', onData);
      first = chunk;
      resolve();
    };
    stdout!.on('data', onData);
    done.then(resolve, reject); // settles nothing once the first chunk resolved it
  });
  // 'exit' can come before stdout is read to its end: the archive ends once both happened and tar succeeded.
  done.then(() => drained.then(() => out.end()), (err) => { if (returned) out.destroy(err); }).finally(() => prepared.cleanup());
  done.then(() => onEnd(), onEnd);
  try {
    await started;
  } catch (err) {
    stdout!.destroy();
    throw err;
  }
  returned = true;
  if (first) out.write(first);
  stdout!.on('data', (chunk: Buffer) => { if (!out.write(chunk)) stdout!.pause(); });
  out.on('drain', () => stdout!.resume());
  stdout!.resume();
  return out;
}
