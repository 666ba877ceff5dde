// The login timeline of a session (issue 17): its stages in order, as the API and the console show them.
import { z } from 'zod';

/** In the order they happen; a stage that did not happen for this session is recorded as skipped. */
export const TIMELINE_STAGES = ['request', 'authentication', 'broker', 'spare', 'home-attached', 'home-mounted', 'session-started', 'first-frame'] as const;
export type TimelineStage = (typeof TIMELINE_STAGES)[number];

/** How the session's desktop was made ready: none (a warm spare or the user's running desktop), a boot, a new clone. */
export const SPARE_WAITS = ['none', 'boot', 'clone'] as const;
export type SpareWait = (typeof SPARE_WAITS)[number];

export const TimelineStageView = z.object({
  stage: z.enum(TIMELINE_STAGES),
  /** When the stage ended (ISO-8601, ms). */
  at: z.string(),
  /** Milliseconds since the previous stage ended (0 for the request). */
  ms: z.number(),
  skipped: z.boolean(),
  /** The spare stage: none | boot | clone; the broker stage: its decision. */
  detail: z.string().nullable(),
});
export type TimelineStageView = z.infer<typeof TimelineStageView>;

export const TimelineView = z.object({
  id: z.string(),
  desktop: z.string(),
  pool: z.string(),
  user: z.string(),
  startedAt: z.string(),
  /** Request to first frame in ms, once the first frame was seen. */
  totalMs: z.number().nullable(),
  complete: z.boolean(),
  stages: z.array(TimelineStageView),
});
export type TimelineView = z.infer<typeof TimelineView>;

export const StageAggregate = z.object({
  stage: z.enum(TIMELINE_STAGES),
  /** Sessions in which the stage happened (skipped ones are not counted). */
  count: z.number(),
  p50Ms: z.number().nullable(),
  p95Ms: z.number().nullable(),
});
export const PoolTimelineAggregate = z.object({
  pool: z.string(),
  from: z.string(),
  to: z.string(),
  sessions: z.number(),
  stages: z.array(StageAggregate),
  total: StageAggregate.omit({ stage: true }),
});
export type PoolTimelineAggregate = z.infer<typeof PoolTimelineAggregate>;

export const SessionTimelineQuery = z.object({ limit: z.coerce.number().int().min(1).max(100).default(10) }).strict();
/** A window of session starts: from (inclusive) and to (exclusive); the last 24 hours when not given. */
export const PoolTimelineQuery = z
  .object({ from: z.string().datetime({ offset: true }).optional(), to: z.string().datetime({ offset: true }).optional() })
  .strict();

/** Usage reports (issue 17): a window of days, the last 7 by default. */
export const UsageQuery = z
  .object({ from: z.string().datetime({ offset: true }).optional(), to: z.string().datetime({ offset: true }).optional() })
  .strict();
export const UsageReportView = z
  .object({
    from: z.string(),
    to: z.string(),
    sessions: z.array(z.object({ pool: z.string(), user: z.string(), day: z.string(), sessions: z.number() }).strict()),
    peaks: z.array(z.object({ pool: z.string(), peak: z.number(), at: z.string().nullable() }).strict()),
    waits: z.array(z.object({ pool: z.string(), logins: z.number(), p50Ms: z.number().nullable(), p95Ms: z.number().nullable() }).strict()),
    desktops: z.array(z.object({ pool: z.string(), day: z.string(), booted: z.number(), reset: z.number() }).strict()),
  })
  .strict();
export type UsageReportView = z.infer<typeof UsageReportView>;
