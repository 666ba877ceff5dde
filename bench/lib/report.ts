// Turning benchmark results into a table for the terminal and a JSON record for .cache/bench/.
import type { BenchResult, BenchRow } from './benchmark.js';
import type { MachineFacts } from './host.js';
import { round } from './stats.js';

function figure(value: number, unit: BenchRow['unit']): string {
  if (unit === 'ratio') return value.toFixed(3);
  if (unit === 'MiB') return value.toFixed(2);
  return String(Math.round(value));
}

function pad(cells: string[], widths: number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
}

export function formatResult(result: BenchResult): string {
  const header = ['', 'n', 'median', 'min', 'max', 'unit'];
  const lines = result.rows.map((r) => [r.label, String(r.n), figure(r.median, r.unit), figure(r.min, r.unit), figure(r.max, r.unit), r.unit]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const out = [`== ${result.name}`, pad(header, widths), ...lines.map((l) => pad(l, widths))];
  for (const v of result.verdicts) {
    out.push(`${v.met ? 'MET   ' : 'MISSED'} ${v.what}: ${v.value.toFixed(3)} (target ≤ ${v.target})`);
  }
  return out.join('\n');
}

/** `vm-start-2026-11-26T03-50-12Z`: sortable, one file per run, no colons in file names. */
export function resultFileName(name: string, at: Date): string {
  return `${name}-${at.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-')}.json`;
}

export function resultRecord(result: BenchResult, machine: MachineFacts, startedAt: Date, finishedAt: Date): Record<string, unknown> {
  return {
    format: 1,
    name: result.name,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    machine,
    rows: result.rows.map((r) => ({ ...r, median: round(r.median, 3), min: round(r.min, 3), max: round(r.max, 3) })),
    verdicts: result.verdicts,
    details: result.details,
  };
}
