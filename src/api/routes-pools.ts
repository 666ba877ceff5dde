// Pools, their desktops, the broker's connect, and sessions. Users see the pools they are entitled to and
// their own sessions only; everything else about pools is for administrators.
import { z } from 'zod';
import { ConnectBody, MAX_POOL_DESKTOPS, PoolCreate, PoolName, PoolPatch } from '../contract/pools.js';
import { MAX_FORECAST_WEEKS } from '../contract/pool-schedule.js';
import { NAME_PATTERN } from '../contract/vm.js';
import type { Caller } from '../desktops/pools.js';
import { ForecastBody } from './responses-pools.js';
import { ConnectedBody, DesktopViewBody, PoolViewBody, SessionInfoBody, listOf, namedResult } from './responses.js';
import { type ApiRoute, defineRoute, type RouteInput } from './route.js';
import { ArdesiaError } from '../contract/errors.js';
import { kioskMayOpen } from '../auth/kiosk.js';

const PoolParams = z.object({ pool: PoolName }).strict();
const DesktopName = z.string().regex(NAME_PATTERN, 'a desktop name');
const PoolDesktopParams = z.object({ pool: PoolName, desktop: DesktopName }).strict();
const SessionParams = z.object({ desktop: DesktopName }).strict();

/** The caller as the pool service needs it; `authenticated` routes always have one. */
export function callerOf({ who, address }: Pick<RouteInput, 'who' | 'address'>): Caller {
  return { name: who?.name ?? 'anonymous', admin: who?.admin ?? false, groups: who?.groups ?? [], address };
}

/** Whole decimal digits only, as the CLI's flags ("1e3" or "" refused). */
const wholeParam = (min: number, max: number) => z.string().regex(/^\d{1,4}$/, 'a whole number').transform(Number).pipe(z.number().int().min(min).max(max));
const ForecastQuery = z.object({ weeks: wholeParam(1, MAX_FORECAST_WEEKS).default('4'), minWarm: wholeParam(0, MAX_POOL_DESKTOPS).default('1') }).strict();

