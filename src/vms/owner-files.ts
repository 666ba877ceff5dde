// The I/O shell of the owner policy: reads the policy file, makes each owner's folder, and opens every
// file an owner's VM names itself (realpath + O_NOFOLLOW + O_NONBLOCK, fstat) before QEMU may see it,
// following qcow2 backing chains. Files are read through libuv's thread pool, never on the event loop.
import { chownSync, chmodSync, constants, existsSync, mkdirSync, readFileSync, realpathSync } from 'node:fs';
import { type FileHandle, lstat, open, readlink, stat } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ArdesiaError } from '../contract/errors.js';
import type { VmSpec } from '../contract/vm.js';
import { lookupAccount } from '../auth/unix-accounts.js';
import { detectImageFormat } from '../storage/foreign-headers.js';
import { qcow2Verdict } from '../storage/image-rules.js';
import { hasQcow2Magic, parseQcow2Header, Qcow2ParseError } from '../storage/qcow2-header.js';
import {
  backingPath,
  type FileUse,
  isInside,
  OWNERS_FOLDER,
  ownerFolder,
  type OwnerPolicy,
  OwnerPolicyFile,
  type OwnerFileRules,
  pathVerdict,
  qcow2ChainVerdict,
  type Refusal,
  specFiles,
} from './owner-policy.js';

const HEAD_BYTES = 64 * 1024; // the first cluster at the default size: header, extensions, backing name
const MAX_CLUSTER_READ = 2 * 2 ** 20; // a backing name may sit anywhere in a first cluster of up to 2 MiB

