// Token buckets by key, pure (the clock is passed in): a burst of `burst` at once, then one more
// every `refillMs`. Keys kept are bounded, so a flood of new keys cannot grow memory.

export interface BucketRule {
  burst: number;
  /** Milliseconds for one token to come back. */
  refillMs: number;
}

/** Keys remembered at most; the least recently used is forgotten first (it comes back full). */
export const MAX_BUCKET_KEYS = 10_000;

export class KeyedTokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; atMs: number }>();

  constructor(readonly rule: BucketRule, private readonly maxKeys = MAX_BUCKET_KEYS) {}

  /** Tokens `key` has now (fractional), without taking any. */
  available(key: string, nowMs: number): number {
    const b = this.buckets.get(key);
    if (!b) return this.rule.burst;
    return Math.min(this.rule.burst, b.tokens + Math.max(0, nowMs - b.atMs) / this.rule.refillMs);
  }

  /** Takes one token if there is one; false (nothing taken) when the key is out. */
  take(key: string, nowMs: number): boolean {
    const tokens = this.available(key, nowMs);
    if (tokens < 1) return false;
    this.buckets.delete(key); // re-insert: Map order = least recently used first
    this.buckets.set(key, { tokens: tokens - 1, atMs: nowMs });
    while (this.buckets.size > this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
    return true;
  }

  /** Takes one token from every key, or none when any key is out (checked first). */
  takeAll(keys: readonly string[], nowMs: number): boolean {
    if (keys.some((k) => this.available(k, nowMs) < 1)) return false;
    for (const k of keys) this.take(k, nowMs);
    return true;
  }
}
