// Linked clones: a desktop's system disk is an empty qcow2 overlay on an image version, written
// by us in one exclusive sparse write (no qemu-img process per clone).
import { randomBytes } from 'node:crypto';
import { open, rename, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { ArdesiaError } from '../contract/errors.js';
import { removeQuietly, rethrowDiskFull, writeNewSparseFile } from './io.js';
import { parseQcow2Header, Qcow2ParseError, type Qcow2Header } from './qcow2-header.js';
import { qcow2OverlayBytes, Qcow2OverlayError } from './qcow2-overlay.js';

const HEADER_READ_BYTES = 64 * 1024; // the first cluster at the default size: header, extensions, backing name

export interface LinkedCloneOptions {
  base: string;
  overlay: string;
  baseFormat?: 'qcow2' | 'raw';
  virtualSize?: number;
  relativeBacking?: boolean;
}

/** Reads the first bytes of a file (fewer if it is shorter). */
export async function readHead(path: string, length = HEADER_READ_BYTES): Promise<Uint8Array> {
  const handle = await open(path, 'r');
  try {
    const buffer = new Uint8Array(length);
    const { bytesRead } = await handle.read(buffer, 0, length, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** The qcow2 header of a file on disk; IMAGE_INVALID when it is not a readable qcow2. */
export async function readQcow2Header(path: string): Promise<Qcow2Header> {
  try {
    return parseQcow2Header(await readHead(path));
  } catch (err) {
    if (err instanceof Qcow2ParseError) throw new ArdesiaError('IMAGE_INVALID', `${path} is not a usable qcow2 image: ${err.message}`);
    throw err;
  }
}

async function baseVirtualSize(base: string, format: 'qcow2' | 'raw'): Promise<number> {
  if (format === 'raw') return Math.ceil((await stat(base)).size / 512) * 512;
  return (await readQcow2Header(base)).virtualSize;
}

function backingName(base: string, overlay: string, relativeBacking: boolean): string {
  const absolute = resolve(base);
  if (!relativeBacking) return absolute;
  // QEMU resolves a relative backing name from the overlay's folder.
  const rel = relative(dirname(resolve(overlay)), absolute);
  return isAbsolute(rel) ? absolute : rel;
}

async function overlayBytesFor(opts: LinkedCloneOptions): Promise<Uint8Array> {
  const format = opts.baseFormat ?? 'qcow2';
  const baseSize = await baseVirtualSize(opts.base, format).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') throw new ArdesiaError('VM_FILE_MISSING', `base image ${opts.base} does not exist`);
    throw err;
  });
  const virtualSize = opts.virtualSize ?? baseSize;
  if (virtualSize < baseSize) throw new ArdesiaError('VM_SPEC_INVALID', `a clone of ${opts.base} needs at least ${baseSize} bytes, not ${virtualSize}`);
  try {
    return qcow2OverlayBytes({ virtualSize, backingFile: backingName(opts.base, opts.overlay, opts.relativeBacking ?? false), backingFormat: format });
  } catch (err) {
    if (err instanceof Qcow2OverlayError) throw new ArdesiaError('VM_SPEC_INVALID', `cannot clone ${opts.base}: ${err.message}`);
    throw err;
  }
}

/** A new empty overlay on `base`; never overwrites (VM_EXISTS), mode 0600. */
export async function createLinkedClone(opts: LinkedCloneOptions): Promise<void> {
  const bytes = await overlayBytesFor(opts);
  try {
    await writeNewSparseFile(opts.overlay, bytes, 0o600);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new ArdesiaError('VM_EXISTS', `${opts.overlay} already exists; a linked clone never overwrites a disk`);
    if (code === 'ENOENT') throw new ArdesiaError('VM_FILE_MISSING', `folder ${dirname(opts.overlay)} does not exist`);
    throw err;
  }
}

/**
 * Replaces `overlay` with a fresh empty overlay on `base` in one rename, so a reader sees the old
 * or the new file, never a half. Keeps the old overlay's size (if grown) and relative/absolute style.
 * The VM using the overlay must be stopped first.
 */
export async function resetLinkedClone(overlay: string, base: string): Promise<void> {
  const old = await readQcow2Header(overlay).catch(() => undefined);
  const relativeBacking = old?.backingFile !== undefined && !old.backingFile.startsWith('/');
  const format = old?.backingFormat === 'raw' ? 'raw' : 'qcow2';
  const baseSize = await baseVirtualSize(base, format);
  const virtualSize = old && old.virtualSize > baseSize ? old.virtualSize : baseSize;
  const temp = join(dirname(overlay), `.${basename(overlay)}.reset-${randomBytes(4).toString('hex')}`);
  await createLinkedClone({ base, overlay: temp, baseFormat: format, virtualSize, relativeBacking });
  try {
    await rename(temp, overlay);
  } catch (err) {
    await removeQuietly(temp);
    rethrowDiskFull(err, `resetting ${overlay}`);
  }
}