/** The owner policy from `serve --owner-policy FILE` (YAML or JSON); without a file, the built-in defaults. */
export function ownerPolicyLoad(path: string | undefined): OwnerPolicy {
  if (path === undefined) return Object.freeze(OwnerPolicyFile.parse({}));
  let data: unknown;
  try {
    const text = readFileSync(path, 'utf8');
    data = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ArdesiaError('OWNER_POLICY_INVALID', `owner policy ${path}: ${(err as Error).message}`);
  }
  const parsed = OwnerPolicyFile.safeParse(data ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`).join('; ');
    throw new ArdesiaError('OWNER_POLICY_INVALID', `owner policy ${path}: ${problems}`, parsed.error.issues);
  }
  return Object.freeze(withRealRoots(parsed.data));
}

/** Files are compared after their symlinks are resolved: a root given through a symlink counts as its real folder too. */
function withRealRoots(policy: OwnerPolicy): OwnerPolicy {
  const real = (paths: string[] | undefined) => paths && [...new Set(paths.flatMap((p) => [p, ...(existsSync(p) ? [realpathSync(p)] : [])]))];
  const entry = <T extends { roots?: string[]; readOnlyRoots?: string[] }>(e: T): T => ({ ...e, roots: real(e.roots), readOnlyRoots: real(e.readOnlyRoots) });
  const map = (r: Record<string, OwnerPolicy['defaults']>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, entry(v)]));
  return { defaults: entry(policy.defaults), users: map(policy.users), groups: map(policy.groups) };
}

/** DATA_DIR/owners/USER, owned by that Unix user (0700): the folder their VMs may always use. */
export function ownerFolderEnsure(dataDir: string, user: string): boolean {
  const account = lookupAccount(user);
  if (!account) return false;
  const parent = `${dataDir}/${OWNERS_FOLDER}`;
  mkdirSync(parent, { recursive: true, mode: 0o711 });
  chmodSync(parent, 0o711);
  const own = ownerFolder(dataDir, user);
  mkdirSync(own, { recursive: true, mode: 0o700 });
  chownSync(own, account.uid, account.gid);
  chmodSync(own, 0o700);
  return true;
}

const refuse = (r: Refusal): never => {
  throw new ArdesiaError(r.code, r.message);
};

/** Opens without blocking (a FIFO would wait for a writer) and refuses anything but a regular file. */
async function openRegular(path: string, what: string, noFollow: boolean): Promise<{ handle: FileHandle; size: number }> {
  const flags = constants.O_RDONLY | constants.O_NONBLOCK | (noFollow ? constants.O_NOFOLLOW : 0);
  let handle: FileHandle;
  try {
    handle = await open(path, flags);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ArdesiaError('VM_FILE_MISSING', `${what} ${path} does not exist`);
    if (code === 'ELOOP') throw new ArdesiaError('VM_FILE_NOT_REGULAR', `${what} ${path} became a symlink while it was checked`);
    if (code === 'ENXIO') throw new ArdesiaError('VM_FILE_NOT_REGULAR', `${what} ${path} is a socket or a FIFO, not a regular file`);
    if (code === 'EACCES' || code === 'EPERM') throw new ArdesiaError('VM_FILE_MISSING', `${what} ${path} is not readable by the daemon`);
    throw err;
  }
  const st = await handle.stat();
  if (!st.isFile()) {
    await handle.close();
    const kind = st.isFIFO() ? 'a FIFO' : st.isSocket() ? 'a socket' : st.isBlockDevice() ? 'a block device' : st.isCharacterDevice() ? 'a character device' : 'a folder';
    throw new ArdesiaError('VM_FILE_NOT_REGULAR', `${what} ${path} is ${kind}, not a regular file`);
  }
  return { handle, size: st.size };
}

async function readAt(handle: FileHandle, length: number): Promise<Uint8Array> {
  const buffer = new Uint8Array(length);
  const { bytesRead } = await handle.read(buffer, 0, length, 0);
  return buffer.subarray(0, bytesRead);
}

/** The first bytes of a file the daemon reads itself (kernels): regular files only, read off the event loop. */
export async function regularFileHead(path: string, what: string, length: number): Promise<Uint8Array> {
  const { handle } = await openRegular(path, what, false);
  try {
    return await readAt(handle, length);
  } finally {
    await handle.close();
  }
}

/** Refuses a FIFO, socket, device or folder where QEMU expects a file it reads whole (kernel, initrd, BIOS). */
export async function regularFileCheck(path: string, what: string): Promise<void> {
  const { handle } = await openRegular(path, what, false);
  await handle.close();
}

const MAX_SYMLINK_HOPS = 40; // the kernel's own limit

/**
 * Resolves symlinks one at a time, checking each target before looking further: a symlink out of the
 * roots is refused without probing what lies beyond it (no existence oracle for files the owner cannot see).
 */
async function confinedPath(rules: OwnerFileRules, dataDir: string, path: string, use: FileUse, what: string): Promise<string> {
  let target = resolve(path);
  for (let hop = 0; hop <= MAX_SYMLINK_HOPS; hop++) {
    const refusal = pathVerdict(rules, dataDir, target, use, what);
    if (refusal) refuse(hop === 0 ? refusal : { code: refusal.code, message: `${what} ${path} leads to ${target}: ${refusal.message}` });
    const parts = target.split(sep).filter(Boolean);
    let real: string = sep;
    let relinked: string | undefined;
    for (const [i, part] of parts.entries()) {
      const next = join(real, part);
      const st = await lstat(next).catch((err: NodeJS.ErrnoException) => {
        throw new ArdesiaError('VM_FILE_MISSING', `${what} ${path} does not exist${err.code === 'ENOENT' || err.code === 'ENOTDIR' ? '' : ` (${err.code ?? err.message})`}`);
      });
      if (st.isSymbolicLink()) {
        relinked = resolve(real, await readlink(next), ...parts.slice(i + 1));
        break;
      }
      real = next;
    }
    if (relinked === undefined) return real;
    target = relinked;
  }
  throw new ArdesiaError('VM_FILE_NOT_REGULAR', `${what} ${path} goes through more than ${MAX_SYMLINK_HOPS} symlinks`);
}

/** One qcow2 of the chain through its open descriptor, then its backing file the same way. */
async function qcow2ChainCheck(rules: OwnerFileRules, dataDir: string, real: string, handle: FileHandle, size: number, depth: number): Promise<void> {
  let header;
  try {
    header = parseQcow2Header(await readAt(handle, HEAD_BYTES));
    if (header.clusterBits > 16 && header.clusterBits <= 21) header = parseQcow2Header(await readAt(handle, Math.min(2 ** header.clusterBits, MAX_CLUSTER_READ)));
  } catch (err) {
    if (err instanceof Qcow2ParseError) throw new ArdesiaError('IMAGE_HOSTILE', `${real} is not a usable qcow2 image: ${err.message}`);
    throw err;
  }
  const chain = qcow2ChainVerdict(real, header, depth);
  if (chain) throw new ArdesiaError('IMAGE_HOSTILE', chain);
  // The import rules judge the rest of the header; the backing file is allowed here and checked below.
  const structural = qcow2Verdict({ ...header, backingFileOffset: 0, backingFileSize: 0 }, size);
  if (structural) throw new ArdesiaError(structural.code, `${real}: ${structural.reason}`);
  if (header.backingFile === undefined) return;
  const what = `backing file of ${real}`;
  const next = await confinedPath(rules, dataDir, backingPath(real, header.backingFile), 'read', what);
  const opened = await openRegular(next, what, true);
  try {
    const head = await readAt(opened.handle, HEAD_BYTES);
    if (header.backingFormat === 'raw') return;
    if (hasQcow2Magic(head)) return await qcow2ChainCheck(rules, dataDir, next, opened.handle, opened.size, depth + 1);
    const format = detectImageFormat(head);
    if (format !== 'raw' || header.backingFormat !== undefined) throw new ArdesiaError('IMAGE_HOSTILE', `${what} ${next} is a ${format} image; a backing file must be qcow2 or raw`);
  } finally {
    await opened.handle.close();
  }
}

/**
 * Every file of an owner's VM checked by the daemon itself; returns the spec with each path replaced
 * by the one checked (the resolved path), so QEMU is not handed a symlink.
 */
export async function ownerSpecFilesCheck(rules: OwnerFileRules, dataDir: string, spec: VmSpec): Promise<VmSpec> {
  const replaced = new Map<string, string>();
  for (const file of specFiles(spec)) {
    const real = await confinedPath(rules, dataDir, file.path, file.use, `vm ${spec.name}: ${file.what}`);
    if (file.directory) {
      if (!(await stat(real)).isDirectory()) throw new ArdesiaError('VM_FILE_NOT_REGULAR', `vm ${spec.name}: ${file.what} ${file.path} is not a folder`);
      // QEMU's TFTP server follows symlinks inside its root: only a folder the owner cannot write is safe.
      if (rules.roots.filter((r) => isInside(real, r.path)).some((r) => !r.readOnly)) {
        throw new ArdesiaError('OWNER_PATH_FORBIDDEN', `vm ${spec.name}: ${file.what} ${file.path} must be inside one of ${rules.principal}'s read-only folders`);
      }
      replaced.set(file.path, real);
      continue;
    }
    const { handle, size } = await openRegular(real, `vm ${spec.name}: ${file.what}`, true);
    try {
      if (file.qcow2) await qcow2ChainCheck(rules, dataDir, real, handle, size, 0);
    } finally {
      await handle.close();
    }
    replaced.set(file.path, real);
  }
  const to = (p: string | undefined) => (p === undefined ? undefined : (replaced.get(p) ?? p));
  return {
    ...spec,
    disks: spec.disks.map((d) => ({ ...d, path: to(d.path)! })),
    ...(spec.cdrom !== undefined ? { cdrom: to(spec.cdrom) } : {}),
    boot: { ...spec.boot, ...(spec.boot.kernel ? { kernel: to(spec.boot.kernel) } : {}), ...(spec.boot.initrd ? { initrd: to(spec.boot.initrd) } : {}), ...(spec.boot.bios ? { bios: to(spec.boot.bios) } : {}) },
    nics: spec.nics.map((n) => (n.tftpRoot ? { ...n, tftpRoot: to(n.tftpRoot) } : n)),
  };
}
