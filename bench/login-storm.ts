// pool-login-storm: N users (default 20, `--users N`) log in and connect to a pool with N warm spares at
// once; per user, the time from the login request (and from the connect request) to the guest helper's
// "session started" (the connect answers then). Round 1 meets blank homes (the helper formats them);
// after every user logs off and the spares are back, round 2 finds the homes already made.
import { ApiClient } from '../src/cli/client.js';
import type { PoolView } from '../src/contract/pools.js';
import { TestDaemon, until } from '../test/helpers/daemon.js';
import { helperImage, PASSWORD, untilDesktops } from '../test/pools/support.js';
import type { Benchmark, BenchResult, BenchRow } from './lib/benchmark.js';
import { verdictMax } from './lib/benchmark.js';

const DEFAULT_USERS = 20;
const ROUNDS = 2;
const POOL = 'storm';
const HOME_BYTES = 64 * 2 ** 20;
/** All N spares booting at once under TCG on two cores: minutes, not seconds. */
const SPARES_TIMEOUT_MS = 30 * 60_000;
export const STORM_P50_TARGET_MS = 1000;
export const STORM_P99_TARGET_MS = 2000;

/** Nearest-rank percentile (p in 0–100) of a non-empty sample. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new Error(`percentile ${p} of no samples`);
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1]!;
}

/** `--start boot|restore` from the bench's argv: the pool's start mode (its spares booted, or clones of its template). */
export function startModeFromArgs(argv: readonly string[]): 'boot' | 'restore' {
  const i = argv.indexOf('--start');
  if (i < 0) return 'boot';
  const mode = argv[i + 1];
  if (mode !== 'boot' && mode !== 'restore') throw new Error(`--start wants boot or restore, not ${mode}`);
  return mode;
}

/** `--users N` from the bench's argv (npm run bench -- pool-login-storm --users 8). */
export function usersFromArgs(argv: readonly string[]): number {
  const i = argv.indexOf('--users');
  if (i < 0) return DEFAULT_USERS;
  const n = Number(argv[i + 1]);
  if (!Number.isInteger(n) || n < 1 || n > 200) throw new Error(`--users wants a whole number from 1 to 200, not ${argv[i + 1]}`);
  return n;
}

interface StormSample {
  user: string;
  loginMs: number;
  connectMs: number;
  totalMs: number;
  desktop: string;
}

/** One user: token login, then connect (waits for the session); times from each request. */
async function loginAndConnect(daemon: TestDaemon, user: string): Promise<StormSample> {
  const t0 = performance.now();
  const { token } = await new ApiClient({ socketPath: daemon.socket }).request<{ token: string }>('POST', '/v1/auth/tokens', { user, password: PASSWORD });
  const t1 = performance.now();
  const got = await new ApiClient({ socketPath: daemon.socket, token }).request<{ desktop: { state: string; name: string } }>('POST', `/v1/pools/${POOL}/connect`, {});
  const t2 = performance.now();
  if (got.desktop.state !== 'in-use') throw new Error(`${user} got ${got.desktop.name} in ${got.desktop.state}, not in-use`);
  return { user, loginMs: t1 - t0, connectMs: t2 - t1, totalMs: t2 - t0, desktop: got.desktop.name };
}

function rowsOf(round: number, s: StormSample[]): BenchRow[] {
  const row = (label: string, values: number[]): BenchRow => ({
    label: `round ${round} ${label}`, unit: 'ms', n: values.length, median: percentile(values, 50), min: Math.min(...values), max: Math.max(...values),
  });
  const p99 = (label: string, values: number[]): BenchRow => ({ ...row(label, values), label: `round ${round} ${label} (p99 in median column)`, median: percentile(values, 99) });
  return [
    row('connect → session started', s.map((x) => x.connectMs)),
    p99('connect → session started', s.map((x) => x.connectMs)),
    row('login → session started', s.map((x) => x.totalMs)),
    p99('login → session started', s.map((x) => x.totalMs)),
    row('login (argon2id) alone', s.map((x) => x.loginMs)),
  ];
}

