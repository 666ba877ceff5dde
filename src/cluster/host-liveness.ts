// Whether a host is alive, from two witnesses (pure): its heartbeat in the store (judged by the database's clock) and
// its storage lease as sanlock sees it (the delta lease every host renews in the home-leases lockspace). Network
// silence alone never makes a host down: a host cut off from the management network but still renewing its storage
// lease keeps its home leases, so its desktops may still be writing; it is only `suspect`. A host is `down` once its
// storage lease has expired (sanlock's DEAD: after host_dead_seconds, by which time a watchdog has reset it), or once
// its fence device confirmed it powered off (host-fence.ts).
import type { HostState } from '../contract/hosts.js';

/** A host whose heartbeat is older than this has missed its heartbeats (Nova's service_down_time is 60 s). */
export const HOST_SILENT_AFTER_MS = 60_000;

/** sanlock's view of a host's delta lease: LIVE → renewing, FAIL → failing (renewals late), DEAD → expired. */
export type StorageLiveness = 'renewing' | 'failing' | 'expired';

/** What `sanlock client gets -h 1` says of a host id (FREE: never joined or left cleanly; UNKNOWN: not judged yet). */
export function storageLivenessOf(sanlockState: string): StorageLiveness | undefined {
  switch (sanlockState) {
    case 'LIVE':
      return 'renewing';
    case 'FAIL':
      return 'failing';
    case 'DEAD':
      return 'expired';
    default:
      return undefined;
  }
}

export interface HostJudgement {
  state: HostState;
  /** Why a host is suspect or down; null when its own row's state stands. */
  reason: string | null;
}

/**
 * The state placement and the views use. `stored` is the row's (up, draining, maintenance); `storage` undefined when
 * sanlock has nothing to say of the host (the controller runs without --home-leases sanlock, or the host never joined
 * its lockspace). The controller's own host is never judged by its heartbeat: it is the one asking.
 */
export function hostLiveness(stored: HostState, heartbeatAgeMs: number, isController: boolean, storage: StorageLiveness | undefined, fencedOff = false): HostJudgement {
  if (isController || heartbeatAgeMs <= HOST_SILENT_AFTER_MS) return { state: stored, reason: null };
  const silent = `no heartbeat for ${Math.round(heartbeatAgeMs / 1000)} s`;
  // A third witness (serve --fence-config): its power is off, so nothing of it runs, whatever its last renewal said.
  if (fencedOff) return { state: 'down', reason: `${silent} and its fence device confirmed it powered off: nothing of it runs${storage === 'expired' ? '' : '; the home leases it held free once its storage lease expires'}` };
  if (storage === 'expired') return { state: 'down', reason: `${silent} and its storage lease has expired: it is dead, and the leases it held are free` };
  if (storage === 'renewing' || storage === 'failing') {
    return { state: 'suspect', reason: `${silent}, but it ${storage === 'failing' ? 'was renewing' : 'still renews'} its storage lease: cut off from the management network, its desktops may still run and keep their homes` };
  }
  return { state: 'suspect', reason: `${silent}; without a storage lease to judge by (serve --home-leases sanlock) a dead host cannot be told from a cut-off one: it stays suspect until it reports again or an administrator removes it` };
}
