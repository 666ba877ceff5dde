// The login timeline (issue 17): one row per connect, one per stage it passed or skipped; usage events (part of the store's Database).
import type { Generated } from 'kysely';

export interface LoginTimelineTable {
  /** A random id (UUID). */
  id: string;
  desktop: string;
  pool: string;
  user: string;
  /** The connect request's arrival (ISO-8601, ms). */
  started_at: string;
}

export interface LoginTimelineStageTable {
  timeline: string;
  /** TimelineStage (src/contract/timeline.ts); recorded only in the order of the transition table (login-timeline.ts). */
  stage: string;
  /** Epoch milliseconds. */
  at_ms: number;
  /** 1: the stage did not happen for this session (a warm spare has no wait, a reconnect no home). */
  skipped: number;
  detail: string | null;
}

export interface UsageEventTable {
  id: Generated<number>;
  /** Epoch milliseconds. */
  at_ms: number;
  /** UsageEventKind (src/desktops/usage-report.ts). */
  kind: string;
  pool: string;
  desktop: string;
  user: string | null;
}

export interface TimelineTables {
  usage_events: UsageEventTable;
  login_timelines: LoginTimelineTable;
  login_timeline_stages: LoginTimelineStageTable;
}
