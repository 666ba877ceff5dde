// What PoolService and its parts share: the caller, the events it emits, and the states that end a session.
import type { DisplayEnd } from '../contract/display.js';
import type { DesktopState, Pool, PoolView } from '../contract/pools.js';
import type { PlacementRefusal } from '../contract/hosts.js';
import type { BrokerDecision } from './broker-plan.js';
import type { StageObserved } from './login-timeline-recorder.js';

export interface Caller {
  name: string;
  admin: boolean;
  groups: readonly string[];
  address?: string;
}

export interface PoolServiceOptions {
  /** Desktops starting at once, over every pool (vmd's staggered start). */
  bootStormLimit: number;
  /** The cluster's placement (src/cluster/hosts.ts): whether a pool's next desktop fits on a host, and which hosts take none. */
  placement: PoolPlacement;
  /** The IANA time zone spare schedules are read in (serve --time-zone; the host's by default). */
  timeZone: string;
  /** Hosts the controller no longer reaches (their agent's link lost and not back); undefined: none ever are. */
  cutOffHosts?: () => ReadonlySet<string>;
  /** Hosts whose agent linked but has not reported since (joining the lockspace): their spares are not handed out. */
  notReadyHosts?: () => ReadonlySet<string>;
}

export interface PoolPlacement {
  checkPool(pool: Pool): Promise<PlacementRefusal | null>;
  hostsNotUp(): Promise<Set<string>>;
  /** Desktops of the pool the hosts can run at once (memory and vCPU limits), for the spare schedule. */
  poolCapacity(pool: Pool): Promise<number>;
}

export interface PoolServiceEvents {
  pool: [PoolView];
  'pool-removed': [string];
  /** The broker answered a connect: the decision's kind, for metrics. */
  brokered: [BrokerDecision['kind'] | 'refuse'];
  /** A connect's session started in the guest: the seconds since the request, for the login-to-ready histogram. */
  'session-ready': [SessionReady];
  /** A login timeline stage happened (not skipped): its duration, for the per-stage histogram. */
  'login-stage': [StageObserved];
  /** A thin client (by MAC) now shows `user`'s session, or none (null) when it ended. */
  'thin-client': [string, string | null];
  /** An administrator disconnected the desktop's display clients (display-access.ts closes them). */
  'display-end': [string, DisplayEnd];
}

export interface SessionReady {
  pool: string;
  desktop: string;
  user: string;
  how: Exclude<BrokerDecision['kind'], 'refuse'>;
  seconds: number;
}

export const SESSION_END_STATES: readonly DesktopState[] = ['failed', 'resetting', 'stopped', 'retiring'];

