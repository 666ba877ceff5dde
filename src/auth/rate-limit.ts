// Login rate limits: at most N failures per key (a user name, an address) in a sliding window. Pure, clock injected.

export const LOGIN_FAILURES_ALLOWED = 5;
export const LOGIN_WINDOW_MS = 5 * 60_000;
/** Keys kept at most; beyond it the oldest are forgotten (an attacker cannot grow memory without bound). */
const MAX_KEYS = 100_000;

export interface RateLimitVerdict {
  allowed: boolean;
  /** When refused: milliseconds until the oldest counted failure leaves the window. */
  retryAfterMs: number;
  /** The key that refused. */
  key?: string;
}

export class SlidingWindowLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly limit = LOGIN_FAILURES_ALLOWED,
    private readonly windowMs = LOGIN_WINDOW_MS,
  ) {}

  /** Refused when any of the keys already has `limit` failures in the window. */
  check(keys: readonly string[], nowMs: number): RateLimitVerdict {
    let worst: RateLimitVerdict = { allowed: true, retryAfterMs: 0 };
    for (const key of keys) {
      const recent = this.recent(key, nowMs);
      if (recent.length < this.limit) continue;
      const retryAfterMs = recent[recent.length - this.limit]! + this.windowMs - nowMs;
      if (worst.allowed || retryAfterMs > worst.retryAfterMs) worst = { allowed: false, retryAfterMs, key };
    }
    return worst;
  }

  fail(keys: readonly string[], nowMs: number): void {
    for (const key of keys) {
      const recent = this.recent(key, nowMs);
      recent.push(nowMs);
      this.failures.delete(key); // re-insert: Map order = least recently failed first
      this.failures.set(key, recent);
    }
    while (this.failures.size > MAX_KEYS) this.failures.delete(this.failures.keys().next().value!);
  }

  /** A success forgets this key's failures (a user's own; an address keeps its count). */
  forget(key: string): void {
    this.failures.delete(key);
  }

  private recent(key: string, nowMs: number): number[] {
    const kept = (this.failures.get(key) ?? []).filter((t) => t > nowMs - this.windowMs);
    if (kept.length === 0) this.failures.delete(key);
    else this.failures.set(key, kept);
    return kept;
  }
}

export const userKey = (user: string): string => `user:${user.toLowerCase()}`;
export const addressKey = (address: string): string => `addr:${address}`;

/** "try again in 4 min 10 s" — whole seconds, rounded up. */
export function retryText(ms: number): string {
  const s = Math.max(1, Math.ceil(ms / 1000));
  const min = Math.floor(s / 60);
  return min > 0 ? `${min} min${s % 60 ? ` ${s % 60} s` : ''}` : `${s} s`;
}
