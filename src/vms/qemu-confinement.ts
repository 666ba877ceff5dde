// What the daemon prepares so that QEMU runs as the unprivileged account: its runtime folder is its own (the
// folders above it only traversable), qcow2 backing chains are read here (each image is then a handed fd),
// and files QEMU must read by name that the account cannot read are copied into its runtime folder.
import { chownSync, chmodSync, closeSync, constants, copyFileSync, cpSync, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { ArdesiaError } from '../contract/errors.js';
import type { VmSpec } from '../contract/vm.js';
import type { BackingChains, BackingImage } from '../hypervisor/qemu/argv.js';
import { type OpenedFileGuard, openedPath } from '../hypervisor/qemu/process.js';
import type { UnprivilegedAccount } from '../lib/unprivileged-account.js';
import { readHead } from '../storage/clone.js';
import { hasQcow2Magic, parseQcow2Header } from '../storage/qcow2-header.js';
import type { VmFiles } from './vm-files.js';

/** Deeper chains than this are refused (a loop, or a chain no one meant to make). */
export const MAX_BACKING_DEPTH = 32;

/** The runtime folder becomes the account's (0700); the data folder and runtime/ above it only traversable by its group. */
export function handRuntimeFolder(dataDir: string, files: VmFiles, account: UnprivilegedAccount | undefined): void {
  if (!account) return;
  requirePassage(dataDir, account);
  for (const dir of [dataDir, dirname(files.runtime.dir)]) allowTraversal(dir, account.gid);
  chownSync(files.runtime.dir, account.uid, account.gid);
  chmodSync(files.runtime.dir, 0o700);
}

/** The folders above the data folder are the administrator's: they are checked, never changed. */
function requirePassage(dataDir: string, account: UnprivilegedAccount): void {
  for (let dir = dirname(resolve(dataDir)); ; dir = dirname(dir)) {
    const st = statSync(dir);
    const passable = st.uid === account.uid ? st.mode & 0o100 : st.gid === account.gid ? st.mode & 0o010 : st.mode & 0o001;
    if (!passable) {
      throw new ArdesiaError('DATA_FOLDER_CLOSED_TO_QEMU', `${dir} (mode ${(st.mode & 0o777).toString(8)}) above the data folder ${dataDir} is closed to ${account.name}, the account QEMU runs as`);
    }
    if (dir === dirname(dir)) return;
  }
}

function allowTraversal(dir: string, gid: number): void {
  const st = statSync(dir);
  if (st.mode & 0o001 || (st.mode & 0o010 && st.gid === gid)) return;
  chownSync(dir, st.uid, gid);
  chmodSync(dir, (st.mode & 0o7777) | 0o010);
}

/** The images below each qcow2 disk, from their headers (relative names from the image's folder, as QEMU does). */
export async function backingChains(spec: VmSpec): Promise<BackingChains> {
  const chains = new Map<string, BackingImage[]>();
  for (const disk of spec.disks) {
    if (disk.format !== 'qcow2' || chains.has(disk.path)) continue;
    const chain: BackingImage[] = [];
    let current = disk.path;
    for (;;) {
      let header = parseQcow2Header(await readHead(current));
      if (header.backingFileOffset !== 0 && header.backingFile === undefined) header = parseQcow2Header(await readHead(current, header.backingFileOffset + header.backingFileSize));
      if (header.backingFile === undefined) break;
      const name = header.backingFile;
      if (/^[a-z][a-z0-9+.-]*:/i.test(name)) throw new ArdesiaError('VM_SPEC_INVALID', `vm ${spec.name}: ${current} names a protocol or json: backing file (${name}); only files are allowed`);
      const path = isAbsolute(name) ? name : resolve(dirname(current), name);
      const format = header.backingFormat === 'raw' ? 'raw' : header.backingFormat === 'qcow2' || hasQcow2Magic(await readHead(path, 4)) ? 'qcow2' : 'raw';
      chain.push({ path, format });
      if (chain.length > MAX_BACKING_DEPTH) throw new ArdesiaError('VM_SPEC_INVALID', `vm ${spec.name}: ${disk.path} has more than ${MAX_BACKING_DEPTH} backing images`);
      if (format === 'raw') break;
      current = path;
    }
    if (chain.length > 0) chains.set(disk.path, chain);
  }
  return chains;
}

function readableBy(path: string, account: UnprivilegedAccount): boolean {
  const st = statSync(path);
  if (st.uid === account.uid) return (st.mode & 0o400) !== 0;
  if (st.gid === account.gid) return (st.mode & 0o040) !== 0;
  return (st.mode & 0o004) !== 0;
}

/**
 * The spec QEMU is started with: a kernel, initrd or BIOS image the account cannot read (QEMU reopens them
 * through /proc/self/fd, which checks the file's own mode) and every TFTP root (QEMU's user-mode TFTP reads
 * by name) become copies in the runtime folder, owned by the account.
 */
export function specForAccount(spec: VmSpec, runtimeDir: string, account: UnprivilegedAccount | undefined, guard?: OpenedFileGuard): VmSpec {
  if (!account) return spec;
  const own = (path: string) => {
    chownSync(path, account.uid, account.gid);
    if (lstatSync(path).isDirectory()) for (const entry of readdirSync(path)) own(join(path, entry));
  };
  const copy = (path: string | undefined, as: string): string | undefined => {
    if (path === undefined || readableBy(path, account)) return path;
    const target = join(runtimeDir, as);
    copyThroughDescriptor(path, target, guard);
    own(target);
    return target;
  };
  const boot = { ...spec.boot, kernel: copy(spec.boot.kernel, 'boot-kernel'), initrd: copy(spec.boot.initrd, 'boot-initrd'), bios: copy(spec.boot.bios, 'boot-bios') };
  const nics = spec.nics.map((nic, index) => {
    if (nic.tftpRoot === undefined) return nic;
    const target = join(runtimeDir, `tftp-${index}`);
    cpSync(nic.tftpRoot, target, { recursive: true, dereference: true });
    own(target);
    return { ...nic, tftpRoot: target };
  });
  return { ...spec, boot, nics };
}

/** Copies from the descriptor that was checked (the guard judges where it really points), not by name again. */
function copyThroughDescriptor(from: string, to: string, guard: OpenedFileGuard | undefined): void {
  const source = openSync(from, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    if (!fstatSync(source).isFile()) throw new ArdesiaError('VM_FILE_NOT_REGULAR', `${from} is not a regular file`);
    guard?.(openedPath(source), false, from);
    const target = openSync(to, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    try {
      const chunk = Buffer.alloc(1 << 20);
      for (let n; (n = readSync(source, chunk, 0, chunk.length, null)) > 0; ) writeSync(target, chunk, 0, n);
    } finally {
      closeSync(target);
    }
  } finally {
    closeSync(source);
  }
}

/** SPICE's TLS credentials as QEMU reads them by name at start: a copy in the runtime folder owned by the account
 *  (the data folder's key is root's, 0600). The copy goes with the runtime folder when the VM stops. */
export function spiceCredentialsForAccount(x509Dir: string | undefined, runtimeDir: string, account: UnprivilegedAccount | undefined): string | undefined {
  if (x509Dir === undefined || !account) return x509Dir;
  const target = join(runtimeDir, 'spice-x509');
  rmSync(target, { recursive: true, force: true });
  mkdirSync(target, { mode: 0o700 });
  chownSync(target, account.uid, account.gid);
  for (const name of ['ca-cert.pem', 'server-cert.pem', 'server-key.pem']) {
    const copy = join(target, name);
    copyFileSync(join(x509Dir, name), copy, constants.COPYFILE_EXCL);
    chmodSync(copy, 0o600);
    chownSync(copy, account.uid, account.gid);
  }
  return target;
}
