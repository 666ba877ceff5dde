// Image files made by qemu-img from other files: import (foreign → checked qcow2), flatten (chain
// → standalone), a maintenance overlay copied as a new version. Each writes DEST.partial and
// only a finished, checked file becomes DEST; on any failure neither is left behind.
import { constants } from 'node:fs';
import { copyFile, link, open, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ArdesiaError } from '../contract/errors.js';
import { failpointPause } from '../lib/failpoint.js';
import { readHead, readQcow2Header } from './clone.js';
import { detectImageFormat } from './foreign-headers.js';
import { inspectForeignImage, qemuImgCheck } from './image-check.js';
import { sha256File } from './integrity.js';
import { isDiskFull, removeQuietly, rethrowDiskFull, DISK_FULL_MESSAGE } from './io.js';
import { parseQemuImgProgress, qemuImg, qemuImgOutcome, throwIfKilled } from './qemu-img.js';

export type ProgressCallback = (fraction: number) => void;
const MAX_CHAIN_DEPTH = 64;

/** Calls `onProgress` only with fractions above the last one, so a caller sees a rising line. */
function risingProgress(onProgress?: ProgressCallback): ProgressCallback {
  let last = -1;
  return (fraction) => {
    if (onProgress && fraction > last) {
      last = fraction;
      onProgress(fraction);
    }
  };
}

/** `qemu-img convert -p`, reporting its percentages; failures keep qemu-img's words. */
async function convertWithProgress(args: string[], what: string, progress: ProgressCallback): Promise<void> {
  const outcome = await qemuImgOutcome(['convert', '-p', ...args], (chunk) => parseQemuImgProgress(chunk).forEach(progress));
  if (outcome.exitCode === 0) return;
  throwIfKilled(outcome, what);
  const words = outcome.stderr.trim().replace(/^qemu-img: /gm, '');
  if (isDiskFull({ message: words })) throw new ArdesiaError('DISK_FULL', `${what}: ${DISK_FULL_MESSAGE}`);
  throw new ArdesiaError('IMAGE_INVALID', `${what} failed: ${words}`);
}

/**
 * Runs `produce(partial)`, then makes the result durable and links it to `dest` (link fails if
 * dest exists, so nothing is ever overwritten). Any failure removes what this call created.
 */
async function producePartial(dest: string, produce: (partial: string) => Promise<void>): Promise<void> {
  const partial = `${dest}.partial`;
  try {
    await (await open(partial, 'wx', 0o600)).close(); // claim the name: two imports to one dest cannot interleave
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new ArdesiaError('VM_BUSY', `${partial} exists: another write to ${dest} is under way (remove it if that write was interrupted)`);
    if (code === 'ENOENT') throw new ArdesiaError('VM_FILE_MISSING', `folder ${dirname(dest)} does not exist`);
    rethrowDiskFull(err, `creating ${partial}`);
  }
  let linked = false;
  try {
    await produce(partial);
    const handle = await open(partial, 'r+');
    await handle.datasync().finally(() => handle.close());
    await link(partial, dest).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'EEXIST') throw new ArdesiaError('VM_EXISTS', `${dest} already exists; an image file is never overwritten`);
      throw err;
    });
    linked = true;
    await unlink(partial);
  } catch (err) {
    await removeQuietly(partial, ...(linked ? [dest] : []));
    rethrowDiskFull(err, `writing ${dest}`);
  }
}

/**
 * Opens an import's source once: non-blocking (a FIFO cannot stall the open), a regular file only.
 * Every later read goes through this descriptor, so what was checked is what is converted.
 */
async function openImportSource(source: string): Promise<FileHandle> {
  const handle = await open(source, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') throw new ArdesiaError('VM_FILE_MISSING', `${source} does not exist`);
    throw err;
  });
  if (!(await handle.stat()).isFile()) {
    await handle.close();
    throw new ArdesiaError('IMAGE_INVALID', `${source} is not a regular file`);
  }
  return handle;
}

