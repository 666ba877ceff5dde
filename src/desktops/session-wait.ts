// A connect that arrives while the user's previous session is still ending (logoff in the guest, the home
// released, the system disk re-cloned) waits for that end instead of failing with "try again in a moment".
import type { DesktopState, DesktopView } from '../contract/pools.js';
import type { DesktopMachine } from './pool-machine.js';

/** States of a user's desktop whose session is over but not yet let go of (home lease, owner, system disk). */
const ENDING: readonly DesktopState[] = ['logging-off', 'resetting'];

/** The user's desktop of this pool whose previous session is still ending, if any (pure). */
export function endingSessionOf(desktops: readonly Pick<DesktopView, 'name' | 'state' | 'user'>[], user: string): { name: string; state: DesktopState } | undefined {
  const d = desktops.find((x) => x.user === user && ENDING.includes(x.state));
  return d ? { name: d.name, state: d.state } : undefined;
}

/** Resolves when `desktop` leaves `state` (or is removed), or at `deadline` (ms since the epoch), whichever is first. */
export function untilStateLeft(machine: Pick<DesktopMachine, 'on' | 'off'>, desktop: string, state: DesktopState, deadline: number): Promise<void> {
  return new Promise((resolve) => {
    const onDesktop = (view: DesktopView) => view.name === desktop && view.state !== state && done();
    const onRemoved = (name: string) => name === desktop && done();
    const timer = setTimeout(() => done(), Math.max(0, deadline - Date.now()));
    function done(): void {
      clearTimeout(timer);
      machine.off('desktop', onDesktop);
      machine.off('desktop-removed', onRemoved);
      resolve();
    }
    machine.on('desktop', onDesktop);
    machine.on('desktop-removed', onRemoved);
  });
}

/** Waits while `user`'s previous session on this pool ends, at most until `deadline`; `current` reads the store.
 *  Returns the desktop waited for and the milliseconds waited, or undefined when nothing was ending. */
export async function untilPreviousSessionEnded(
  machine: Pick<DesktopMachine, 'on' | 'off'>,
  current: () => Promise<readonly Pick<DesktopView, 'name' | 'state' | 'user'>[]>,
  user: string,
  deadline: number,
): Promise<{ desktop: string; ms: number } | undefined> {
  const start = Date.now();
  let ending = endingSessionOf(await current(), user);
  const desktop = ending?.name;
  while (ending && Date.now() < deadline) {
    // A change between the read and the subscription is caught by the re-read, STORE_RECHECK_MS later at most.
    await untilStateLeft(machine, ending.name, ending.state, Math.min(deadline, Date.now() + STORE_RECHECK_MS));
    ending = endingSessionOf(await current(), user);
  }
  return desktop === undefined ? undefined : { desktop, ms: Date.now() - start };
}

/** A state change is announced by an event; the store is re-read at least this often in case one was missed. */
const STORE_RECHECK_MS = 2_000;
