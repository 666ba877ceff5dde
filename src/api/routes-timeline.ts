// The login timeline (issue 17): one desktop's latest logins stage by stage, and a pool's p50/p95 per stage;
// usage reports (JSON and CSV).
import { z } from 'zod';
import { ArdesiaError } from '../contract/errors.js';
import { PoolName } from '../contract/pools.js';
import { NAME_PATTERN } from '../contract/vm.js';
import { PoolTimelineAggregate, PoolTimelineQuery, SessionTimelineQuery, TimelineView, UsageQuery, UsageReportView } from '../contract/timeline.js';
import { usageCsv } from '../desktops/usage-report.js';
import { listOf, RawBody } from './responses.js';
import { type ApiRoute, defineRoute } from './route.js';

const DAY_MS = 24 * 3600 * 1000;

/** The window of a pool aggregate: [from, to), at most a year (the store is read whole for it). */
export function timelineWindow(q: { from?: string; to?: string }, now = Date.now(), defaultDays = 1): { from: Date; to: Date } {
  const to = q.to ? new Date(q.to) : new Date(now);
  const from = q.from ? new Date(q.from) : new Date(to.getTime() - defaultDays * DAY_MS);
  if (from >= to) throw new ArdesiaError('BAD_REQUEST', `from (${from.toISOString()}) must be before to (${to.toISOString()})`);
  if (to.getTime() - from.getTime() > 366 * DAY_MS) throw new ArdesiaError('BAD_REQUEST', 'the window is longer than a year: ask for a shorter from … to');
  return { from, to };
}

export const timelineRoutes: ApiRoute[] = [
  defineRoute({
    method: 'GET',
    url: '/v1/sessions/:desktop/timeline',
    summary: "A desktop's latest login timelines, newest first: each stage from the request to the first frame, its time and duration",
    access: 'admin',
    params: z.object({ desktop: z.string().regex(NAME_PATTERN, 'a desktop name') }).strict(),
    query: SessionTimelineQuery,
    response: listOf(TimelineView.strict()),
    handler: async ({ app, params, query }) => app.pools.timelines.ofDesktop(params.desktop, query.limit),
  }),
  defineRoute({
    method: 'GET',
    url: '/v1/pools/:pool/timeline',
    summary: "A pool's login timelines over a window (default the last 24 h): p50/p95 per stage and request → first frame",
    access: 'admin',
    params: z.object({ pool: PoolName }).strict(),
    query: PoolTimelineQuery,
    response: PoolTimelineAggregate.strict(),
    handler: async ({ app, params, query }) => {
      await app.pools.poolDesktops(params.pool); // POOL_NOT_FOUND for an unknown pool
      const { from, to } = timelineWindow(query);
      return app.pools.timelines.aggregate(params.pool, from, to);
    },
  }),
  defineRoute({
    method: 'GET',
    url: '/v1/reports/usage',
    summary: 'Usage over a window (default the last 7 days): sessions per pool, user and day; peak concurrent sessions; login waits p50/p95; desktops booted and reset',
    access: 'admin',
    query: UsageQuery,
    response: UsageReportView,
    handler: async ({ app, query }) => {
      const { from, to } = timelineWindow(query, Date.now(), 7);
      return app.pools.usage.report(from, to);
    },
  }),
  defineRoute({
    method: 'GET',
    url: '/v1/reports/usage.csv',
    summary: 'The usage report as CSV: measure,pool,user,day,value (a row per figure)',
    access: 'admin',
    query: UsageQuery,
    raw: true,
    contentType: 'text/csv; charset=utf-8',
    response: RawBody,
    handler: async ({ app, query }) => {
      const { from, to } = timelineWindow(query, Date.now(), 7);
      return usageCsv(await app.pools.usage.report(from, to));
    },
  }),
];
