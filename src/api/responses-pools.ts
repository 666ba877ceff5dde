// Success bodies of the pool, session, display and thin-client routes: the contract's own zod schemas where it
// has them (DesktopView, SessionView), typed as its interfaces (PoolView, SessionInfo, ThinClientView) elsewhere.
import { PLACEMENT_REFUSAL_CODES } from '../contract/hosts.js';
import { z } from 'zod';
import { DesktopFailure, DesktopState, DesktopView, OnLogoff, PoolHome, PoolNetwork, StartMode, PoolVersion, SessionView, type PoolView, type SessionInfo } from '../contract/pools.js';
import { type Forecast, type ScheduleStatus, SpareSchedule, Weekday } from '../contract/pool-schedule.js';
import type { ThinClientView } from '../contract/thinclients.js';
import type { DisplayTicketView } from './routes-display.js';

const Iso = z.string().datetime({ offset: true });

const ScheduleStatusBody = z
  .object({
    timeZone: z.string(),
    warmTarget: z.number().int().min(0),
    inEffect: z.string().nullable(),
    next: z.object({ rule: z.string(), at: Iso, bootsFrom: Iso }).strict().nullable(),
    bootSeconds: z.number().int().min(0),
    bootsMeasured: z.number().int().min(0),
    capacity: z.number().int().min(0).nullable(),
    problems: z.array(z.string()),
  })
  .strict() satisfies z.ZodType<ScheduleStatus>;

// The contract's schemas are zod's default objects (unknown keys stripped on parse): strict here, so a reply
// with a key the contract does not name fails.
export const DesktopViewBody = DesktopView.extend({ failure: DesktopFailure.strict().nullable().optional() }).strict();

/** Desktops per state: only the states that have some (the contract's Partial<Record<DesktopState, number>>). */
const ByStateCounts = z.object(Object.fromEntries(DesktopState.options.map((state) => [state, z.number().int().min(1)]))).partial().strict();

export const PoolViewBody = z
  .object({
    name: z.string(),
    image: z.string(),
    version: PoolVersion,
    minDesktops: z.number().int(),
    maxDesktops: z.number().int(),
    warmSpares: z.number().int(),
    coldSpares: z.number().int(),
    vcpus: z.number().int(),
    memoryMiB: z.number().int(),
    homeSizeBytes: z.number().int(),
    home: PoolHome,
    persistent: z.boolean(),
    onLogoff: OnLogoff,
    idleDisconnectMinutes: z.number(),
    idleLogoffMinutes: z.number(),
    maxDesktopsPerUser: z.number().int(),
    spice: z.object({ listen: z.string() }).strict().nullable().optional(),
    userReset: z.boolean(),
    network: PoolNetwork,
    entitled: z.object({ users: z.array(z.string()), groups: z.array(z.string()) }).strict(),
    currentVersion: z.number().int().min(1).nullable(),
    counts: z
      .object({ total: z.number().int(), byState: ByStateCounts, byVersion: z.record(z.string(), z.number().int()) })
      .strict(),
    pendingAtLogoff: z.array(z.string()),
    hostLabels: z.object({ require: z.array(z.string()), avoid: z.array(z.string()) }).strict(),
    cannotPlace: z.object({ code: z.enum(PLACEMENT_REFUSAL_CODES), message: z.string() }).strict().nullable(),
    spareSchedule: SpareSchedule,
    schedule: ScheduleStatusBody.nullable(),
    startMode: StartMode,
    template: z
      .object({
        state: z.enum(['building', 'ready', 'failed']),
        reason: z.string().nullable(),
        key: z.string().nullable(),
        since: Iso,
        bootMs: z.number().int().nullable(),
        saveMs: z.number().int().nullable(),
        lastRestoreMs: z.number().int().nullable(),
        kernelVmgenid: z.enum(['yes', 'no', 'unknown']).nullable(),
      })
      .strict()
      .nullable(),
  })
  .strict() satisfies z.ZodType<PoolView, z.ZodTypeDef, unknown>;

export const SessionInfoBody = SessionView.extend({
  state: DesktopState,
  since: Iso,
  imageVersion: z.number().int().min(1),
  clients: z.number().int().min(0),
  lastClient: z.object({ address: z.string(), thinClient: z.string().optional(), at: Iso }).strict().nullable(),
  clipboardReady: z.boolean(),
}).strict() satisfies z.ZodType<SessionInfo>;

export const ConnectedBody = z.object({ desktop: DesktopViewBody, session: SessionInfoBody }).strict();

export const ThinClientViewBody = z
  .object({
    mac: z.string().regex(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/),
    name: z.string().nullable(),
    place: z.string().nullable(),
    pool: z.string().nullable(),
    state: z.enum(['new', 'enabled', 'disabled']),
    keyboardLayout: z.string().nullable(),
    resolution: z.string().nullable(),
    bootParams: z.string().nullable(),
    lastSeenAt: Iso.nullable(),
    lastIp: z.string().nullable(),
    bootCount: z.number().int().min(0),
    currentUser: z.string().nullable(),
    kioskUser: z.string().nullable(),
  })
  .strict() satisfies z.ZodType<ThinClientView>;

export const DisplayTicketBody = z.object({ ticket: z.string().min(1), path: z.string().regex(/^\/v1\/display\/socket\?ticket=[^&]+$/), expiresAt: Iso }).strict() satisfies z.ZodType<DisplayTicketView>;

export const ForecastBody = z
  .object({
    timeZone: z.string(),
    weeks: z.number().int().min(1),
    sessionsSeen: z.number().int().min(0),
    capacity: z.number().int().min(0).nullable(),
    hours: z.array(z.object({ day: Weekday, hour: z.number().int().min(0).max(23), desktops: z.number().int().min(0), logins: z.number().int().min(0) }).strict()).length(168),
    proposed: SpareSchedule,
    problems: z.array(z.string()),
  })
  .strict() satisfies z.ZodType<Forecast>;
