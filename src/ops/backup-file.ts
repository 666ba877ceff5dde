// A backup written to a file atomically: tar into a temporary file beside it, checked whole, then renamed.
import { renameSync, rmSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ArdesiaError } from '../contract/errors.js';
import { type BackupRequest, type BackupSource, backupPrepare, tarCreate } from './backup.js';
import type { BackupManifest } from './manifest.js';
import { archiveVerify } from './verify.js';

export interface BackupWritten {
  file: string;
  bytes: number;
  manifest: BackupManifest;
}

export async function backupToFile(src: BackupSource, req: BackupRequest, file: string): Promise<BackupWritten> {
  const out = resolve(file);
  const tmp = `${out}.tmp-${process.pid}`;
  const prepared = await backupPrepare(src, req, dirname(out));
  try {
    await tarCreate(prepared, tmp).done;
    await archiveVerify(tmp); // what is renamed into place is a backup a restore accepts
    renameSync(tmp, out);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  } finally {
    prepared.cleanup();
  }
  return { file: out, bytes: statSync(out).size, manifest: prepared.manifest };
}

/** A streamed backup (the CLI's download) saved the same way: temporary file, checked whole, renamed. */
export async function backupAccept(tmp: string, file: string): Promise<BackupWritten> {
  try {
    const { manifest } = await archiveVerify(tmp);
    renameSync(tmp, file);
    return { file, bytes: statSync(file).size, manifest };
  } catch (err) {
    rmSync(tmp, { force: true });
    if (err instanceof ArdesiaError && err.code === 'BACKUP_INVALID') {
      throw new ArdesiaError('BACKUP_FAILED', `the archive the daemon sent is not intact, so ${file} was not written (a home written to while it was read, or the daemon's tar failed: its log says which): ${err.message}`);
    }
    throw err;
  }
}
