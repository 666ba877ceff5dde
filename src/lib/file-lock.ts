// A lock between processes on one machine: a file created exclusively holding the owner's pid. Two builds
// sharing one cache folder (two tests, or two admins) must not run mmdebstrap into the same package cache.
import { openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs';
import { processAlive as alive } from './process-alive.js';

const POLL_MS = 500;


/** Creates `path` or waits while a live process holds it; a lock whose owner is gone is taken over. */
async function acquire(path: string, onWait: (holder: number) => void): Promise<void> {
  let told = false;
  for (;;) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = Number(readFileSync(path, 'utf8').trim() || '0');
    if (!holder || !alive(holder)) {
      rmSync(path, { force: true }); // the owner died without releasing it
      continue;
    }
    if (!told) onWait(holder);
    told = true;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** Runs `fn` holding the lock file `path`; released however `fn` ends. */
export async function withFileLock<T>(path: string, fn: () => Promise<T>, onWait: (holder: number) => void = () => undefined): Promise<T> {
  await acquire(path, onWait);
  try {
    return await fn();
  } finally {
    rmSync(path, { force: true });
  }
}
