// ardesia report usage: the usage report (issue 17) as tables or CSV.
import { type Command, InvalidArgumentError } from 'commander';
import type { UsageReportView } from '../../contract/timeline.js';
import { output, table } from '../output.js';
import { terminalSafeLine } from '../terminal-safe.js';
import { client, wantsJson } from './image.js';

/** An ISO date or date-time for --from/--to: a date alone is midnight UTC. */
function instant(value: string): string {
  const at = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value);
  if (Number.isNaN(at)) throw new InvalidArgumentError(`${value} is not a date (YYYY-MM-DD) or an ISO date-time`);
  return new Date(at).toISOString();
}

const ms = (v: number | null) => (v === null ? '—' : `${(v / 1000).toFixed(1)} s`);

export function usageText(r: UsageReportView): string {
  const safe = terminalSafeLine;
  return [
    `usage from ${r.from} to ${r.to}`,
    '',
    table(['POOL', 'DAY', 'USER', 'SESSIONS'], r.sessions.map((s) => [safe(s.pool), s.day, safe(s.user), String(s.sessions)])),
    '',
    table(['POOL', 'PEAK', 'AT', 'LOGINS', 'WAIT P50', 'WAIT P95'], r.peaks.map((p) => {
      const w = r.waits.find((x) => x.pool === p.pool);
      return [safe(p.pool), String(p.peak), p.at ?? '—', String(w?.logins ?? 0), ms(w?.p50Ms ?? null), ms(w?.p95Ms ?? null)];
    })),
    '',
    table(['POOL', 'DAY', 'BOOTED', 'RESET'], r.desktops.map((d) => [safe(d.pool), d.day, String(d.booted), String(d.reset)])),
  ].join('\n');
}

export function registerReportCommands(program: Command): void {
  const report = program.command('report').description('reports for administrators');
  report
    .command('usage')
    .description('sessions per pool, user and day; peak concurrent sessions; login waits p50/p95; desktops booted and reset')
    .option('--from <when>', 'start (YYYY-MM-DD or ISO date-time; default 7 days before --to)', instant)
    .option('--to <when>', 'end, exclusive (default now)', instant)
    .option('--csv', 'CSV: measure,pool,user,day,value')
    .action(async (flags: { from?: string; to?: string; csv?: boolean }, cmd: Command) => {
      const q = new URLSearchParams({ ...(flags.from ? { from: flags.from } : {}), ...(flags.to ? { to: flags.to } : {}) }).toString();
      const suffix = q ? `?${q}` : '';
      if (flags.csv) return void process.stdout.write(await client(cmd).request<string>('GET', `/v1/reports/usage.csv${suffix}`));
      const r = await client(cmd).request<UsageReportView>('GET', `/v1/reports/usage${suffix}`);
      output(wantsJson(cmd), wantsJson(cmd) ? r : usageText(r));
    });
}
