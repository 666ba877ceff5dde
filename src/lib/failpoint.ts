// Fault injection for crash tests (as etcd's and TiKV's failpoints): ARDESIA_FAILPOINTS="name,…" makes
// the daemon kill itself with SIGKILL at that point, so "killed half-way" is deterministic.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const armed = new Set((process.env.ARDESIA_FAILPOINTS ?? '').split(',').filter(Boolean));

/** How long a paused failpoint waits for its test at most, so a forgotten pause never hangs the daemon. */
const PAUSE_LIMIT_MS = 120_000;

export function failpoint(name: string): void {
  if (armed.has(name)) process.kill(process.pid, 'SIGKILL');
}

/** A fault for tests: true while `name` is armed, ARDESIA_FAILPOINT_DIR set and the test keeps DIR/NAME.on there (the
 *  step then fails as the fault it stands for would make it fail). */
export function failpointOn(name: string): boolean {
  const dir = process.env.ARDESIA_FAILPOINT_DIR;
  return armed.has(name) && dir !== undefined && existsSync(join(dir, `${name}.on`));
}

/**
 * A pause for race tests (etcd's "pause" action): when `name` is armed and ARDESIA_FAILPOINT_DIR is
 * set, writes DIR/NAME.reached and waits until the test creates DIR/NAME.continue.
 */
export async function failpointPause(name: string): Promise<void> {
  const dir = process.env.ARDESIA_FAILPOINT_DIR;
  if (!armed.has(name) || !dir) return;
  writeFileSync(join(dir, `${name}.reached`), `${process.pid}\n`);
  for (const end = Date.now() + PAUSE_LIMIT_MS; Date.now() < end && !existsSync(join(dir, `${name}.continue`)); ) await sleep(50);
}
