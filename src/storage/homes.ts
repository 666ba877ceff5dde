// User home volumes: a persistent qcow2 per user (ext4 made on the host, or blank) that can grow, never shrink.
// The host-made ext4 has no lost+found in its root (the user's folder).
import { execFile } from 'node:child_process';
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

/** The owner of a home's root folder inside the desktops (the guest helper's uid for the user). */
export interface HomeOwner {
  uid: number;
  gid: number;
}

/**
 * A new qcow2 home; VM_EXISTS if the file is already there (never overwritten). With an owner it is formatted
 * ext4 here, at native speed, so that a first login does not wait for mkfs inside an emulated guest; without
 * one it stays blank (the guest helper formats a blank volume itself).
 */
export async function homeCreate(path: string, sizeBytes: number, owner?: HomeOwner): Promise<void> {
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
    if (owner) await formattedHome(path, sizeBytes, owner);
    else await qemuImg(['create', '-q', '-f', 'qcow2', path, String(sizeBytes)]);
  } catch (err) {
    await removeQuietly(path);
    throw err;
  }
}

/** mkfs.ext4 on a sparse raw file beside the home, converted to qcow2 (only the written metadata takes space). */
async function formattedHome(path: string, sizeBytes: number, owner: HomeOwner): Promise<void> {
  const raw = `${path}.format.raw`;
  try {
    const file = await open(raw, 'w', 0o600);
    try {
      await file.truncate(sizeBytes);
    } finally {
      await file.close();
    }
    await run('mkfs.ext4', ['-q', '-F', '-L', 'ardesia-home', '-E', `root_owner=${owner.uid}:${owner.gid},lazy_itable_init=1`, raw]);
    await withoutLostFound(raw);
    await qemuImg(['convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, path]);
  } finally {
    await removeQuietly(raw);
  }
}

/**
 * The home's root is the user's folder: mke2fs's empty lost+found there shows in the desktop's file manager (pcmanfm
 * lists local folders itself and hides only dot-names, so a `.hidden` file does not hide it). e2fsck makes it again
 * when it has orphans to reconnect; `e2fsck -n` finds the filesystem clean without it.
 */
async function withoutLostFound(raw: string): Promise<void> {
  await run('debugfs', ['-w', '-R', 'rmdir lost+found', raw]);
  // debugfs exits 0 whether its command worked or not: the listing says.
  const names = rootNames(await run('debugfs', ['-R', 'ls -p /', raw]));
  if (names.includes('lost+found')) throw new ArdesiaError('IMAGE_CREATE_FAILED', 'debugfs could not remove lost+found from the new home volume');
}

/** The names in `debugfs -R 'ls -p DIR'` output (lines `/inode/mode/uid/gid/name/size/`). */
export function rootNames(listing: string): string[] {
  return listing.split('\n').flatMap((line) => {
    const fields = line.trim().split('/');
    return fields.length >= 7 && fields[0] === '' ? [fields[5]!] : [];
  });
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, (err, out, stderr) => (err ? reject(new ArdesiaError('IMAGE_CREATE_FAILED', `${cmd} failed: ${stderr.trim() || err.message}`)) : resolve(out)));
  });
}

/** Grows a home (offline; a running VM needs QMP block_resize); a smaller size is refused. */
export async function homeResize(path: string, newSizeBytes: number): Promise<{ from: number; to: number }> {
  checkSize(newSizeBytes);
  const from = (await readQcow2Header(path)).virtualSize;
  if (newSizeBytes < from) throw new ArdesiaError('HOME_SHRINK_REFUSED', `${path} is ${from} bytes; shrinking it to ${newSizeBytes} would destroy the user's files`);
  if (newSizeBytes > from) await qemuImg(['resize', '-q', '-f', 'qcow2', path, String(newSizeBytes)]);
  return { from, to: newSizeBytes };
}
