// The pool forecast's shell: session records from the audit log (connects, and the ends recorded here), the hosts'
// capacity, and the pure forecast (forecast.ts). Also records each session's end, which the forecast needs.
import type { Pool } from '../contract/pools.js';
import type { ServiceContext } from '../images/context.js';
import { auditAppend } from '../audit/log.js';
import { isInSession } from './lifecycle.js';
import type { DesktopMachine } from './pool-machine.js';
import { type Forecast, forecastPool, SESSION_ASSUMED_MAX_MS, type SessionRecord, sessionIntervals } from './forecast.js';
import type { PoolPlacement } from './pool-events.js';

export interface ForecastQuery {
  weeks: number;
  minWarm: number;
}

/** Audits `session.end` when a desktop leaves its session (logoff, reset, failure, retire), with its pool and user. */
export function recordSessionEnds(ctx: ServiceContext, machine: DesktopMachine): void {
  const inSession = new Map<string, string>();
  machine.on('desktop', (view) => {
    if (isInSession(view.state) && view.user !== null) {
      inSession.set(view.name, view.user);
      return;
    }
    const user = inSession.get(view.name);
    if (user === undefined) return;
    inSession.delete(view.name);
    void auditAppend(ctx.db, 'system', 'session.end', view.name, { pool: view.pool, user, state: view.state }).catch((err) =>
      ctx.deps.log.error({ err, desktop: view.name }, 'recording a session end failed'),
    );
  });
}

/** The pool's sessions over the last weeks from the audit log, and what they say each hour of the week needs. */
export async function poolForecast(ctx: ServiceContext, pool: Pool, q: ForecastQuery, env: { timeZone: string; placement: PoolPlacement }): Promise<Forecast> {
  const now = Date.now();
  const since = new Date(now - q.weeks * 7 * 86_400_000 - SESSION_ASSUMED_MAX_MS).toISOString();
  const rows = await ctx.db.selectFrom('audit').select(['at', 'action', 'target', 'detail']).where('action', 'in', ['session.connect', 'session.end']).where('at', '>=', since).execute();
  const records: SessionRecord[] = [];
  for (const r of rows) {
    const detail = r.detail ? (JSON.parse(r.detail) as { pool?: unknown }) : {};
    if (detail.pool === pool.name) records.push({ at: Date.parse(r.at), kind: r.action === 'session.connect' ? 'connect' : 'end', desktop: r.target });
  }
  return forecastPool({
    sessions: sessionIntervals(records, now),
    now,
    weeks: q.weeks,
    timeZone: env.timeZone,
    capacity: await env.placement.poolCapacity(pool),
    minWarm: q.minWarm,
    maxWarm: Math.max(0, pool.maxDesktops - pool.coldSpares),
  });
}
