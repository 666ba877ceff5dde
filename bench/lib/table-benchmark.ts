// Adapts a benchmark that returns a plain table (storage, netboot) to the runner's Benchmark:
// the table is printed and kept in the result's details; targets are read in the table's own rows.
import type { Benchmark, BenchResult } from './benchmark.js';

export interface TableResult {
  name: string;
  rows: Array<Record<string, string | number>>;
  notes?: string[];
}

export function tableBenchmark(name: string, summary: string, run: () => Promise<TableResult>): Benchmark {
  return {
    name,
    summary,
    async run(ctx): Promise<BenchResult> {
      const table = await run();
      ctx.log(`${name}:`);
      for (const row of table.rows) ctx.log(`  ${Object.entries(row).map(([k, v]) => `${k}=${v}`).join('  ')}`);
      for (const note of table.notes ?? []) ctx.log(`  note: ${note}`);
      return { name, rows: [], verdicts: [], details: { table: table.rows, notes: table.notes ?? [] } };
    },
  };
}
