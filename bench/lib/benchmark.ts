// What a benchmark is to the runner: a name, a run that returns rows of figures, a verdict.
import type { GuestArtifacts } from '../../test/helpers/guests.js';
import type { Summary } from './stats.js';

export interface BenchRow extends Summary {
  label: string;
  unit: 'ms' | 'MiB' | 'ratio' | 'count';
}

/** A target is a ratio or a bound on one figure; `met` is computed, never asserted. */
export interface BenchVerdict {
  what: string;
  value: number;
  target: number;
  /** 'max': value must stay at or below target. */
  kind: 'max';
  met: boolean;
}

export interface BenchResult {
  name: string;
  rows: BenchRow[];
  verdicts: BenchVerdict[];
  /** Everything else worth keeping: raw samples, breakdowns, argv checks. */
  details: Record<string, unknown>;
}

export interface BenchContext {
  guests: GuestArtifacts;
  /** Progress lines for the operator (stderr). */
  log(message: string): void;
}

export interface Benchmark {
  name: string;
  summary: string;
  run(ctx: BenchContext): Promise<BenchResult>;
}

export function verdictMax(what: string, value: number, target: number): BenchVerdict {
  return { what, value, target, kind: 'max', met: value <= target };
}
