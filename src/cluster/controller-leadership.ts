// The leadership row's shell: a connection of its own (not the store's fenced pool) that a standby polls and a
// leader renews on, every renew interval; the decisions are leadership.ts's.
import type { Logger } from 'pino';
import type pg from 'pg';
import { LEADERSHIP_TABLE } from '../store/controller-fence.js';
import { postgresConnect } from '../store/db.js';
import { leadershipDecide, type LeadershipRow, type LeadershipSeen, type LeadershipTiming } from './leadership.js';

export interface ControllerIdentity {
  /** This controller's host name. */
  holder: string;
  /** Where its API answers (--listen's URL), or '' when it has none. */
  address: string;
}

export class ControllerLeadership {
  private client: pg.Client | undefined;
  private timer: NodeJS.Timeout | undefined;
  private term: number | undefined;
  private stopped = false;
  /** When the last acquire or renewal that the database confirmed was sent (this process's monotonic clock). */
  private renewedAt = 0;

  /** This controller's term while it leads. */
  get currentTerm(): number | undefined {
    return this.term;
  }

  constructor(
    private readonly url: string,
    private readonly me: ControllerIdentity,
    private readonly timing: LeadershipTiming,
    private readonly log: Logger,
  ) {}

  /** Resolves with this controller's term once it leads; `onLeader` hears of each other leader seen meanwhile. */
  async awaitLeadership(onLeader: (leader: { holder: string; address: string } | undefined) => void): Promise<number> {
    let lastSeen = '';
    for (;;) {
      if (this.stopped) throw new Error('stopped before leading');
      const row = await this.query(() => this.readRow());
      const step = leadershipDecide({ role: 'standby' }, row ? { kind: 'row', row } : { kind: 'unreachable', sinceRenewedMs: 0 }, this.timing);
      if (step.do === 'acquire') {
        const attemptAt = performance.now();
        const term = await this.query(() => this.acquire(step.fromTerm));
        if (term !== undefined) {
          this.renewedAt = attemptAt; // the lease runs from before the UPDATE was sent
          return (this.term = term);
        }
        continue; // another standby won this term: read who
      }
      if (step.do === 'wait') {
        const seen = step.leader ? `${step.leader.holder} ${step.leader.address}` : '';
        if (seen !== lastSeen) onLeader(step.leader);
        lastSeen = seen;
      }
      await new Promise((r) => (this.timer = setTimeout(r, this.timing.renewMs)));
    }
  }

  /** Renews the lease every renew interval; `onDeposed` is told once, with why, when the term is lost. */
  startRenewing(onDeposed: (reason: string) => void): void {
    const term = this.term;
    if (term === undefined) throw new Error('renewing without leading');
    const tick = async () => {
      const attemptAt = performance.now();
      const seen = await this.renewalSeen(term, () => performance.now() - this.renewedAt);
      if (seen.kind === 'renewed') this.renewedAt = attemptAt;
      const step = leadershipDecide({ role: 'leader', term }, seen, this.timing);
      if (step.do === 'step-down') {
        this.term = undefined;
        return onDeposed(step.reason);
      }
      if (!this.stopped) this.timer = setTimeout(() => void tick(), this.timing.renewMs);
    };
    this.timer = setTimeout(() => void tick(), this.timing.renewMs);
  }

  /** Stops polling or renewing; a leader hands over at once (its lease ends now) instead of after expiry. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const term = this.term;
    this.term = undefined;
    if (term !== undefined) await this.query(() => this.run(`update ${LEADERSHIP_TABLE} set expires_at = clock_timestamp() where id = 1 and term = $1`, [term]));
    await this.client?.end().catch(() => {});
    this.client = undefined;
  }

  /** One renewal: renewed, or the row that shows who leads instead, or no answer since the last renewal. */
  private async renewalSeen(term: number, sinceRenewedMs: () => number): Promise<LeadershipSeen> {
    const renewed = await this.query(() => this.renew(term));
    if (renewed === true) return { kind: 'renewed' };
    const row = renewed === false ? await this.query(() => this.readRow()) : undefined;
    return row ? { kind: 'row', row } : { kind: 'unreachable', sinceRenewedMs: sinceRenewedMs() };
  }

  private async readRow(): Promise<LeadershipRow | undefined> {
    const res = await this.run<{ holder: string; address: string; term: string; expired: boolean }>(`select holder, address, term, expires_at <= clock_timestamp() as expired from ${LEADERSHIP_TABLE} where id = 1`);
    const r = res.rows[0];
    return r ? { holder: r.holder, address: r.address, term: Number(r.term), expired: r.expired } : undefined;
  }

  /** One conditional UPDATE: of two standbys that saw the same expired term, only the first wins it. */
  private async acquire(fromTerm: number): Promise<number | undefined> {
    const res = await this.run<{ term: string }>(
      `update ${LEADERSHIP_TABLE} set holder = $1, address = $2, term = term + 1, expires_at = clock_timestamp() + $3 * interval '1 millisecond' where id = 1 and term = $4 and expires_at <= clock_timestamp() returning term`,
      [this.me.holder, this.me.address, this.timing.leaseMs, fromTerm],
    );
    return res.rows[0] ? Number(res.rows[0].term) : undefined;
  }

  private async renew(term: number): Promise<boolean> {
    const res = await this.run(`update ${LEADERSHIP_TABLE} set expires_at = clock_timestamp() + $1 * interval '1 millisecond' where id = 1 and term = $2 and holder = $3`, [this.timing.leaseMs, term, this.me.holder]);
    return res.rowCount === 1;
  }

  private async run<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
    this.client ??= await postgresConnect(this.url);
    return this.client.query<R>(text, values);
  }

  /** A query's result, or undefined when the database did not answer (the connection is made again next time). */
  private async query<T>(fn: () => Promise<T>): Promise<T | undefined> {
    try {
      return await fn();
    } catch (err) {
      this.log.warn({ err }, 'the controller leadership row could not be read or written');
      await this.client?.end().catch(() => {});
      this.client = undefined;
      return undefined;
    }
  }
}
