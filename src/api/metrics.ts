// The daemon's Prometheus metrics (GET /metrics) and its health (GET /healthz). Desktop gauges are read
// from the store at scrape time, so they are right after a restart; counters and the login-to-ready
// histogram are fed by service events. One registry per daemon (tests run several in one process).
import { sql } from 'kysely';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { ArdesiaError } from '../contract/errors.js';
import { DESKTOP_STATES, type DesktopState } from '../contract/pools.js';
import type { KsmReport } from '../contract/hosts.js';
import { type ApiRoute, defineRoute } from './route.js';
import { RawBody } from './responses.js';
import type { LoginResult, LoginService } from '../auth/login.js';
import { poolDesktopCounts, poolList, poolOf } from '../desktops/pool-repo.js';
import type { PoolService, SessionReady } from '../desktops/pools.js';
import type { Store } from '../store/db.js';

/** From a connect request to the helper's "session started": a warm spare takes ~1 s, a cold boot tens under TCG. */
export const LOGIN_TO_READY_BUCKETS_SECONDS = [0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300];
/** A health check that waits longer than this on the store reports it unreachable. */
export const STORE_PING_TIMEOUT_MS = 2_000;

export interface PoolFacts {
  name: string;
  warmSpares: number;
}

/** The pool desktops of one pool in one state: how many, and how many of them someone has (a user or an owner). */
export interface DesktopCount {
  pool: string;
  state: DesktopState;
  count: number;
  owned: number;
}

export interface DesktopGauges {
  /** Every (pool, state) pair of every pool, zeros included, so series never vanish between scrapes. */
  byPoolState: Array<{ pool: string; state: DesktopState; count: number }>;
  /** Booted, unassigned desktops per pool, and the pool's target. */
  warmSpares: Array<{ pool: string; count: number; target: number }>;
  /** Desktops booting now, over every pool (what the boot-storm limit bounds). */
  bootsInFlight: number;
}

/** Pure: the gauge values for a set of pools and their desktops' counts by state. */
export function desktopGauges(pools: readonly PoolFacts[], counts: readonly DesktopCount[]): DesktopGauges {
  const names = [...new Set([...pools.map((p) => p.name), ...counts.map((c) => c.pool)])].sort();
  const byKey = new Map(counts.map((c) => [`${c.pool}\0${c.state}`, c]));
  const of = (pool: string, state: DesktopState) => byKey.get(`${pool}\0${state}`);
  return {
    byPoolState: names.flatMap((pool) => DESKTOP_STATES.map((state) => ({ pool, state, count: of(pool, state)?.count ?? 0 }))),
    warmSpares: names.map((pool) => ({
      pool,
      count: (of(pool, 'ready')?.count ?? 0) - (of(pool, 'ready')?.owned ?? 0),
      target: pools.find((p) => p.name === pool)?.warmSpares ?? 0,
    })),
    bootsInFlight: counts.filter((c) => c.state === 'booting').reduce((sum, c) => sum + c.count, 0),
  };
}

export interface MetricsSources {
  store: Store;
  pools: PoolService;
  /** KSM on the daemon's own host, read at scrape time (HostService.localKsm). */
  ksm: () => Promise<KsmReport>;
  /** PostgreSQL: the leading controller's host and term. */
  controller?: () => ControllerTerm | undefined;
}

export interface ControllerTerm {
  holder: string;
  term: number;
}

export interface HealthReport {
  ok: true;
  store: 'reachable';
  /** Which leader answered: a page compares it to see a takeover (its display's socket went to the previous one). */
  controller?: ControllerTerm;
}

export class DaemonMetrics {
  readonly registry = new Registry();
  private readonly logins: Counter<'result'>;

  constructor(private readonly src: MetricsSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.logins = new Counter({ name: 'ardesia_logins_total', help: 'Password logins by result (ok, failed, rate-limited)', labelNames: ['result'], registers });
    for (const result of ['ok', 'failed', 'rate-limited'] satisfies LoginResult[]) this.logins.inc({ result }, 0);
    const decisions = new Counter({ name: 'ardesia_broker_decisions_total', help: 'Broker answers to connect requests by kind', labelNames: ['kind'], registers });
    src.pools.on('brokered', (kind) => decisions.inc({ kind }));
    const latency = new Histogram({
      name: 'ardesia_login_to_ready_seconds',
      help: "Seconds from a connect request to the guest helper's session-started, by pool and how the desktop was found",
      labelNames: ['pool', 'how'],
      buckets: LOGIN_TO_READY_BUCKETS_SECONDS,
      registers,
    });
    src.pools.on('session-ready', (r: SessionReady) => latency.observe({ pool: r.pool, how: r.how }, r.seconds));
    const stages = new Histogram({
      name: 'ardesia_login_stage_seconds',
      help: 'Login timeline: seconds each stage took (since the one before), per pool; skipped stages are not observed',
      labelNames: ['pool', 'stage'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300],
      registers,
    });
    src.pools.on('login-stage', (s) => stages.observe({ pool: s.pool, stage: s.stage }, s.seconds));
    this.storeGauges(registers);
    this.ksmGauges(registers);
  }

