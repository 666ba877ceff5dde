// Pure helpers of the store-lists benchmark: percentiles, the list answers' sizes, the daemon's per-request query
// counts (its debug log), ratios of two figures.

/** Nearest-rank percentile of an ascending sample, rounded to 0.1 (NaN for an empty one). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Math.round(sorted[i]! * 10) / 10;
}

/** `measured / baseline` to 2 decimals; NaN when the baseline is not a positive number. */
export function ratioOf(measured: number, baseline: number): number {
  if (!(baseline > 0) || !Number.isFinite(measured)) return Number.NaN;
  return Math.round((measured / baseline) * 100) / 100;
}

/** GET /v1/pools' answer: how many pools, and how many desktops their counts add up to. */
export function poolsAnswerSize(body: unknown): { pools: number; desktops: number } {
  if (!Array.isArray(body)) throw new Error('GET /v1/pools did not answer a list');
  let desktops = 0;
  for (const p of body as Array<{ counts?: { total?: unknown } }>) {
    const total = p?.counts?.total;
    if (typeof total !== 'number') throw new Error('a pool of GET /v1/pools has no counts.total');
    desktops += total;
  }
  return { pools: body.length, desktops };
}

/** The store queries per request of each route, as the daemon logs them at debug level (one JSON line per request):
 *  route → the distinct counts seen, ascending. Other lines, and lines that are not JSON, are skipped. */
export function queriesPerRoute(log: string): Map<string, number[]> {
  const seen = new Map<string, Set<number>>();
  for (const line of log.split('\n')) {
    if (!line.includes('store queries of a request')) continue;
    let rec: { route?: unknown; queries?: unknown; msg?: unknown };
    try {
      rec = JSON.parse(line) as typeof rec;
    } catch {
      continue;
    }
    if (rec.msg !== 'store queries of a request' || typeof rec.route !== 'string' || typeof rec.queries !== 'number') continue;
    (seen.get(rec.route) ?? seen.set(rec.route, new Set()).get(rec.route)!).add(rec.queries);
  }
  return new Map([...seen].map(([route, counts]) => [route, [...counts].sort((a, b) => a - b)]));
}

/** CPU seconds (user + system) of a process from its /proc/PID/stat text (fields 14 and 15, in 1/100 s clock ticks). */
export function procCpuSeconds(stat: string): number {
  // The command name (field 2) is in parentheses and may hold spaces: fields are counted after its last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error('not a /proc/PID/stat line');
  return (utime + stime) / 100;
}
