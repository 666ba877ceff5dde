// The login timeline's pure core: which stage may follow which (a transition table), the stage durations,
// and the per-pool p50/p95 per stage. The recorder (login-timeline-recorder.ts) keeps it in the store.
import { TIMELINE_STAGES, type TimelineStage } from '../contract/timeline.js';

export interface RecordedStage {
  stage: TimelineStage;
  /** Epoch ms. */
  at: number;
  skipped: boolean;
  detail: string | null;
}

/** The one stage that may follow each (undefined: the timeline is new); nothing follows the first frame. */
export const NEXT_STAGE: Readonly<Record<TimelineStage | 'new', TimelineStage | null>> = {
  new: 'request',
  request: 'authentication',
  authentication: 'broker',
  broker: 'spare',
  spare: 'home-attached',
  'home-attached': 'home-mounted',
  'home-mounted': 'session-started',
  'session-started': 'first-frame',
  'first-frame': null,
};

export type StageVerdict = { ok: true } | { ok: false; why: string };

/** May `next` be recorded after `stages`? Refused: out of order, a duplicate, after the end, or earlier in time. */
export function stageAllowed(stages: readonly RecordedStage[], next: Pick<RecordedStage, 'stage' | 'at'>): StageVerdict {
  const last = stages.at(-1);
  const expected = NEXT_STAGE[last?.stage ?? 'new'];
  if (expected === null) return { ok: false, why: `the timeline ended with ${last!.stage}` };
  if (stages.some((s) => s.stage === next.stage)) return { ok: false, why: `stage ${next.stage} is already recorded` };
  if (expected !== next.stage) return { ok: false, why: `stage ${next.stage} cannot follow ${last?.stage ?? 'nothing'}: ${expected} comes next` };
  if (last && next.at < last.at) return { ok: false, why: `stage ${next.stage} is earlier than ${last.stage}` };
  return { ok: true };
}

/** The stages between the last recorded one and `stage` (exclusive), which did not happen: to be recorded as skipped. */
export function stagesBefore(stages: readonly RecordedStage[], stage: TimelineStage): TimelineStage[] {
  const from = stages.length === 0 ? 0 : TIMELINE_STAGES.indexOf(stages.at(-1)!.stage) + 1;
  const to = TIMELINE_STAGES.indexOf(stage);
  return to > from ? TIMELINE_STAGES.slice(from, to) : [];
}

/** Each stage's duration: ms since the previous stage ended (a skipped stage takes 0). */
export function stageDurations(stages: readonly RecordedStage[]): Array<RecordedStage & { ms: number }> {
  return stages.map((s, i) => ({ ...s, ms: i === 0 || s.skipped ? 0 : s.at - stages[i - 1]!.at }));
}

/** Nearest-rank percentile (p in 0..100) of `values`; null when there are none. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

export interface StageSummary {
  stage: TimelineStage;
  count: number;
  p50Ms: number | null;
  p95Ms: number | null;
}

/** Per stage p50/p95 over sessions where it happened, and request → first frame over complete sessions. */
export function aggregateTimelines(timelines: ReadonlyArray<readonly RecordedStage[]>): { sessions: number; stages: StageSummary[]; total: Omit<StageSummary, 'stage'> } {
  const per = new Map<TimelineStage, number[]>(TIMELINE_STAGES.map((s) => [s, []]));
  const totals: number[] = [];
  for (const t of timelines) {
    for (const s of stageDurations(t)) if (!s.skipped && s.stage !== 'request') per.get(s.stage)!.push(s.ms);
    const last = t.at(-1);
    if (last?.stage === 'first-frame' && !last.skipped) totals.push(last.at - t[0]!.at);
  }
  const summary = (values: number[]) => ({ count: values.length, p50Ms: percentile(values, 50), p95Ms: percentile(values, 95) });
  return { sessions: timelines.length, stages: TIMELINE_STAGES.map((stage) => ({ stage, ...summary(per.get(stage)!) })), total: summary(totals) };
}
