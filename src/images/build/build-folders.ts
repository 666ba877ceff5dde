// A tree build's temporary folder: mmdebstrap mounts proc, sys, devpts and a tmpfs inside its chroot, and leaves them
// mounted when it is killed (a daemon stopped mid-build, a cancelled test run). A folder is removed only after what is
// mounted under it is unmounted: removing through a mounted /proc or /sys fails on read-only files and would hide the
// build's own error. Builds left by a process that no longer runs are swept at the next build in the same cache.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { processAlive } from '../../lib/process-alive.js';

/** The mount points at or under `dir` in a /proc/self/mountinfo text, deepest first (the order to unmount them in). */
export function mountsUnder(mountinfo: string, dir: string): string[] {
  const base = resolve(dir);
  const points = mountinfo.split('\n').map((line) => line.split(' ')[4]).filter((p): p is string => p !== undefined && p !== '')
    // mountinfo escapes space, tab, newline and backslash as octal
    .map((p) => p.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8))));
  return [...new Set(points.filter((p) => p === base || p.startsWith(`${base}/`)))].sort((a, b) => b.length - a.length);
}

const BUILD_FOLDER_PREFIX = '.building-';

/** This process's build folder for `name` in `cacheDir`: `.building-NAME-PID`, the pid telling a sweep whether it is abandoned. */
export function buildFolderPath(cacheDir: string, name: string): string {
  return join(cacheDir, `${BUILD_FOLDER_PREFIX}${name}-${process.pid}`);
}

/** The pid a build folder's name ends with (`.building-NAME-PID`), if it is one. */
export function buildFolderPid(name: string): number | undefined {
  if (!name.startsWith(BUILD_FOLDER_PREFIX)) return undefined;
  const pid = /-(\d+)$/.exec(name)?.[1];
  return pid === undefined ? undefined : Number(pid);
}

/**
 * Unmounts whatever is mounted under `dir` (lazily: a process still inside it keeps its view), then removes it.
 * Never throws (a build's failure path calls it, and its own error is the one to report); false if `dir` is still there.
 */
export function removeBuildFolder(dir: string): boolean {
  if (!existsSync(dir)) return true;
  try {
    for (const point of mountsUnder(readFileSync('/proc/self/mountinfo', 'utf8'), dir)) spawnSync('umount', ['--lazy', point], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
    return true;
  } catch {
    return false;
  }
}

/** Removes the build folders in `cacheDir` of processes that no longer run. Returns how many. */
export function sweepAbandonedBuilds(cacheDir: string): number {
  if (!existsSync(cacheDir)) return 0;
  let swept = 0;
  for (const name of readdirSync(cacheDir)) {
    const pid = buildFolderPid(name);
    if (pid === undefined || pid === process.pid || processAlive(pid)) continue;
    if (removeBuildFolder(join(cacheDir, name))) swept++;
  }
  return swept;
}
