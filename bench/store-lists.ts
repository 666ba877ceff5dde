// The API's lists at 10,000 desktops and 1,000 users, SQLite vs PostgreSQL, from 50 concurrent readers; p50/p99 per
// list, three ways in the same run, alternated block by block:
//   store: the queries GET /v1/pools (the pools, their desktops counted by pool, state and version, the desktops
//          someone has, the images' current versions: 4 queries) and GET /v1/desktops (the desktops, every VM's name,
//          host and agent report: 2) ask, run by the same repository functions in this process;
//   http:  the same two GETs through a real `ardesia serve` on the same store (plain HTTP on a loopback port, the root
//          token, keep-alive connections; each answer read to its last byte and its size checked);
//   page:  as http, the desktops list's first page instead of the whole list (GET /v1/desktops?limit=500).
// Then one reader alone: store, http, and the whole desktops list read a page of 500 at a time by its Link header
// (bench/store-lists-http.ts), alternated.
// The daemon starts on a consistent world its reconcile and spare planner rightly leave alone: every desktop cold
// (`stopped`, its VM defined and not running), 10 persistent pools whose 1,000 desktops belong to the 1,000 users,
// 90 pools at exactly their targets (100 cold spares each, no warm spare asked), image versions current. PostgreSQL
// is a real local 15 cluster (test/helpers/postgres.ts).
import { Agent } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openStore, type Store } from '../src/store/db.js';
import { poolDesktopGroups, poolDesktopsOwned, poolList } from '../src/desktops/pool-repo.js';
import { desktopList, imageCurrentVersions } from '../src/images/repo.js';
import { vmPlacements } from '../src/store/vms.js';
import { Pool } from '../src/contract/pools.js';
import { VmSpec } from '../src/contract/vm.js';
import { dataPaths } from '../src/storage/paths.js';
import { natGuardRemoval, natGuardTable } from '../src/network/nat-guard.js';
import { startPostgresCluster } from '../test/helpers/postgres.js';
import { killRuntimeQemus, TestDaemon } from '../test/helpers/daemon.js';
import { alternatedOrder } from './lib/stats.js';
import { percentile, procCpuSeconds, queriesPerRoute, ratioOf } from './lib/list-answers.js';
import { httpLists, type Lists, pagedLists } from './store-lists-http.js';
import type { TableResult } from './lib/table-benchmark.js';

const POOLS = 100;
const PERSISTENT_POOLS = 10; // 10 × 100 desktops: one per user
const PER_POOL = 100; // 10,000 pool desktops
const STANDALONE = 10_000;
const USERS = 1_000;
const READERS = 50;
const BLOCKS = 2; // per way (store, http, page), alternated: store http page store http page
const ROUNDS = 2; // per block, each reader lists pools then desktops this many times: n = 50 × 2 × 2 = 200 per list and way
const IDLE_WINDOW_MS = 10_000;
const ALONE = 10; // then one reader alone, this many times per list and way: the cost of one answer without a queue
const PAGE = 500; // the page the CLI reads

const POOLS_LIST = 'GET /v1/pools';
const DESKTOPS_LIST = 'GET /v1/desktops';
const FIRST_PAGE = `GET /v1/desktops?limit=${PAGE}`;
const EVERY_PAGE = `GET /v1/desktops?limit=${PAGE}, every page`;
/** page: the desktops list's first page at 50 readers; pages: the whole list a page at a time, one reader alone. */
type Way = 'store' | 'http' | 'page' | 'pages';
const WAYS: readonly Way[] = ['store', 'http', 'page', 'pages'];
const CONCURRENT: readonly Way[] = ['store', 'http', 'page'];
const ALONE_WAYS: readonly Way[] = ['store', 'http', 'pages'];
/** What the desktops list of a way is, and how many desktops its answer has. */
const desktopsListOf = (way: Way): [string, number] => (way === 'page' ? [FIRST_PAGE, PAGE] : way === 'pages' ? [EVERY_PAGE, STANDALONE] : [DESKTOPS_LIST, STANDALONE]);
type Kind = 'sqlite' | 'postgres';

