// Usage reports' shell: desktop state changes kept as usage events (usage-report.ts says which), and the
// report read back from them and from the login timelines.
import type { Kysely } from 'kysely';
import type { DesktopState, DesktopView } from '../contract/pools.js';
import type { Database } from '../store/schema.js';
import { type LoginWait, type UsageEvent, type UsageEventKind, type UsageReport, usageEventsOf, usageReport } from './usage-report.js';

/** Sessions longer than this before the window are not looked for (the window's peak would miss them). */
const LOOKBACK_MS = 31 * 24 * 3600 * 1000;

export class UsageRecorder {
  private readonly lastState = new Map<string, DesktopState>();
  private written: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly log: { warn(obj: object, msg: string): void },
  ) {}

  /** Every desktop view the lifecycle publishes. */
  desktopChanged(view: DesktopView): void {
    const kinds = usageEventsOf(this.lastState.get(view.name), view.state);
    this.lastState.set(view.name, view.state);
    for (const kind of kinds) this.append(kind, view);
  }

  desktopRemoved(name: string): void {
    this.lastState.delete(name);
  }

  private append(kind: UsageEventKind, view: DesktopView): void {
    const row = { at_ms: Date.now(), kind, pool: view.pool, desktop: view.name, user: view.user };
    this.written = this.written
      .then(() => this.db.insertInto('usage_events').values(row).execute())
      .then(
        () => undefined,
        (err: Error) => this.log.warn({ desktop: view.name, kind, err }, `usage event ${kind} of ${view.name} not stored: ${err.message}`),
      );
  }

  async report(from: Date, to: Date): Promise<UsageReport> {
    await this.written;
    const rows = await this.db.selectFrom('usage_events').selectAll().where('at_ms', '>=', from.getTime() - LOOKBACK_MS).where('at_ms', '<', to.getTime()).orderBy('id').execute();
    const events: UsageEvent[] = rows.map((r) => ({ at: Number(r.at_ms), kind: r.kind as UsageEventKind, pool: r.pool, desktop: r.desktop, user: r.user }));
    // Login waits: request → session started, over connects that started a session.
    const waitRows = await this.db
      .selectFrom('login_timelines as t')
      .innerJoin('login_timeline_stages as req', (j) => j.onRef('req.timeline', '=', 't.id').on('req.stage', '=', 'request'))
      .innerJoin('login_timeline_stages as ses', (j) => j.onRef('ses.timeline', '=', 't.id').on('ses.stage', '=', 'session-started').on('ses.skipped', '=', 0))
      .select(['t.pool as pool', 'req.at_ms as requestAt', 'ses.at_ms as startedAt'])
      .where('t.started_at', '>=', from.toISOString())
      .where('t.started_at', '<', to.toISOString())
      .execute();
    const waits: LoginWait[] = waitRows.map((w) => ({ pool: w.pool, at: Number(w.requestAt), ms: Number(w.startedAt) - Number(w.requestAt) }));
    return usageReport(events, waits, from.getTime(), to.getTime());
  }
}
