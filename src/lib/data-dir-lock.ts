// One process serves a data folder: `ardesia serve` and `ardesia netboot serve` hold an flock(2) on
// DATA_DIR/ardesia.lock for their whole life. The kernel drops the lock when the holder dies, even by
// kill -9, so a stale file never blocks a restart; the file's text only names the holder for the message.
import { spawnSync } from 'node:child_process';
import { closeSync, constants, fchmodSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ArdesiaError } from '../contract/errors.js';

export const DATA_DIR_LOCK_FILE = 'ardesia.lock';
/** flock(1)'s exit status when the lock is held by another process (chosen, as -E allows). */
const LOCK_HELD_EXIT = 75;

/** Who holds a data folder, as written in the lock file. */
export interface LockHolder {
  pid: number;
  /** What runs there: `ardesia serve` or `ardesia netboot serve`. */
  role: string;
}

export interface DataDirLock {
  readonly path: string;
  /** Gives the folder back (the process's exit does the same). */
  release(): void;
}

/** Pure: the holder named by a lock file's text (`PID ROLE…`), if it names one. */
export function lockHolderParse(text: string): LockHolder | undefined {
  const m = /^(\d+) (.+)$/.exec(text.trim());
  return m ? { pid: Number(m[1]), role: m[2]! } : undefined;
}

/**
 * Takes the data folder for this process, or throws DATA_DIR_IN_USE naming the process that has it.
 * Node has no flock(); flock(1) locks the descriptor we pass it, and the lock belongs to that open file,
 * which stays ours (opened close-on-exec, so VMs and helpers we start never inherit it).
 */
export function dataDirLock(dataDir: string, role: string): DataDirLock {
  const path = join(dataDir, DATA_DIR_LOCK_FILE);
  // 0600: flock needs only an open descriptor, so a file others can read is a lock any local account could take.
  const fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o600);
  fchmodSync(fd, 0o600);
  const res = spawnSync('flock', ['--exclusive', '--nonblock', '--conflict-exit-code', String(LOCK_HELD_EXIT), '3'], { stdio: ['ignore', 'ignore', 'pipe', fd] });
  if (res.status !== 0) {
    closeSync(fd);
    if (res.status === LOCK_HELD_EXIT) {
      const holder = lockHolderParse(readFileSync(path, 'utf8'));
      const who = holder ? `${holder.role} (pid ${holder.pid})` : 'another ardesia process (its pid is not written in the lock file yet)';
      throw new ArdesiaError('DATA_DIR_IN_USE', `the data folder ${dataDir} is in use by ${who}; a second one would share its store, VMs and socket`, holder);
    }
    const why = res.error?.message ?? (res.stderr?.toString().trim() || `exit status ${res.status}`);
    throw new ArdesiaError('DATA_DIR_LOCK_FAILED', `could not lock ${path} with flock(1): ${why}`);
  }
  try {
    ftruncateSync(fd, 0);
    writeSync(fd, `${process.pid} ${role}\n`, 0);
  } catch {
    // A full disk: the lock holds all the same; a second process is then refused without the pid.
  }
  let held = true;
  return {
    path,
    release: () => {
      if (!held) return;
      held = false;
      try {
        ftruncateSync(fd, 0);
      } finally {
        closeSync(fd);
      }
    },
  };
}
