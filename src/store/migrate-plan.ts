// Pure: which migrations a store needs, from those this build knows and those the store has recorded.

export interface MigrationPlan {
  /** Known, not yet recorded: run in name order, each in its own transaction. */
  pending: string[];
  /** Recorded by a newer build, unknown to this one: the store is newer than this daemon. */
  unknown: string[];
}

export function migrationPlan(known: readonly string[], recorded: readonly string[]): MigrationPlan {
  const done = new Set(recorded);
  const knownSet = new Set(known);
  return {
    // Any known migration not yet recorded runs, even one sorting before the last recorded: branches merged later get lower numbers.
    pending: [...known].filter((n) => !done.has(n)).sort(),
    unknown: [...recorded].filter((n) => !knownSet.has(n)).sort(),
  };
}

/** Pure: the newest release named among the releases that recorded the unknown migrations (dotted numbers compared as numbers). */
export function newestRelease(releases: readonly string[]): string | undefined {
  const parts = (v: string) => v.split(/[.-]/).map((p) => (/^\d+$/.test(p) ? Number(p) : p));
  return [...releases].sort((a, b) => {
    const pa = parts(a);
    const pb = parts(b);
    for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
      const x = pa[i] ?? 0;
      const y = pb[i] ?? 0;
      if (x === y) continue;
      if (typeof x === 'number' && typeof y === 'number') return x - y;
      return String(x) < String(y) ? -1 : 1;
    }
    return 0;
  }).at(-1);
}