const at = new Date().toISOString();
const ms = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e6;
const meanOf = (t: readonly number[]): number => Math.round((t.reduce((a, b) => a + b, 0) / t.length) * 10) / 10;

function poolSpec(p: number): Pool {
  const persistent = p < PERSISTENT_POOLS;
  // Persistent: every desktop is its owner's (no spare asked). Others: exactly their 100 cold spares, none warm.
  const targets = persistent ? { minDesktops: 0, maxDesktops: PER_POOL, warmSpares: 0, coldSpares: 0 } : { minDesktops: PER_POOL, maxDesktops: PER_POOL, warmSpares: 0, coldSpares: PER_POOL };
  return Pool.parse({ name: `pool${p}`, image: 'gold', version: 'latest', memoryMiB: 1024, network: { mode: 'none' }, entitled: { users: [], groups: ['staff'] }, persistent, startMode: 'boot', ...targets });
}

/** The VM definition the services write for a desktop (desktop-vm.ts, DesktopService.spec): defined, not enabled. */
function vmRow(name: string, system: string, source: string, pool: boolean) {
  const spec = VmSpec.parse({ name, arch: 'amd64', memoryMiB: 1024, vcpus: 1, disks: [{ path: system, format: 'qcow2', bus: 'virtio', readonly: false }], boot: { firmware: 'bios', device: 'disk' }, nics: [], enabled: false, accel: 'auto', freePageReporting: true, ...(pool ? { vmgenid: true } : {}) });
  return { name, spec: JSON.stringify(spec), desired: 'stopped' as const, source, transient: 0, last_stop_reason: null, started_at: null, created_at: at, updated_at: at };
}

async function seed(db: Store, dataDir: string): Promise<void> {
  const paths = dataPaths(dataDir);
  const chunks = async <T>(rows: T[], insert: (chunk: T[]) => Promise<unknown>) => {
    for (let i = 0; i < rows.length; i += 500) await insert(rows.slice(i, i + 500));
  };
  await db.insertInto('images').values({ name: 'gold', arch: 'amd64', firmware: 'bios', memory_mib: 1024, kernel: null, initrd: null, cmdline: null, current_version: 1, created_at: at, created_by: 'root' }).execute();
  await db.insertInto('image_versions').values({ image: 'gold', version: 1, sha256: '0'.repeat(64), backing_version: null, depth: 1, virtual_size: 8 * 2 ** 30, created_at: at, created_by: 'root' }).execute();
  const users = Array.from({ length: USERS }, (_, i) => ({ name: `user${i}`, full_name: `User ${i}`, password_hash: '$argon2id$v=19$m=65536,t=3,p=4$x$y', roles: '["user"]', disabled: 0, keyboard_layout: 'us', created_at: at, last_login_at: null }));
  await chunks(users, (c) => db.insertInto('users').values(c).execute());
  const pools = Array.from({ length: POOLS }, (_, p) => ({ name: `pool${p}`, spec: JSON.stringify(poolSpec(p)), created_at: at, created_by: 'root', updated_at: at }));
  await chunks(pools, (c) => db.insertInto('pools').values(c).execute());
  // `<pool>-<n>` as the planner names them; a persistent pool's desktop n belongs to user (p × 100 + n − 1).
  const desktops = Array.from({ length: POOLS * PER_POOL }, (_, i) => {
    const p = Math.floor(i / PER_POOL);
    const n = (i % PER_POOL) + 1;
    return { name: `pool${p}-${n}`, pool: `pool${p}`, state: 'stopped', user: p < PERSISTENT_POOLS ? `user${i}` : null, host: null, image: 'gold', version: 1, since: at, last_error: null, failure_step: null, failure_vm_exit: null, failure_console: null, created_at: at };
  });
  await chunks(desktops, (c) => db.insertInto('pool_desktops').values(c).execute());
  await chunks(desktops.map((d) => vmRow(d.name, paths.desktopSystem(d.name), `pool ${d.pool}`, true)), (c) => db.insertInto('vms').values(c).execute());
  const standalone = Array.from({ length: STANDALONE }, (_, i) => ({ name: `desk${i}`, image: 'gold', version: 1, follows_latest: 0, home_user: null, vm_name: `desk${i}`, created_at: at, network: '{"mode":"none"}' }));
  await chunks(standalone, (c) => db.insertInto('desktops').values(c).execute());
  await chunks(standalone.map((d) => vmRow(d.name, paths.desktopSystem(d.name), `desktop ${d.name}`, false)), (c) => db.insertInto('vms').values(c).execute());
}

