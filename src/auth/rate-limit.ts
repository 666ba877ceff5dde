// Login throttling. Pure, clock injected. An attempt is reserved BEFORE the password is hashed (argon2id is async,
// so a burst would otherwise pass the check all at once) and settled after. Two limits:
// - per (user, address): a few free failures, then growing delays (doubling, capped) — never a hard lock, and a
//   stranger's failures from their address never slow the real user at theirs;
// - per address, any user: a sliding window (one address spraying many users).

export interface ThrottlePolicy {
  /** Failures of one (user, address) before delays start. */
  pairFreeFailures: number;
  /** The first delay; each further failure doubles it. */
  pairFirstDelayMs: number;
  pairMaxDelayMs: number;
  /** A pair quiet this long starts afresh. */
  pairForgetMs: number;
  /** Failures of one address (any users) in the window. */
  addressFailures: number;
  addressWindowMs: number;
}

export const LOGIN_THROTTLE: ThrottlePolicy = {
  pairFreeFailures: 5,
  pairFirstDelayMs: 30_000,
  pairMaxDelayMs: 15 * 60_000,
  pairForgetMs: 12 * 3600_000,
  addressFailures: 30,
  addressWindowMs: 5 * 60_000,
};

/** Keys kept at most per table; beyond it the oldest are forgotten (an attacker cannot grow memory without bound). */
const MAX_KEYS = 100_000;

export type ThrottleVerdict =
  | { allowed: true; attempt: LoginAttempt }
  | { allowed: false; retryAfterMs: number; by: 'user-address' | 'address' };

/** A reserved attempt: settle it exactly once. */
export interface LoginAttempt {
  readonly pair: string;
  readonly address: string;
}

interface PairState {
  failures: number;
  lastFailureAt: number;
  pending: number;
}

interface AddressState {
  failures: number[];
  pending: number;
}

/** The wait after `failures` failures of one pair (0 while free). */
export function pairDelayMs(policy: ThrottlePolicy, failures: number): number {
  const over = failures - policy.pairFreeFailures;
  if (over < 0) return 0;
  return Math.min(policy.pairMaxDelayMs, policy.pairFirstDelayMs * 2 ** Math.min(over, 30));
}

export class LoginThrottle {
  private readonly pairs = new Map<string, PairState>();
  private readonly addresses = new Map<string, AddressState>();

  constructor(readonly policy: ThrottlePolicy = LOGIN_THROTTLE) {}

  /** Reserves one password check, or says how long to wait. Pending attempts count as failures until settled. */
  reserve(user: string, address: string, nowMs: number): ThrottleVerdict {
    const pairKey = `${user.toLowerCase()}\u0000${address}`;
    const pair = this.pairOf(pairKey, nowMs);
    const addr = this.addressOf(address, nowMs);
    const p = this.policy;
    if (addr.failures.length + addr.pending >= p.addressFailures) {
      const oldest = addr.failures[addr.failures.length - p.addressFailures];
      return { allowed: false, by: 'address', retryAfterMs: oldest === undefined ? p.pairFirstDelayMs : oldest + p.addressWindowMs - nowMs };
    }
    const counted = pair.failures + pair.pending;
    if (counted >= p.pairFreeFailures) {
      // One attempt at a time once delays apply; it may start when the delay after the last failure is over.
      const openAt = pair.lastFailureAt + pairDelayMs(p, pair.failures);
      if (pair.pending > 0 || nowMs < openAt) return { allowed: false, by: 'user-address', retryAfterMs: Math.max(1000, openAt - nowMs) };
    }
    pair.pending++;
    addr.pending++;
    this.touch(this.pairs, pairKey, pair);
    this.touch(this.addresses, address, addr);
    return { allowed: true, attempt: { pair: pairKey, address } };
  }

  /** The attempt's outcome: a failure counts; a success forgets the pair (the address keeps its count). */
  settle(attempt: LoginAttempt, ok: boolean, nowMs: number): void {
    const pair = this.pairs.get(attempt.pair);
    const addr = this.addresses.get(attempt.address);
    if (pair) pair.pending = Math.max(0, pair.pending - 1);
    if (addr) addr.pending = Math.max(0, addr.pending - 1);
    if (ok) {
      if (pair && pair.pending === 0) this.pairs.delete(attempt.pair);
      else if (pair) pair.failures = 0;
      return;
    }
    const p = pair ?? { failures: 0, lastFailureAt: nowMs, pending: 0 };
    p.failures++;
    p.lastFailureAt = nowMs;
    this.touch(this.pairs, attempt.pair, p);
    const a = addr ?? { failures: [], pending: 0 };
    a.failures.push(nowMs);
    if (a.failures.length > this.policy.addressFailures) a.failures.splice(0, a.failures.length - this.policy.addressFailures);
    this.touch(this.addresses, attempt.address, a);
  }

  private pairOf(key: string, nowMs: number): PairState {
    const s = this.pairs.get(key);
    if (s && s.pending === 0 && nowMs - s.lastFailureAt >= this.policy.pairForgetMs) this.pairs.delete(key);
    return this.pairs.get(key) ?? { failures: 0, lastFailureAt: 0, pending: 0 };
  }

  private addressOf(address: string, nowMs: number): AddressState {
    const s = this.addresses.get(address) ?? { failures: [], pending: 0 };
    s.failures = s.failures.filter((t) => t > nowMs - this.policy.addressWindowMs);
    return s;
  }

  /** Re-insert: Map order = least recently used first, so the oldest go when the table is full. */
  private touch<V>(map: Map<string, V>, key: string, value: V): void {
    map.delete(key);
    map.set(key, value);
    while (map.size > MAX_KEYS) map.delete(map.keys().next().value!);
  }
}

/** "try again in 4 min 10 s" — whole seconds, rounded up. */
export function retryText(ms: number): string {
  const s = Math.max(1, Math.ceil(ms / 1000));
  const min = Math.floor(s / 60);
  return min > 0 ? `${min} min${s % 60 ? ` ${s % 60} s` : ''}` : `${s} s`;
}
