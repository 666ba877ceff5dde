// The login timeline's shell: the open timeline of each desktop (from the connect to the first frame), each
// stage checked by the transition table (login-timeline.ts) and written to the store as it happens.
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.js';
import { type SpareWait, TIMELINE_STAGES, type PoolTimelineAggregate, type TimelineStage, type TimelineView } from '../contract/timeline.js';
import { aggregateTimelines, type RecordedStage, stageAllowed, stageDurations, stagesBefore } from './login-timeline.js';

export interface StageObserved {
  pool: string;
  desktop: string;
  stage: TimelineStage;
  /** Seconds since the previous stage ended. */
  seconds: number;
}

interface OpenTimeline {
  id: string;
  desktop: string;
  pool: string;
  stages: RecordedStage[];
  /** How the desktop is made ready for the user: the spare stage's detail. */
  spare: SpareWait;
  /** Store writes in order: each stage's row after the one before. */
  written: Promise<void>;
}

export interface LoginTimelineLog {
  warn(obj: object, msg: string): void;
}

export interface ConnectTimes {
  /** Epoch ms: the connect request arrived; its caller was authenticated. */
  requestAt: number;
  authenticatedAt: number;
}

export class LoginTimelines {
  private readonly open = new Map<string, OpenTimeline>();
  /** Store writes not finished yet (a timeline that reached its first frame is no longer open). */
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly log: LoginTimelineLog,
    private readonly observed: (s: StageObserved) => void,
  ) {}

  /** A connect got its desktop: request, authentication and the broker's decision are recorded; the timeline is the desktop's open one. */
  begin(desktop: string, pool: string, user: string, times: ConnectTimes, decision: string, spare: SpareWait): void {
    const t: OpenTimeline = { id: randomUUID(), desktop, pool, stages: [], spare, written: Promise.resolve() };
    this.open.set(desktop, t);
    t.written = this.db
      .insertInto('login_timelines')
      .values({ id: t.id, desktop, pool, user, started_at: new Date(times.requestAt).toISOString() })
      .execute()
      .then(() => undefined);
    this.record(desktop, 'request', { at: times.requestAt });
    this.record(desktop, 'authentication', { at: times.authenticatedAt });
    this.record(desktop, 'broker', { detail: decision });
    // No wait: a warm spare or the user's own running desktop.
    if (spare === 'none') this.record(desktop, 'spare', { skipped: true, detail: 'none' });
  }

  /** The desktop's open timeline reached `stage`; stages between that did not happen are recorded as skipped. */
  record(desktop: string, stage: TimelineStage, opts: { at?: number; skipped?: boolean; detail?: string } = {}): void {
    const t = this.open.get(desktop);
    if (!t || t.stages.some((s) => s.stage === stage)) return; // no login under way, or seen already (a second display client)
    const at = Math.max(opts.at ?? Date.now(), t.stages.at(-1)?.at ?? 0);
    for (const missed of stagesBefore(t.stages, stage)) this.add(t, { stage: missed, at, skipped: true, detail: null });
    this.add(t, { stage, at, skipped: opts.skipped ?? false, detail: opts.detail ?? (stage === 'spare' ? t.spare : null) });
    if (stage === 'first-frame') this.open.delete(desktop);
  }

  /** The desktop's session ended or failed before the first frame: its timeline stays as it is, incomplete. */
  end(desktop: string): void {
    this.open.delete(desktop);
  }

  /** Whether the desktop's login under way has passed `stage`. */
  reached(desktop: string, stage: TimelineStage): boolean {
    return this.open.get(desktop)?.stages.some((s) => s.stage === stage) ?? false;
  }

  private add(t: OpenTimeline, stage: RecordedStage): void {
    const verdict = stageAllowed(t.stages, stage);
    if (!verdict.ok) return void this.log.warn({ desktop: t.desktop, stage: stage.stage }, `login timeline of ${t.desktop}: ${verdict.why}`);
    const previous = t.stages.at(-1);
    t.stages.push(stage);
    if (previous && !stage.skipped) this.observed({ pool: t.pool, desktop: t.desktop, stage: stage.stage, seconds: (stage.at - previous.at) / 1000 });
    const row = { timeline: t.id, stage: stage.stage, at_ms: stage.at, skipped: stage.skipped ? 1 : 0, detail: stage.detail };
    t.written = t.written
      .then(() => this.db.insertInto('login_timeline_stages').values(row).execute())
      .then(
        () => undefined,
        (err: Error) => this.log.warn({ desktop: t.desktop, stage: stage.stage, err }, `login timeline of ${t.desktop}: not stored: ${err.message}`),
      );
    const written = t.written;
    this.inFlight.add(written);
    void written.finally(() => this.inFlight.delete(written));
  }

  /** Resolves once every stage recorded so far is in the store. */
  async flushed(): Promise<void> {
    await Promise.all([...this.inFlight]);
  }

  /** The desktop's latest timelines, newest first. */
  async ofDesktop(desktop: string, limit: number): Promise<TimelineView[]> {
    await this.flushed();
    const heads = await this.db.selectFrom('login_timelines').selectAll().where('desktop', '=', desktop).orderBy('started_at', 'desc').limit(limit).execute();
    return this.views(heads);
  }

  /** Per stage p50/p95 over the pool's timelines that started in [from, to). */
  async aggregate(pool: string, from: Date, to: Date): Promise<PoolTimelineAggregate> {
    await this.flushed();
    const heads = await this.db
      .selectFrom('login_timelines')
      .selectAll()
      .where('pool', '=', pool)
      .where('started_at', '>=', from.toISOString())
      .where('started_at', '<', to.toISOString())
      .execute();
    const stages = await this.stagesOf(heads.map((h) => h.id));
    const agg = aggregateTimelines(heads.map((h) => stages.get(h.id) ?? []));
    return { pool, from: from.toISOString(), to: to.toISOString(), ...agg };
  }

  private async stagesOf(ids: string[]): Promise<Map<string, RecordedStage[]>> {
    const out = new Map<string, RecordedStage[]>();
    if (ids.length === 0) return out;
    const rows = await this.db.selectFrom('login_timeline_stages').selectAll().where('timeline', 'in', ids).execute();
    for (const r of rows) {
      const list = out.get(r.timeline) ?? out.set(r.timeline, []).get(r.timeline)!;
      list.push({ stage: r.stage as TimelineStage, at: Number(r.at_ms), skipped: r.skipped === 1, detail: r.detail });
    }
    const order = (s: RecordedStage) => TIMELINE_STAGES.indexOf(s.stage);
    for (const list of out.values()) list.sort((a, b) => order(a) - order(b));
    return out;
  }

  private async views(heads: Array<Database['login_timelines']>): Promise<TimelineView[]> {
    const stages = await this.stagesOf(heads.map((h) => h.id));
    return heads.map((h) => {
      const list = stages.get(h.id) ?? [];
      const last = list.at(-1);
      const complete = last?.stage === 'first-frame' && !last.skipped;
      return {
        id: h.id,
        desktop: h.desktop,
        pool: h.pool,
        user: h.user,
        startedAt: h.started_at,
        totalMs: complete ? last.at - list[0]!.at : null,
        complete,
        stages: stageDurations(list).map((s) => ({ stage: s.stage, at: new Date(s.at).toISOString(), ms: s.ms, skipped: s.skipped, detail: s.detail })),
      };
    });
  }
}