/** The open file as a path qemu-img (a child of ours) can open: the same inode whatever happens to the name. */
export const descriptorPath = (fd: number): string => `/proc/${process.pid}/fd/${fd}`;

/**
 * Checks a foreign image, converts it to a standalone qcow2 at `dest`, returns its sha256. The
 * source is opened once; the checks and the conversion read that open file, never the name again
 * (a file swapped under the name after the check is not what gets converted).
 */
export async function importImage(opts: {
  source: string;
  dest: string;
  claimedFormat?: string;
  onProgress?: ProgressCallback;
}): Promise<{ sha256: string; virtualSize: number; sourceFormat: string }> {
  const handle = await openImportSource(opts.source);
  try {
    const checked = descriptorPath(handle.fd);
    const inspection = await inspectForeignImage(checked, opts.claimedFormat, opts.source);
    await failpointPause('import-after-check');
    const progress = risingProgress(opts.onProgress);
    progress(0);
    await producePartial(opts.dest, async (partial) => {
      await convertWithProgress(['-f', inspection.format, '-O', 'qcow2', checked, partial], `importing ${opts.source}`, progress);
      await qemuImgCheck(partial);
    });
    const sha256 = await sha256File(opts.dest);
    const { virtualSize } = await readQcow2Header(opts.dest);
    progress(1);
    return { sha256, virtualSize, sourceFormat: inspection.format };
  } finally {
    await handle.close();
  }
}

/** One standalone qcow2 with the content of a whole backing chain. */
export async function flattenImage(opts: { source: string; dest: string; onProgress?: ProgressCallback }): Promise<{ sha256: string }> {
  const format = detectImageFormat(await readHead(opts.source)) === 'qcow2' ? 'qcow2' : 'raw';
  const progress = risingProgress(opts.onProgress);
  progress(0);
  await producePartial(opts.dest, async (partial) => {
    await convertWithProgress(['-f', format, '-O', 'qcow2', opts.source, partial], `flattening ${opts.source}`, progress);
    await qemuImgCheck(partial);
  });
  const sha256 = await sha256File(opts.dest);
  progress(1);
  return { sha256 };
}

/** A maintenance overlay becomes the next version: copied, then re-pointed (same content) at `newBacking`. */
export async function copyOverlayAsVersion(opts: { overlay: string; dest: string; newBacking: string }): Promise<{ sha256: string }> {
  const header = await readQcow2Header(opts.overlay);
  if (header.backingFile === undefined) throw new ArdesiaError('IMAGE_INVALID', `${opts.overlay} has no backing file: it is not a maintenance overlay`);
  await producePartial(opts.dest, async (partial) => {
    await copyFile(opts.overlay, partial, constants.COPYFILE_FICLONE); // a reflink where the filesystem can
    await qemuImg(['rebase', '-q', '-u', '-f', 'qcow2', '-F', 'qcow2', '-b', opts.newBacking, partial]);
    await qemuImgCheck(partial);
  });
  return { sha256: await sha256File(opts.dest) };
}

/** How many backing files stand behind `path` (0 = standalone), read from the qcow2 headers. */
export async function chainDepth(path: string): Promise<number> {
  const seen = new Set<string>();
  let current = resolve(path);
  for (let depth = 0; depth <= MAX_CHAIN_DEPTH; depth++) {
    if (seen.has(current)) throw new ArdesiaError('IMAGE_HOSTILE', `${path} has a backing chain that loops at ${current}`);
    seen.add(current);
    const head = await readHead(current);
    if (detectImageFormat(head) !== 'qcow2') return depth;
    const header = await readQcow2Header(current);
    if (header.backingFileOffset === 0) return depth;
    if (header.backingFile === undefined) throw new ArdesiaError('IMAGE_INVALID', `${current} names a backing file outside its first cluster`);
    current = resolve(dirname(current), header.backingFile);
    if (header.backingFormat === 'raw') return depth + 1;
  }
  throw new ArdesiaError('IMAGE_INVALID', `${path} has a backing chain deeper than ${MAX_CHAIN_DEPTH}`);
}
