// Starting and finding QEMU processes. QEMU runs in its own session (detached), so VMs outlive the
// daemon; its stderr is qemu.log. As root, the daemon starts it as the unprivileged account (setpriv),
// handing it the files it needs as open descriptors.
import { type ChildProcess, spawn, type StdioOptions } from 'node:child_process';
import { chownSync, closeSync, constants, copyFileSync, fstatSync, lstatSync, openSync, readFileSync, readlinkSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ArdesiaError } from '../../contract/errors.js';
import type { UnprivilegedAccount } from '../../lib/unprivileged-account.js';
import type { LaunchFile } from './boot-args.js';
import type { HandedFile } from './handed-files.js';

/** Writes the runtime folder's files (owned by QEMU's account); a kept one that is not a plain file is replaced. */
export function writeLaunchFiles(files: LaunchFile[], account: UnprivilegedAccount | undefined): void {
  for (const f of files) {
    const kept = lstatOrUndefined(f.path);
    if (f.onlyIfMissing && kept?.isFile()) {
      if (account) chownSync(f.path, account.uid, account.gid);
      continue;
    }
    if (kept) rmSync(f.path, { force: true });
    if (f.copyFrom) copyFileSync(f.copyFrom, f.path, constants.COPYFILE_EXCL);
    else writeFileSync(f.path, f.contents ?? new Uint8Array(), { flag: 'wx' });
    if (account) chownSync(f.path, account.uid, account.gid);
  }
}

function lstatOrUndefined(path: string): ReturnType<typeof lstatSync> | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

/** native/tap-open, built by `node scripts/setup.mjs`: attaches a VM's taps as root and runs QEMU with them. */
export const TAP_OPEN_PATH = join(import.meta.dirname, '..', '..', '..', '..', '.cache', 'native', 'tap-open');

/**
 * Opens the handed files in order (their fds become QEMU's 3, 4, …); a tap's place stays empty (undefined),
 * native/tap-open fills it. With a guard (a VM owner's start), each opened file is judged by its real path. Non-blocking, so a FIFO cannot hang the daemon, and only regular files or block
 * devices are handed; files in the runtime folder (which QEMU's account can change) are opened without
 * following a link.
 */
/** Judges a file by where the descriptor really points (its real path), after the open: throws to refuse it. */
export type OpenedFileGuard = (realPath: string, writable: boolean, named: string) => void;

/** Where an open descriptor points: the file itself, whatever links or swapped folders led to it. */
export function openedPath(fd: number): string {
  return readlinkSync(`/proc/self/fd/${fd}`);
}

export function openHandedFiles(vm: string, files: readonly HandedFile[], guard?: OpenedFileGuard): Array<number | undefined> {
  const fds: Array<number | undefined> = [];
  try {
    for (const f of files) {
      if (f.tap) {
        fds.push(undefined);
        continue;
      }
      const flags = (f.writable ? constants.O_RDWR : constants.O_RDONLY) | constants.O_NONBLOCK | (f.inRuntimeDir ? constants.O_NOFOLLOW : 0);
      let fd: number;
      try {
        fd = openSync(f.path, flags);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') throw new ArdesiaError('VM_FILE_MISSING', `vm ${vm}: ${f.path} does not exist`);
        throw new ArdesiaError('VM_START_FAILED', `vm ${vm}: cannot open ${f.path}${f.writable ? ' for writing' : ''}: ${code ?? (err as Error).message}`);
      }
      fds.push(fd);
      const st = fstatSync(fd);
      if (!st.isFile() && !st.isBlockDevice()) throw new ArdesiaError('VM_SPEC_INVALID', `vm ${vm}: ${f.path} is not a regular file or a block device`);
      // Checked again through the descriptor: a path swapped after an earlier check cannot slip a file in.
      if (guard && !f.inRuntimeDir && !f.daemonFile) guard(openedPath(fd), f.writable, f.path);
    }
    return fds;
  } catch (err) {
    closeHandedFds(fds);
    throw err;
  }
}

export function closeHandedFds(fds: ReadonlyArray<number | undefined>): void {
  for (const fd of fds) if (fd !== undefined) closeSync(fd);
}

