// Starting and finding QEMU processes. QEMU daemonizes (its own session, reparented away from the
// daemon), so VMs outlive the daemon; `-D qemu.log` keeps its messages, early and late.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { ArdesiaError } from '../../contract/errors.js';
import type { LaunchFile } from './boot-args.js';


export function writeLaunchFiles(files: LaunchFile[]): void {
  for (const f of files) {
    if (f.onlyIfMissing && existsSync(f.path)) continue;
    if (f.copyFrom) copyFileSync(f.copyFrom, f.path);
    else writeFileSync(f.path, f.contents ?? new Uint8Array());
  }
}

/** Spawns the QEMU launcher; option errors (before -D takes over) are appended to logPath too. */
export function spawnQemu(binary: string, args: string[], logPath: string): ChildProcess {
  const logFd = openSync(logPath, 'a');
  try {
    return spawn(binary, args, { detached: true, stdio: ['ignore', logFd, logFd] });
  } finally {
    closeSync(logFd);
  }
}

/** True when pid is alive and is the QEMU of this runtime folder (guards against pid reuse). */
export function isOurQemu(pid: number, marker: string): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
    return state !== 'Z' && cmdline.includes(marker);
  } catch {
    return false;
  }
}

export function readPidfile(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Turns what QEMU printed before dying into an error a user can act on. */
export function qemuStartError(vm: string, log: string, exit: string): ArdesiaError {
  const lines = log.split('\n').map((l) => l.trim()).filter(Boolean);
  const lock = lines.find((l) => /Failed to get (shared )?"write" lock/.test(l));
  if (lock) {
    const path = /image \[?'?([^\]']+)'?\]?\?/.exec(lines.join(' '))?.[1];
    return new ArdesiaError('VM_DISK_IN_USE', `vm ${vm}: a disk is in use by another VM or program${path ? ` (${path})` : ''}`, { qemu: lines });
  }
  const missing = lines.find((l) => /Could not open '.*': No such file or directory/.test(l));
  if (missing) return new ArdesiaError('VM_FILE_MISSING', `vm ${vm}: ${missing.replace(/^.*?: /, '')}`, { qemu: lines });
  const last = lines.filter((l) => l.startsWith('qemu-system')).pop() ?? lines.pop() ?? exit;
  return new ArdesiaError('VM_START_FAILED', `vm ${vm}: QEMU did not start (${exit}): ${last}`, { qemu: lines });
}

export function killQuietly(pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}
