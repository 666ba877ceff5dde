// Pure statistics for benchmarks: medians, spreads and paired ratios of alternated runs.

export interface Summary {
  n: number;
  median: number;
  min: number;
  max: number;
}

export class EmptySampleError extends Error {
  constructor(what: string) {
    super(`no samples for ${what}: a benchmark must measure at least once`);
    this.name = 'EmptySampleError';
  }
}

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new EmptySampleError('median');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) throw new EmptySampleError('summary');
  return { n: values.length, median: median(values), min: Math.min(...values), max: Math.max(...values) };
}

/** Ratio of each run to the baseline run of the same round: drift between rounds cancels out. */
export function pairedRatios(measured: readonly number[], baseline: readonly number[]): number[] {
  if (measured.length !== baseline.length) throw new Error(`paired ratios need as many runs on each side (${measured.length} vs ${baseline.length})`);
  return measured.map((m, i) => m / baseline[i]!);
}

/** The order of an alternated run: side 0, side 1, … then again, `rounds` times (A B A B …). */
export function alternatedOrder<S extends string>(sides: readonly S[], rounds: number): Array<{ round: number; side: S }> {
  const order: Array<{ round: number; side: S }> = [];
  for (let round = 0; round < rounds; round++) for (const side of sides) order.push({ round, side });
  return order;
}

/** Rounds to a few significant decimals for tables and JSON (no false precision). */
export function round(value: number, decimals = 2): number {
  const f = 10 ** decimals;
  return Math.round(value * f) / f;
}