/** What PoolService.list asks of the store for an administrator: four queries, whatever the number of pools (the
 *  pools, their desktops counted by pool, state and version, the desktops someone has, the images' versions). */
function storeLists(db: Store): Lists {
  return {
    async pools() {
      const [pools, groups, owned, images] = await Promise.all([poolList(db), poolDesktopGroups(db), poolDesktopsOwned(db), imageCurrentVersions(db)]);
      const names = new Set(pools.map((p) => p.name));
      if (owned.length !== USERS) throw new Error(`${owned.length} pool desktops someone has, not ${USERS}`);
      if (groups.some((g) => g.state !== 'stopped')) throw new Error(`pool desktops not stopped: ${JSON.stringify(groups.filter((g) => g.state !== 'stopped'))}`);
      return pools.length === POOLS && images.has('gold') ? groups.filter((g) => names.has(g.pool)).reduce((n, g) => n + g.count, 0) : 0;
    },
    /** What DesktopService.list asks: the desktops, then every VM's name, host and agent report (its state from memory, or its agent's report). */
    async desktops() {
      const [desktops] = await Promise.all([desktopList(db), vmPlacements(db)]);
      return desktops.length;
    },
  };
}

/** READERS readers at once, each listing pools then desktops ROUNDS times; each answer's size is checked. The time
 *  of an HTTP answer ends at its last byte; its check comes after. */
async function measure(lists: Lists, desktopsSize: number, into: { pools: number[]; desktops: number[] }, readers = READERS, rounds = ROUNDS): Promise<void> {
  await Promise.all(
    Array.from({ length: readers }, async () => {
      for (let r = 0; r < rounds; r++) {
        let t = process.hrtime.bigint();
        const pools = await lists.pools();
        into.pools.push(ms(t));
        if (pools !== POOLS * PER_POOL) throw new Error(`pools list incomplete: ${pools} desktops`);
        t = process.hrtime.bigint();
        const desktops = await lists.desktops();
        into.desktops.push(ms(t));
        if (desktops !== desktopsSize) throw new Error(`desktops list: ${desktops} desktops, not ${desktopsSize}`);
      }
    }),
  );
}

/** PostgreSQL: a fresh local cluster and one database in it (the cluster is stopped by the caller). */
async function postgresDatabase(): Promise<{ url: string; stop(): void }> {
  const cluster = await startPostgresCluster();
  try {
    const client = new pg.Client({ connectionString: cluster.url });
    await client.connect();
    await client.query('create database bench_lists').finally(() => client.end());
    const url = new URL(cluster.url);
    url.pathname = '/bench_lists';
    return { url: url.toString(), stop: () => cluster.stop() };
  } catch (err) {
    cluster.stop();
    throw err;
  }
}

interface KindResult {
  times: Record<Way, { pools: number[]; desktops: number[] }>;
  /** One reader alone. */
  alone: Record<Way, { pools: number[]; desktops: number[] }>;
  startSeconds: number;
  idleCpuPercent: number;
  bytes: Map<string, number>;
  /** The last read of the whole desktops list a page at a time: how many pages, how many bytes in all. */
  paged: { pages: number; bytes: number };
  queries: Map<string, number[]>;
  daemonWarnings: string[];
}

