// Usage: sessions per day (a bar per day, per pool), peak concurrent sessions, login waits p50/p95 and
// desktops booted and reset over a window; the same figures as CSV from the link (GET /v1/reports/usage.csv).
import { useState } from 'react';
import type { UsageReportView } from '../../../src/contract/timeline';
import { usageReport } from '../lib/api';
import { useLive } from '../lib/events';
import { DataTable, LoadError } from '../lib/ui';

const DAY_MS = 24 * 3600 * 1000;
const seconds = (ms: number | null) => (ms === null ? '—' : `${(ms / 1000).toFixed(1)} s`);

/** Sessions per day as bars (SVG): one bar per day, its height the sessions over every pool and user. */
function SessionsChart({ report }: { report: UsageReportView }) {
  const perDay = new Map<string, number>();
  for (const s of report.sessions) perDay.set(s.day, (perDay.get(s.day) ?? 0) + s.sessions);
  const days = [...perDay.keys()].sort();
  if (days.length === 0) return <p>No sessions started in this window.</p>;
  const max = Math.max(...perDay.values());
  const barW = 28;
  const height = 120;
  return (
    <svg width={days.length * (barW + 6) + 10} height={height + 34} role="img" aria-label="Sessions per day" data-testid="usage-sessions-chart">
      {days.map((day, i) => {
        const n = perDay.get(day)!;
        const h = Math.max(2, (n / max) * height);
        return (
          <g key={day} transform={`translate(${5 + i * (barW + 6)},0)`}>
            <rect data-day={day} x={0} y={height - h + 14} width={barW} height={h} fill="#3182bd">
              <title>{`${day}: ${n} session${n === 1 ? '' : 's'}`}</title>
            </rect>
            <text x={barW / 2} y={height - h + 10} textAnchor="middle" fontSize="10">{n}</text>
            <text x={barW / 2} y={height + 28} textAnchor="middle" fontSize="9">{day.slice(5)}</text>
          </g>
        );
      })}
    </svg>
  );
}

export function UsagePage() {
  const [days, setDays] = useState(7);
  const report = useLive(() => usageReport(new Date(Date.now() - days * DAY_MS).toISOString(), new Date().toISOString()), ['session'], [days]);
  const r = report.data;
  return (
    <>
      <LoadError error={report.error} />
      <p>
        <label>
          Window{' '}
          <select value={days} onChange={(e) => setDays(Number(e.target.value))}>
            <option value={1}>last day</option>
            <option value={7}>last 7 days</option>
            <option value={30}>last 30 days</option>
          </select>
        </label>{' '}
        {r && <a href={`/v1/reports/usage.csv?from=${encodeURIComponent(r.from)}&to=${encodeURIComponent(r.to)}`}>Download CSV</a>}
      </p>
      {r && <SessionsChart report={r} />}
      <DataTable
        caption="Peak concurrent sessions and login waits (request → session started)"
        rows={r?.peaks}
        rowKey={(p) => p.pool}
        empty="No sessions in this window."
        columns={[
          { label: 'Pool', render: (p) => p.pool },
          { label: 'Peak', render: (p) => p.peak },
          { label: 'At', render: (p) => p.at ?? '—' },
          { label: 'Logins', render: (p) => r?.waits.find((w) => w.pool === p.pool)?.logins ?? 0 },
          { label: 'Wait p50', render: (p) => seconds(r?.waits.find((w) => w.pool === p.pool)?.p50Ms ?? null) },
          { label: 'Wait p95', render: (p) => seconds(r?.waits.find((w) => w.pool === p.pool)?.p95Ms ?? null) },
        ]}
      />
      <DataTable
        caption="Sessions per pool, user and day"
        rows={r?.sessions}
        rowKey={(s) => `${s.pool}/${s.user}/${s.day}`}
        empty="No sessions started in this window."
        columns={[
          { label: 'Day', render: (s) => s.day },
          { label: 'Pool', render: (s) => s.pool },
          { label: 'User', render: (s) => s.user },
          { label: 'Sessions', render: (s) => s.sessions },
        ]}
      />
      <DataTable
        caption="Desktops booted and reset"
        rows={r?.desktops}
        rowKey={(d) => `${d.pool}/${d.day}`}
        empty="No desktop booted or reset in this window."
        columns={[
          { label: 'Day', render: (d) => d.day },
          { label: 'Pool', render: (d) => d.pool },
          { label: 'Booted', render: (d) => d.booted },
          { label: 'Reset', render: (d) => d.reset },
        ]}
      />
    </>
  );
}
