// The cluster trial's script, from a seed alone: users log in and off while hosts lose power, are cut off from the
// management network, or have their agent restarted, and come back some steps later. Pure, so a failing seed
// replays exactly (`npm run chaos:cluster -- --seed N`).
import { mulberry32 } from '../../src/lib/prng.js';

export type UserOp = 'login' | 'logoff';
/** kill: power loss (nothing says goodbye; its leases expire); cut-off: the management link only; agent-restart: the
 *  agent process only (its VMs run on). */
export type FaultKind = 'kill' | 'cut-off' | 'agent-restart';

export interface ClusterFault {
  kind: FaultKind;
  /** Index into the trial's agent hosts (the controller's own host is never faulted: it is the controller). */
  host: number;
  /** Fired this long after the step's user operation was sent, so some land in the middle of it. */
  afterMs: number;
  /** The host comes back (power, link) after this many more steps; an agent restart is back at once. */
  backAfterSteps: number;
}

export interface ClusterStep {
  op: UserOp;
  user: number;
  fault?: ClusterFault;
}

export interface ClusterPlanOptions {
  seed: number;
  steps: number;
  users: number;
  hosts: number;
  /** About one fault every this many steps. */
  faultEvery: number;
  maxFaultDelayMs: number;
  /** Faults every script has at least one of (a short run must still kill and cut off). */
  required?: readonly FaultKind[];
}

const FAULT_WEIGHTS: Record<FaultKind, number> = { kill: 2, 'cut-off': 2, 'agent-restart': 1 };

/** Logins every script has at least (a short script drawn all logoffs once: no guest wrote, so nothing was tested). */
export const MIN_LOGINS = 2;

/** One host faulted at a time: the others serve its users, as a council's other blades would. */
export function planClusterTrial(o: ClusterPlanOptions): ClusterStep[] {
  const random = mulberry32(o.seed);
  const pickFault = (): FaultKind => {
    let r = random() * 5;
    for (const kind of Object.keys(FAULT_WEIGHTS) as FaultKind[]) if ((r -= FAULT_WEIGHTS[kind]) < 0) return kind;
    return 'agent-restart';
  };
  const steps: ClusterStep[] = [];
  const required = [...(o.required ?? [])];
  let busyUntil = -1;
  for (let i = 0; i < o.steps; i++) {
    const op: UserOp = random() < 0.55 ? 'login' : 'logoff';
    const user = Math.floor(random() * o.users);
    const drawn = random() < 1 / o.faultEvery ? pickFault() : undefined;
    const host = Math.floor(random() * o.hosts);
    const afterMs = Math.floor(random() * o.maxFaultDelayMs);
    const backAfterSteps = 1 + Math.floor(random() * 3);
    const stepsLeft = o.steps - i;
    // A required fault still missing is forced while the script has room for it and its return (two steps each,
    // after a drawn fault's three at most).
    const forced = required.length > 0 && stepsLeft <= 2 * required.length + 3;
    let kind = i > busyUntil ? (forced ? required[0] : drawn) : undefined;
    // A host that loses power or its link needs a later step to come back in.
    if (kind !== undefined && kind !== 'agent-restart' && stepsLeft < 2) kind = undefined;
    if (kind === undefined) {
      steps.push({ op, user });
      continue;
    }
    const back = kind === 'agent-restart' ? 0 : forced ? 1 : Math.min(backAfterSteps, stepsLeft - 1);
    busyUntil = i + back;
    const at = required.indexOf(kind);
    if (at >= 0) required.splice(at, 1);
    steps.push({ op, user, fault: { kind, host, afterMs, backAfterSteps: back } });
  }
  // The first logoffs become logins where too few were drawn: the draws stay the same, so every other seed's script too.
  let missing = MIN_LOGINS - steps.filter((s) => s.op === 'login').length;
  for (const step of steps) {
    if (missing <= 0) break;
    if (step.op === 'login') continue;
    step.op = 'login';
    missing--;
  }
  return steps;
}