export const poolRoutes: ApiRoute[] = [
  defineRoute({
    method: 'GET',
    url: '/v1/pools',
    summary: 'List pools (users: the pools they are entitled to)',
    access: 'authenticated',
    kiosk: true,
    response: listOf(PoolViewBody),
    // A kiosk session sees only its thin client's pool (when the client names one).
    handler: async (input) => (await input.app.pools.list(callerOf(input))).filter((p) => !input.who || kioskMayOpen(input.who, p.name)),
  }),
  defineRoute({
    method: 'POST',
    url: '/v1/pools',
    summary: 'Create a pool',
    access: 'admin',
    body: PoolCreate,
    status: 201,
    response: PoolViewBody,
    handler: async (input) => input.app.pools.create(input.body, callerOf(input)),
  }),
  defineRoute({
    method: 'GET',
    url: '/v1/pools/:pool',
    summary: 'Show a pool: its definition, target version and desktops by state and version',
    access: 'authenticated',
    params: PoolParams,
    response: PoolViewBody,
    handler: async (input) => input.app.pools.show(input.params.pool, callerOf(input)),
  }),
  defineRoute({
    method: 'PATCH',
    url: '/v1/pools/:pool',
    summary: 'Change a pool (spares, size, image version, policy, entitlements)',
    access: 'admin',
    params: PoolParams,
    body: PoolPatch,
    response: PoolViewBody,
    handler: async (input) => input.app.pools.update(input.params.pool, input.body, callerOf(input)),
  }),
  defineRoute({
    method: 'DELETE',
    url: '/v1/pools/:pool',
    summary: 'Delete a pool and retire its desktops (refused while users have sessions)',
    access: 'admin',
    params: PoolParams,
    response: z.object({ deleted: z.string(), desktopsRetired: z.number().int() }).strict(),
    handler: async (input) => input.app.pools.delete(input.params.pool, callerOf(input)),
  }),
  defineRoute({
    method: 'GET',
    url: '/v1/pools/:pool/forecast',
    summary: 'Desktops and logins per hour of the week from past sessions (p95 over the weeks), what the hosts allow, and a proposed spare schedule',
    access: 'admin',
    params: PoolParams,
    query: ForecastQuery,
    response: ForecastBody,
    handler: async (input) => input.app.pools.forecast(input.params.pool, input.query),
  }),
  defineRoute({
    method: 'GET',
    url: '/v1/pools/:pool/desktops',
    summary: "List a pool's desktops: state, user, host, image version, since when",
    access: 'admin',
    params: PoolParams,
    response: listOf(DesktopViewBody),
    handler: async (input) => input.app.pools.poolDesktops(input.params.pool),
  }),
  defineRoute({
    method: 'POST',
    url: '/v1/pools/:pool/connect',
    summary: 'Get a desktop of the pool: your session, a warm spare, a cold one started, or a new clone',
    access: 'authenticated',
    kiosk: true,
    params: PoolParams,
    body: ConnectBody,
    response: ConnectedBody,
    handler: async (input) => {
      const kiosk = input.who?.kiosk;
      if (kiosk && !kioskMayOpen(input.who!, input.params.pool)) throw new ArdesiaError('KIOSK_SESSION_LIMITED', `thin client ${kiosk.mac} opens pool ${kiosk.pool}, not ${input.params.pool}`);
      // A kiosk session's desktop is always shown on its own thin client (the console's "current user" of that PC).
      const body = kiosk ? { ...input.body, client: { thinClient: kiosk.mac } } : input.body;
      return input.app.pools.connect(input.params.pool, body, callerOf(input), { requestAt: input.received.at, authenticatedAt: input.received.authenticatedAt });
    },
  }),
  defineRoute({
    method: 'POST',
    url: '/v1/pools/:pool/desktops/:desktop/reset',
    summary: 'Re-clone a desktop out of session from the pool’s image version',
    access: 'admin',
    params: PoolDesktopParams,
    response: DesktopViewBody,
    handler: async (input) => input.app.pools.resetDesktop(input.params.pool, input.params.desktop, callerOf(input)),
  }),
  defineRoute({
    method: 'POST',
    url: '/v1/pools/:pool/desktops/:desktop/retry',
    summary: 'Try a failed desktop again: a fresh clone (a persistent owner’s kept disk is booted again as it is)',
    access: 'admin',
    params: PoolDesktopParams,
    response: DesktopViewBody,
    handler: async (input) => input.app.pools.retryDesktop(input.params.pool, input.params.desktop, callerOf(input)),
  }),
  defineRoute({
    method: 'DELETE',
    url: '/v1/pools/:pool/desktops/:desktop',
    summary: 'Retire a desktop out of session (the planner makes new spares as needed)',
    access: 'admin',
    params: PoolDesktopParams,
    response: namedResult('retired'),
    handler: async (input) => input.app.pools.retireDesktop(input.params.pool, input.params.desktop, callerOf(input)),
  }),
  defineRoute({
    method: 'GET',
    url: '/v1/sessions',
    summary: 'List sessions (users: their own)',
    access: 'authenticated',
    kiosk: true,
    response: listOf(SessionInfoBody),
    handler: async (input) => input.app.pools.sessions(callerOf(input)),
  }),
  defineRoute({
    method: 'POST',
    url: '/v1/sessions/:desktop/logoff',
    summary: 'Log a session off (its user or an administrator); a non-persistent desktop is then reset',
    access: 'authenticated',
    kiosk: true,
    params: SessionParams,
    response: SessionInfoBody,
    handler: async (input) => input.app.pools.logoff(input.params.desktop, callerOf(input)),
  }),
  defineRoute({
    method: 'POST',
    url: '/v1/sessions/:desktop/reset',
    summary: 'End a session and re-clone its desktop (its user where the pool allows user reset, or an administrator)',
    access: 'authenticated',
    kiosk: true,
    params: SessionParams,
    response: SessionInfoBody,
    handler: async (input) => input.app.pools.resetSession(input.params.desktop, callerOf(input)),
  }),
  defineRoute({
    method: 'POST',
    url: '/v1/sessions/:desktop/disconnect',
    summary: 'Close the display connections of a session; the session stays',
    access: 'authenticated',
    kiosk: true,
    params: SessionParams,
    response: SessionInfoBody,
    handler: async (input) => input.app.pools.disconnect(input.params.desktop, callerOf(input)),
  }),
];