async function runKind(kind: Kind): Promise<KindResult> {
  // Short path: the daemon's unix socket path must stay under 108 bytes.
  const dataDir = mkdtempSync(join(tmpdir(), 'ard-lists-'));
  const database = kind === 'postgres' ? await postgresDatabase() : undefined;
  let daemon: TestDaemon | undefined;
  let db: Store | undefined;
  try {
    db = await openStore(database ? { kind: 'postgres', url: database.url } : { kind: 'sqlite', path: join(dataDir, 'ardesia.db') });
    await seed(db, dataDir);
    daemon = new TestDaemon(dataDir, ['--listen', '127.0.0.1:0'], undefined, database?.url);
    const t0 = process.hrtime.bigint();
    await daemon.spawn();
    const startSeconds = Math.round(ms(t0) / 100) / 10;
    const pid = daemon.proc!.pid!;
    const listening = daemon.output.split('\n').find((l) => l.includes('ardesia daemon listening'))!;
    const base = (JSON.parse(listening) as { url: string }).url.replace(/\/$/, '');
    const token = readFileSync(join(dataDir, 'root.token'), 'utf8').trim();
    // Idle: what the daemon spends with this world and nobody asking (its spare planner ticks every 5 s).
    const cpu0 = procCpuSeconds(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    await new Promise((r) => setTimeout(r, IDLE_WINDOW_MS));
    const idleCpuPercent = Math.round(((procCpuSeconds(readFileSync(`/proc/${pid}/stat`, 'utf8')) - cpu0) / (IDLE_WINDOW_MS / 1000)) * 1000) / 10;
    const agent = new Agent({ keepAlive: true, maxSockets: READERS });
    const bytes = new Map<string, number>();
    const paged = { pages: 0, bytes: 0 };
    const http = httpLists(agent, base, token, POOLS, bytes);
    const ways: Record<Way, Lists> = { store: storeLists(db), http, page: httpLists(agent, base, token, POOLS, bytes, `/v1/desktops?limit=${PAGE}`), pages: pagedLists(agent, base, token, http, PAGE, paged) };
    const empty = () => Object.fromEntries(WAYS.map((w) => [w, { pools: [], desktops: [] }])) as unknown as KindResult['times'];
    const times = empty();
    const alone = empty();
    try {
      // Warm caches and connections; the first read of each way is parsed and checked in full (the pages against the whole list).
      for (const way of WAYS) await measure(ways[way], desktopsListOf(way)[1], { pools: [], desktops: [] }, 1, 1);
      for (const { side } of alternatedOrder(CONCURRENT, BLOCKS)) await measure(ways[side], desktopsListOf(side)[1], times[side]);
      for (const { side } of alternatedOrder(ALONE_WAYS, ALONE)) await measure(ways[side], desktopsListOf(side)[1], alone[side], 1, 1);
    } finally {
      agent.destroy();
    }
    for (const t of [...Object.values(times), ...Object.values(alone)]) for (const list of [t.pools, t.desktops]) list.sort((a, b) => a - b);
    // Still the seeded world after the measurement: the daemon acted on nothing.
    const after = await storeLists(db).pools();
    if (after !== POOLS * PER_POOL) throw new Error(`the pool desktops changed while measured: ${after}`);
    const daemonWarnings = daemon.output.split('\n').filter((l) => /"level":(40|50|60)/.test(l)).map((l) => (JSON.parse(l) as { msg: string }).msg).filter((m) => !m.startsWith('KVM is not usable here')); // this machine's known TCG warning
    return { times, alone, startSeconds, idleCpuPercent, bytes, paged, queries: queriesPerRoute(daemon.output), daemonWarnings: [...new Set(daemonWarnings)] };
  } finally {
    if (daemon) {
      await daemon.kill('SIGTERM');
      killRuntimeQemus(daemon.ownDir);
      spawnSync('nft', ['-f', '-'], { input: natGuardRemoval(natGuardTable(daemon.ownDir)), stdio: ['pipe', 'ignore', 'ignore'] });
    }
    await db?.destroy();
    database?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export async function run(): Promise<TableResult> {
  const rows: Array<Record<string, string | number>> = [];
  const notes: string[] = [];
  const stat = new Map<string, { p50: number; p99: number; mean: number }>();
  const key = (kind: Kind, readers: number, way: Way, list: string) => `${kind} ${readers} ${way} ${list}`;
  const ratioRow = (store: string, way: string, list: string, a: string, b: string) => {
    const [x, y] = [stat.get(a)!, stat.get(b)!];
    rows.push({ store, way, list, p50_ratio: ratioOf(x.p50, y.p50), p99_ratio: ratioOf(x.p99, y.p99), mean_ratio: ratioOf(x.mean, y.mean) });
  };
  for (const kind of ['sqlite', 'postgres'] as const) {
    const r = await runKind(kind);
    for (const [readers, ways, times] of [[READERS, CONCURRENT, r.times], [1, ALONE_WAYS, r.alone]] as const) {
      for (const way of ways) {
        for (const [list, t] of [[POOLS_LIST, times[way].pools], [desktopsListOf(way)[0], times[way].desktops]] as const) {
          stat.set(key(kind, readers, way, list), { p50: percentile(t, 50), p99: percentile(t, 99), mean: meanOf(t) });
          rows.push({ store: kind, way, list, readers, n: t.length, p50_ms: percentile(t, 50), p99_ms: percentile(t, 99), mean_ms: meanOf(t) });
        }
      }
    }
    const q = (list: string) => (r.queries.get(list) ?? []).join('/') || '?';
    notes.push(
      `${kind}: daemon up in ${r.startSeconds} s on this world (reconcile of 20,000 VM definitions and 10,000 pool desktops), ` +
        `idle CPU ${r.idleCpuPercent}% over ${IDLE_WINDOW_MS / 1000} s; answers ${POOLS_LIST} ${r.bytes.get(POOLS_LIST)} bytes, ${DESKTOPS_LIST} ${r.bytes.get(DESKTOPS_LIST)} bytes, ` +
        `${FIRST_PAGE} ${r.bytes.get(FIRST_PAGE)} bytes, every page ${r.paged.pages} pages ${r.paged.bytes} bytes; ` +
        `store queries per request (daemon's debug log, paged or not) ${POOLS_LIST} ${q(POOLS_LIST)}, ${DESKTOPS_LIST} ${q(DESKTOPS_LIST)}` +
        (r.daemonWarnings.length ? `; daemon warnings: ${r.daemonWarnings.join(' | ')}` : '; no daemon warning'),
    );
  }
  for (const list of [POOLS_LIST, DESKTOPS_LIST]) {
    for (const way of ['store', 'http'] as const) ratioRow('postgres/sqlite', way, list, key('postgres', READERS, way, list), key('sqlite', READERS, way, list));
    for (const kind of ['sqlite', 'postgres'] as const) ratioRow(kind, 'http/store', list, key(kind, READERS, 'http', list), key(kind, READERS, 'store', list));
  }
  for (const kind of ['sqlite', 'postgres'] as const) {
    ratioRow(kind, 'page/http, 50 readers', `${FIRST_PAGE} / ${DESKTOPS_LIST}`, key(kind, READERS, 'page', FIRST_PAGE), key(kind, READERS, 'http', DESKTOPS_LIST));
    ratioRow(kind, 'pages/http, 1 reader', `${EVERY_PAGE} / ${DESKTOPS_LIST}`, key(kind, 1, 'pages', EVERY_PAGE), key(kind, 1, 'http', DESKTOPS_LIST));
  }
  notes.push(
    `store: the repository functions the routes call, in the bench process (its own 10-connection pool on PostgreSQL); http: a real ardesia serve on the same store, plain HTTP on 127.0.0.1, root token, 50 keep-alive connections; ` +
      `page: as http, each reader's desktops list the first page of ${PAGE} (its Link checked: after its last name); blocks alternated store/http/page ×${BLOCKS}; ` +
      `readers=1 rows: one reader alone, ${ALONE} answers per list and way, alternated store/http/pages, after the concurrent blocks; pages: the whole desktops list read ${PAGE} at a time by the Link header, the time to the last page's last byte (the pages checked against the whole list)`,
  );
  notes.push('PostgreSQL: local 15 cluster on loopback TCP, fsync off (reads only are measured); percentiles nearest-rank');
  return { name: 'store-lists', rows, notes };
}
