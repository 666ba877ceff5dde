// Which `serve` of several on one PostgreSQL leads (pure): the leadership row's term is the fencing token, its
// expiry is judged by the database's clock; a standby takes over only after it, and a leader that cannot
// prove its term within one lease stops acting.
import { ArdesiaError } from '../contract/errors.js';

/** The leadership row as read, its expiry already judged by the database (`expires_at <= clock_timestamp()`). */
export interface LeadershipRow {
  holder: string;
  address: string;
  term: number;
  expired: boolean;
}

export type LeadershipState = { role: 'standby' } | { role: 'leader'; term: number };

/** What one attempt saw: the row (a standby's poll, or a renewal that matched nothing), a renewal, or no database. */
export type LeadershipSeen =
  | { kind: 'row'; row: LeadershipRow }
  | { kind: 'renewed' }
  | { kind: 'unreachable'; sinceRenewedMs: number };

export type LeadershipStep =
  | { do: 'acquire'; fromTerm: number }
  | { do: 'wait'; leader?: { holder: string; address: string } }
  | { do: 'keep' }
  | { do: 'step-down'; reason: string };

export interface LeadershipTiming {
  leaseMs: number;
  renewMs: number;
}

export const DEFAULT_LEADERSHIP_TIMING: LeadershipTiming = { leaseMs: 15_000, renewMs: 5_000 };

/** Refuses a renewal interval that leaves no room for one missed renewal within the lease. */
export function leadershipTiming(leaseMs: number, renewMs: number): LeadershipTiming {
  if (!(renewMs > 0) || renewMs * 2 > leaseMs) {
    throw new ArdesiaError('BAD_REQUEST', `--controller-renew (${renewMs} ms) must be at most half of --controller-lease (${leaseMs} ms): a leader must get a second try at renewing before its lease ends`);
  }
  return { leaseMs, renewMs };
}

export function leadershipDecide(state: LeadershipState, seen: LeadershipSeen, timing: LeadershipTiming): LeadershipStep {
  if (state.role === 'standby') {
    if (seen.kind === 'row' && seen.row.expired) return { do: 'acquire', fromTerm: seen.row.term };
    if (seen.kind === 'row' && seen.row.holder !== '') return { do: 'wait', leader: { holder: seen.row.holder, address: seen.row.address } };
    return { do: 'wait' };
  }
  if (seen.kind === 'renewed') return { do: 'keep' };
  if (seen.kind === 'unreachable') {
    // The row may have expired meanwhile: past one lease the term is not ours to assume.
    return seen.sinceRenewedMs >= timing.leaseMs ? { do: 'step-down', reason: `the database did not confirm term ${state.term} within the ${timing.leaseMs} ms lease` } : { do: 'keep' };
  }
  if (seen.row.term !== state.term) return { do: 'step-down', reason: `term ${seen.row.term} is led by ${seen.row.holder || 'nobody'}${seen.row.address ? ` at ${seen.row.address}` : ''}; this controller held term ${state.term}` };
  return { do: 'keep' };
}