  /** KSM of this host: one sysfs read per scrape, shared by the gauges (as the store's snapshot above). */
  private ksmGauges(registers: Registry[]): void {
    let pending: Promise<KsmReport> | undefined;
    const current = () => (pending ??= this.src.ksm().finally(() => setImmediate(() => (pending = undefined))));
    new Gauge({ name: 'ardesia_ksm_enabled', help: "1 when KSM scans on this daemon's host (run=1), else 0", registers, async collect() { this.set((await current()).enabled ? 1 : 0); } });
    new Gauge({
      name: 'ardesia_ksm_saved_bytes', help: "Memory KSM saves on this daemon's host: pages_sharing × the page size", registers,
      async collect() { this.set((await current()).savedBytes); },
    });
    new Gauge({ name: 'ardesia_ksm_full_scans', help: "ksmd's completed passes over mergeable memory since boot", registers, async collect() { this.set((await current()).fullScans); } });
  }

  /** Counts the results of a login service's password checks. */
  observeLogins(login: LoginService): void {
    login.on('login', (result) => this.logins.inc({ result }));
  }

  private storeGauges(registers: Registry[]): void {
    const snapshot = async (): Promise<DesktopGauges> => {
      const pools = (await poolList(this.src.store)).map(poolOf);
      return desktopGauges(pools, await poolDesktopCounts(this.src.store));
    };
    // One store read per scrape, shared by the gauges below (prom-client collects them one after another).
    let pending: Promise<DesktopGauges> | undefined;
    const current = () => (pending ??= snapshot().finally(() => setImmediate(() => (pending = undefined))));
    new Gauge({
      name: 'ardesia_desktops', help: 'Pool desktops by pool and lifecycle state', labelNames: ['pool', 'state'], registers,
      async collect() {
        this.reset();
        for (const g of (await current()).byPoolState) this.set({ pool: g.pool, state: g.state }, g.count);
      },
    });
    new Gauge({
      name: 'ardesia_warm_spares', help: 'Booted, unassigned desktops per pool', labelNames: ['pool'], registers,
      async collect() {
        this.reset();
        for (const g of (await current()).warmSpares) this.set({ pool: g.pool }, g.count);
      },
    });
    new Gauge({
      name: 'ardesia_warm_spares_target', help: "The pool's warmSpares setting", labelNames: ['pool'], registers,
      async collect() {
        this.reset();
        for (const g of (await current()).warmSpares) this.set({ pool: g.pool }, g.target);
      },
    });
    new Gauge({
      name: 'ardesia_boots_in_flight', help: 'Desktops booting now, over every pool', registers,
      async collect() {
        this.set((await current()).bootsInFlight);
      },
    });
    const limit = this.src.pools.opts.bootStormLimit;
    new Gauge({ name: 'ardesia_boot_storm_limit', help: 'Desktops allowed to boot at once', registers, collect() { this.set(limit); } });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  /** Throws STORE_UNREACHABLE when the store does not answer a trivial query in time. */
  async health(): Promise<HealthReport> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${STORE_PING_TIMEOUT_MS} ms`)), STORE_PING_TIMEOUT_MS);
    });
    try {
      await Promise.race([sql`select 1`.execute(this.src.store), timeout]);
    } catch (err) {
      throw new ArdesiaError('STORE_UNREACHABLE', `the daemon's store does not answer: ${(err as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
    const controller = this.src.controller?.();
    return { ok: true, store: 'reachable', ...(controller ? { controller } : {}) };
  }
}

export const metricsRoutes: ApiRoute[] = [
  defineRoute({
    method: 'GET',
    url: '/metrics',
    summary: 'Read the Prometheus metrics (admin only: a scraper sends an admin API token as a bearer token)',
    access: 'admin',
    raw: true,
    contentType: 'text/plain; version=0.0.4; charset=utf-8',
    response: RawBody,
    handler: async ({ app }) => app.metrics.render(),
  }),
];