export const poolLoginStormBenchmark: Benchmark = {
  name: 'pool-login-storm',
  summary: `N users (default ${DEFAULT_USERS}, --users N) log in and connect at once to a pool with N warm spares (--start boot|restore), ${ROUNDS} rounds`,
  async run(ctx): Promise<BenchResult> {
    const n = usersFromArgs(process.argv);
    const startMode = startModeFromArgs(process.argv);
    const daemon = await TestDaemon.start({ extraArgs: ['--boot-storm-limit', String(n), '--boot-timeout', String(SPARES_TIMEOUT_MS / 1000)] });
    try {
      await helperImage(daemon, 'bb');
      const names = Array.from({ length: n }, (_, i) => `storm${i}`);
      for (const name of names) await daemon.api().request('POST', '/v1/users', { name, password: PASSWORD });
      await daemon.api().request<PoolView>('POST', '/v1/pools', {
        name: POOL, image: 'bb', startMode, warmSpares: startMode === 'restore' ? 0 : n, maxDesktops: n, memoryMiB: 192, homeSizeBytes: HOME_BYTES, entitled: { users: names },
      });
      if (startMode === 'restore') {
        // The template first, so every spare is a clone of it; then the spares.
        await until('the pool\'s template', async () => {
          const p = await daemon.api().request<PoolView>('GET', `/v1/pools/${POOL}`);
          if (p.template?.state === 'failed') throw new Error(`the template failed: ${p.template.reason}`);
          return p.template?.state === 'ready' ? true : undefined;
        }, SPARES_TIMEOUT_MS, 500);
        await daemon.api().request('PATCH', `/v1/pools/${POOL}`, { warmSpares: n });
      }
      const rows: BenchRow[] = [];
      const verdicts = [];
      const details: Record<string, unknown> = { users: n, rounds: ROUNDS, memoryMiB: 192, startMode };
      for (let round = 1; round <= ROUNDS; round++) {
        const t0 = performance.now();
        await untilDesktops(daemon, POOL, `${n} warm spares`, (ds) => ds.filter((d) => d.state === 'ready' && d.user === null).length === n, SPARES_TIMEOUT_MS);
        ctx.log(`pool-login-storm round ${round}: ${n} warm spares ready after ${Math.round((performance.now() - t0) / 1000)} s; storming`);
        const samples = await Promise.all(names.map((user) => loginAndConnect(daemon, user)));
        const connect = samples.map((s) => s.connectMs);
        const total = samples.map((s) => s.totalMs);
        ctx.log(`pool-login-storm round ${round}: connect p50 ${Math.round(percentile(connect, 50))} ms, p99 ${Math.round(percentile(connect, 99))} ms`);
        rows.push(...rowsOf(round, samples));
        const what = round === 1 ? 'first login, blank homes' : 'homes made';
        verdicts.push(
          verdictMax(`round ${round} (${what}) connect → session started p50 ms`, percentile(connect, 50), STORM_P50_TARGET_MS),
          verdictMax(`round ${round} (${what}) connect → session started p99 ms`, percentile(connect, 99), STORM_P99_TARGET_MS),
          verdictMax(`round ${round} (${what}) login → session started p50 ms`, percentile(total, 50), STORM_P50_TARGET_MS),
          verdictMax(`round ${round} (${what}) login → session started p99 ms`, percentile(total, 99), STORM_P99_TARGET_MS),
        );
        details[`round${round}`] = samples;
        if (round < ROUNDS) {
          const sessions = await daemon.api().request<Array<{ desktop: string }>>('GET', '/v1/sessions');
          await Promise.all(sessions.map((s) => daemon.api().request('POST', `/v1/sessions/${s.desktop}/logoff`)));
        }
      }
      details.metrics = (await daemon.api().request<string>('GET', '/metrics')).split('\n').filter((l) => l.startsWith('ardesia_'));
      return { name: 'pool-login-storm', rows, verdicts, details };
    } finally {
      await daemon.destroy();
    }
  },
};
