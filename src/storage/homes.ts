// User home volumes: a persistent blank qcow2 per user that can grow, never shrink.
import { open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ArdesiaError } from '../contract/errors.js';
import { readQcow2Header } from './clone.js';
import { removeQuietly, rethrowDiskFull } from './io.js';
import { qemuImg } from './qemu-img.js';
import { MAX_IMAGE_VIRTUAL_BYTES } from './image-rules.js';

function checkSize(sizeBytes: number): void {
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0 || sizeBytes % 512 !== 0 || sizeBytes > MAX_IMAGE_VIRTUAL_BYTES) {
    throw new ArdesiaError('VM_SPEC_INVALID', `home size ${sizeBytes} must be a positive multiple of 512 bytes up to 16 TiB`);
  }
}

/** A blank qcow2 home; VM_EXISTS if the file is already there (never overwritten). */
export async function homeCreate(path: string, sizeBytes: number): Promise<void> {
  checkSize(sizeBytes);
  try {
    await (await open(path, 'wx', 0o600)).close(); // O_EXCL: qemu-img create alone would overwrite
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new ArdesiaError('VM_EXISTS', `${path} already exists; a home volume is never overwritten`);
    if (code === 'ENOENT') throw new ArdesiaError('VM_FILE_MISSING', `folder ${dirname(path)} does not exist`);
    rethrowDiskFull(err, `creating ${path}`);
  }
  try {
    await qemuImg(['create', '-q', '-f', 'qcow2', path, String(sizeBytes)]);
  } catch (err) {
    await removeQuietly(path);
    throw err;
  }
}

/** Grows a home (offline; a running VM needs QMP block_resize); a smaller size is refused. */
export async function homeResize(path: string, newSizeBytes: number): Promise<{ from: number; to: number }> {
  checkSize(newSizeBytes);
  const from = (await readQcow2Header(path)).virtualSize;
  if (newSizeBytes < from) throw new ArdesiaError('HOME_SHRINK_REFUSED', `${path} is ${from} bytes; shrinking it to ${newSizeBytes} would destroy the user's files`);
  if (newSizeBytes > from) await qemuImg(['resize', '-q', '-f', 'qcow2', path, String(newSizeBytes)]);
  return { from, to: newSizeBytes };
}
