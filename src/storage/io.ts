// File I/O edges shared by the storage code: ENOSPC → DISK_FULL, exclusive sparse writes, cleanup.
import { open, rm } from 'node:fs/promises';
import { ArdesiaError } from '../contract/errors.js';

export const DISK_FULL_MESSAGE = 'the data folder is full: free space or grow it; nothing was changed';
const SPARSE_BLOCK = 4096;

export function isDiskFull(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | undefined;
  return e?.code === 'ENOSPC' || e?.code === 'EDQUOT' || /No space left on device|Disk quota exceeded/i.test(e?.message ?? '');
}

/** Rethrows ENOSPC (from Node or from qemu-img's words) as DISK_FULL; other errors unchanged. */
export function rethrowDiskFull(err: unknown, what: string): never {
  if (isDiskFull(err)) throw new ArdesiaError('DISK_FULL', `${what}: ${DISK_FULL_MESSAGE}`);
  throw err;
}

/** Removes files, ignoring those already gone (undo after a failure). */
export async function removeQuietly(...paths: string[]): Promise<void> {
  await Promise.all(paths.map((p) => rm(p, { force: true }).catch(() => undefined)));
}

/** Only the 4 KiB blocks that hold a non-zero byte: the rest stays a hole in the file. */
export function nonZeroRuns(bytes: Uint8Array): Array<{ start: number; end: number }> {
  const runs: Array<{ start: number; end: number }> = [];
  for (let start = 0; start < bytes.length; start += SPARSE_BLOCK) {
    const end = Math.min(start + SPARSE_BLOCK, bytes.length);
    let nonZero = false;
    for (let i = start; i < end && !nonZero; i++) nonZero = bytes[i] !== 0;
    if (!nonZero) continue;
    const last = runs[runs.length - 1];
    if (last && last.end === start) last.end = end;
    else runs.push({ start, end });
  }
  return runs;
}

/**
 * Writes `bytes` to a new file (O_EXCL: never overwrites, EEXIST otherwise) as a sparse file, then
 * fdatasync — the same durability qemu-img create gives. On failure the new file is removed.
 */
export async function writeNewSparseFile(path: string, bytes: Uint8Array, mode = 0o600): Promise<void> {
  const handle = await open(path, 'wx', mode);
  try {
    for (const run of nonZeroRuns(bytes)) await handle.write(bytes, run.start, run.end - run.start, run.start);
    await handle.truncate(bytes.length);
    await handle.datasync();
    await handle.close();
  } catch (err) {
    await handle.close().catch(() => undefined);
    await removeQuietly(path);
    rethrowDiskFull(err, `writing ${path}`);
  }
}