/** The command that starts QEMU: tap-open first when there are taps to attach, then `prefix` (as root), then setpriv when running as `account`. */
export function qemuCommand(binary: string, args: string[], handed: readonly HandedFile[], account: UnprivilegedAccount | undefined, tapOpen = TAP_OPEN_PATH, prefix: readonly string[] = []): string[] {
  const groups = account?.groups ? ['--groups', account.groups.join(',')] : ['--init-groups'];
  const runAs = account ? ['setpriv', '--reuid', String(account.uid), '--regid', String(account.gid), ...groups, '--no-new-privs', '--'] : [];
  const taps = handed.filter((f) => f.tap).map((f) => `${f.fd}=${f.path}`);
  const attach = taps.length > 0 ? [tapOpen, ...taps, '--'] : [];
  return [...attach, ...prefix, ...runAs, binary, ...args];
}

/**
 * Starts QEMU in its own session with stdout/stderr on logPath (truncated: one start's messages) and the
 * handed fds from 3 on; as `account` when given (groups from the account: kvm for /dev/kvm), never root.
 */
export function spawnQemu(binary: string, args: string[], logPath: string, handed: readonly HandedFile[], fds: ReadonlyArray<number | undefined>, account: UnprivilegedAccount | undefined, prefix: readonly string[] = []): ChildProcess {
  const logFd = openSync(logPath, 'w');
  try {
    const stdio: StdioOptions = ['ignore', logFd, logFd, ...fds.map((fd) => fd ?? 'ignore')];
    const [command, ...rest] = qemuCommand(binary, args, handed, account, TAP_OPEN_PATH, prefix);
    return spawn(command as string, rest, { detached: true, stdio });
  } finally {
    closeSync(logFd);
  }
}

/** The argv of pid as the kernel has it when it is alive and the QEMU of this runtime folder (its marker in the command
 *  line guards against pid reuse); undefined otherwise. */
export function ourQemuArgv(pid: number, marker: string): { binary: string; args: string[] } | undefined {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
    if (state === 'Z' || !cmdline.includes(marker)) return undefined;
    const [binary = '', ...args] = cmdline.replace(/\0$/, '').split('\0');
    return { binary, args };
  } catch {
    return undefined;
  }
}

/** True when pid is alive and is the QEMU of this runtime folder. */
export const isOurQemu = (pid: number, marker: string): boolean => ourQemuArgv(pid, marker) !== undefined;

/** The pid in a pidfile QEMU's account could have replaced: no link followed, no FIFO waited on, a few bytes read. */
export function readPidfile(path: string): number | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    if (!fstatSync(fd).isFile()) return undefined;
    const buf = Buffer.alloc(32);
    const n = readSync(fd, buf, 0, buf.length, 0);
    const pid = Number.parseInt(buf.toString('latin1', 0, n).trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Turns what QEMU printed before dying into an error a user can act on; details keep the lines and how it ended
 *  (a launch prefix that refused before exec is told apart by its exit: home-leases/layout.ts registerRefusal). */
export function qemuStartError(vm: string, log: string, exit: string): ArdesiaError {
  const lines = log.split('\n').map((l) => l.trim()).filter(Boolean);
  const lock = lines.find((l) => /Failed to get (shared )?"write" lock/.test(l));
  if (lock) {
    const path = /image \[?'?([^\]']+)'?\]?\?/.exec(lines.join(' '))?.[1];
    return new ArdesiaError('VM_DISK_IN_USE', `vm ${vm}: a disk is in use by another VM or program${path ? ` (${path})` : ''}`, { qemu: lines });
  }
  const missing = lines.find((l) => /Could not open '.*': No such file or directory/.test(l));
  if (missing) return new ArdesiaError('VM_FILE_MISSING', `vm ${vm}: ${missing.replace(/^.*?: /, '')}`, { qemu: lines });
  const own = lines.filter((l) => l.startsWith('qemu-system'));
  const last = own.at(-1) ?? lines.at(-1) ?? exit; // lines kept whole for the details
  // "load of migration failed: Invalid argument" says only that: the line before it says which device or section.
  const why = /load of migration failed/.test(last) && own.length > 1 ? `${own.at(-2)}; ` : '';
  return new ArdesiaError('VM_START_FAILED', `vm ${vm}: QEMU did not start (${exit}): ${why}${last}`, { qemu: lines, exit });
}

export function killQuietly(pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}
