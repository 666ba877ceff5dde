// Which file a read request may get: only regular files under the root. The name check is
// pure; resolution follows symlinks and re-checks that the real path is still under the root.
import { constants } from 'node:fs';
import { open, realpath, type FileHandle } from 'node:fs/promises';
import { sep } from 'node:path';
import { MAX_FILENAME_BYTES, TftpErrorCode } from './codec.js';

export type NameCheck = { ok: true; relative: string } | { ok: false; code: number; why: string };

const refuse = (why: string): NameCheck => ({ ok: false, code: TftpErrorCode.ACCESS_VIOLATION, why });

/** Refuses absolute paths, `..`, backslashes, control characters and over-long names. */
export function checkRequestName(name: string): NameCheck {
  if (name.length === 0) return refuse('empty file name');
  if (Buffer.byteLength(name, 'latin1') > MAX_FILENAME_BYTES) return refuse(`file name longer than ${MAX_FILENAME_BYTES} bytes`);
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(name)) return refuse('control character in file name');
  if (name.includes('\\')) return refuse('backslash in file name');
  if (name.startsWith('/')) return refuse('absolute path');
  const segments = name.split('/');
  if (segments.some((s) => s === '..')) return refuse('".." in file name');
  return { ok: true, relative: segments.filter((s) => s !== '' && s !== '.').join('/') };
}

export type OpenResult =
  | { ok: true; handle: FileHandle; size: number; path: string }
  | { ok: false; code: number; why: string };

/** Opens `relative` under `realRoot` (already a realpath) read-only, if it is a regular file. */
export async function openUnderRoot(realRoot: string, relative: string): Promise<OpenResult> {
  if (relative === '') return { ok: false, code: TftpErrorCode.FILE_NOT_FOUND, why: 'no file named' };
  let real: string;
  try {
    real = await realpath(`${realRoot}${sep}${relative}`);
  } catch {
    return { ok: false, code: TftpErrorCode.FILE_NOT_FOUND, why: 'file not found' };
  }
  if (!real.startsWith(realRoot + sep)) return { ok: false, code: TftpErrorCode.ACCESS_VIOLATION, why: 'outside the root' };
  let handle: FileHandle;
  try {
    // O_NOFOLLOW: the checked real path must not have become a symlink since realpath().
    handle = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return { ok: false, code: TftpErrorCode.ACCESS_VIOLATION, why: 'cannot open' };
  }
  const stat = await handle.stat();
  if (!stat.isFile()) {
    await handle.close();
    return { ok: false, code: TftpErrorCode.ACCESS_VIOLATION, why: 'not a regular file' };
  }
  return { ok: true, handle, size: stat.size, path: real };
}
