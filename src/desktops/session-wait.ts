// A connect's waits: for the user's previous session to end (logoff in the guest, the home released, the system disk
// re-cloned) instead of failing with "try again in a moment"; then for its own session to start in the guest.
import { ArdesiaError, type ErrorCode } from '../contract/errors.js';
import type { DesktopState, DesktopView } from '../contract/pools.js';
import { SESSION_END_STATES } from './pool-events.js';
import type { DesktopMachine } from './pool-machine.js';

/** States of a user's desktop whose session is over but not yet let go of (home lease, owner, system disk). */
const ENDING: readonly DesktopState[] = ['logging-off', 'resetting'];

/** The user's desktop of this pool whose previous session is still ending, if any (pure); `passOver`: desktops not
 *  waited for (given up by this connect, not holding the user's home). */
export function endingSessionOf(desktops: readonly Pick<DesktopView, 'name' | 'state' | 'user'>[], user: string, passOver: readonly string[] = []): { name: string; state: DesktopState } | undefined {
  const d = desktops.find((x) => x.user === user && ENDING.includes(x.state) && !passOver.includes(x.name));
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
  passOver: readonly string[] = [],
  onWait?: (desktop: string) => void,
): Promise<{ desktop: string; ms: number } | undefined> {
  const start = Date.now();
  let ending = endingSessionOf(await current(), user, passOver);
  const desktop = ending?.name;
  if (desktop !== undefined) onWait?.(desktop);
  while (ending && Date.now() < deadline) {
    // A change between the read and the subscription is caught by the re-read, STORE_RECHECK_MS later at most.
    await untilStateLeft(machine, ending.name, ending.state, Math.min(deadline, Date.now() + STORE_RECHECK_MS));
    ending = endingSessionOf(await current(), user, passOver);
  }
  return desktop === undefined ? undefined : { desktop, ms: Date.now() - start };
}

/** A state change is announced by an event; the store is re-read at least this often in case one was missed. */
const STORE_RECHECK_MS = 2_000;

/** The desktop as the store has it now, with the registry code of its last failed step when the connect passes it on. */
export type DesktopReader = () => Promise<{ view: DesktopView; lastError: string | null; lastErrorCode?: ErrorCode }>;

/** Resolves when `desktop` is in use by `user`; rejects with the reason when it went another way, and at once with
 *  DESKTOP_HOST_UNREACHABLE when its host's link goes silent before the session started (the connect brokers another).
 *  Call after the assign landed: the desktop's state at the call is read first. */
export function untilSessionStarted(machine: Pick<DesktopMachine, 'on' | 'off'>, read: DesktopReader, desktop: string, user: string, timeoutMs: number): Promise<DesktopView> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new ArdesiaError('TIMEOUT', `desktop ${desktop} did not start a session for ${user} within ${Math.round(timeoutMs / 1000)} s; it keeps trying — connect again to follow it`)), timeoutMs);
    let reason: string | null = null; // a step's failure (a home lease held elsewhere) is cleared by the reset that follows it
    let code: ErrorCode | undefined; // and its registry code, when the user is to see it as it is (HOME_LEASE_HELD)
    let host: string | null = null;
    const onDesktop = (view: DesktopView, info: { lastError: string | null; lastErrorCode?: ErrorCode }) => {
      if (view.name !== desktop) return;
      reason = info.lastError ?? reason;
      code = info.lastErrorCode ?? code;
      host = view.host ?? host;
      if (view.state === 'in-use' || view.state === 'disconnected') return done(undefined, view);
      if (SESSION_END_STATES.includes(view.state) || (view.user !== null && view.user !== user)) {
        // Its state rides along: a desktop that failed (its boot, its VM gone) is one a connect may give up for another.
        done(new ArdesiaError(code ?? 'DESKTOP_FAILED', `desktop ${desktop} could not start your session${reason ? `: ${reason}` : ` (it is ${view.state})`}`, { state: view.state }));
      }
    };
    const onRemoved = (name: string) => name === desktop && done(new ArdesiaError('DESKTOP_FAILED', `desktop ${desktop} was removed before your session started`));
    const onUnreachable = (silent: string) => {
      if (silent === host) done(hostUnreachableError(desktop, silent));
    };
    const done = (err?: Error, view?: DesktopView) => {
      clearTimeout(timer);
      machine.off('desktop', onDesktop);
      machine.off('desktop-removed', onRemoved);
      machine.off('host-unreachable', onUnreachable);
      if (err) reject(err);
      else resolve(view!);
    };
    machine.on('desktop', onDesktop);
    machine.on('desktop-removed', onRemoved);
    machine.on('host-unreachable', onUnreachable);
    void read().then((now) => onDesktop(now.view, now), () => undefined);
  });
}

/** Why a connect gave up the desktop it was handed: its host went silent before the session started there. */
export function hostUnreachableError(desktop: string, host: string): ArdesiaError {
  return new ArdesiaError('DESKTOP_HOST_UNREACHABLE', `desktop ${desktop} is on host ${host}, which stopped answering the controller before your session started there`, { desktop, host });
}
