// The store's side of the API's lists at 10,000 desktops and 1,000 users, SQLite vs PostgreSQL: the queries
// GET /v1/pools (the pools, every pool desktop, the images' current versions: 3 queries) and GET /v1/desktops
// (the desktops, the VMs' names: 2) run, by the same repository functions, from 50 concurrent readers; p50/p99 per
// list. PostgreSQL is a real local 15 cluster.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, storeLocation, type Store } from '../src/store/db.js';
import { poolDesktopsAll, poolList } from '../src/desktops/pool-repo.js';
import { desktopList, imageCurrentVersions } from '../src/images/repo.js';
import { vmNames } from '../src/store/vms.js';
import { freshDatabase } from '../test/helpers/postgres.js';
import type { TableResult } from './lib/table-benchmark.js';

const POOLS = 100;
const PER_POOL = 100; // 10,000 pool desktops
const STANDALONE = 10_000;
const USERS = 1_000;
const READERS = 50;
const ROUNDS = 4; // each reader lists pools then desktops this many times

const at = new Date().toISOString();
const ms = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e6;
const pct = (sorted: number[], p: number): number => Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! * 10) / 10;

async function seed(db: Store): Promise<void> {
  await db.insertInto('images').values({ name: 'gold', arch: 'amd64', firmware: 'bios', memory_mib: 1024, kernel: null, initrd: null, cmdline: null, current_version: 1, created_at: at, created_by: 'root' }).execute();
  const chunks = async <T>(rows: T[], insert: (chunk: T[]) => Promise<unknown>) => {
    for (let i = 0; i < rows.length; i += 500) await insert(rows.slice(i, i + 500));
  };
  const users = Array.from({ length: USERS }, (_, i) => ({ name: `user${i}`, full_name: `User ${i}`, password_hash: '$argon2id$v=19$m=65536,t=3,p=4$x$y', roles: '["user"]', disabled: 0, keyboard_layout: 'us', created_at: at, last_login_at: null }));
  await chunks(users, (c) => db.insertInto('users').values(c).execute());
  const pools = Array.from({ length: POOLS }, (_, p) => ({ name: `pool${p}`, spec: JSON.stringify({ name: `pool${p}`, image: 'gold', version: 'latest', memoryMiB: 1024, network: { mode: 'none' }, entitled: { users: [], groups: [] } }), created_at: at, created_by: 'root', updated_at: at }));
  await chunks(pools, (c) => db.insertInto('pools').values(c).execute());
  const desktops = Array.from({ length: POOLS * PER_POOL }, (_, i) => ({ name: `pool${i % POOLS}-d${i}`, pool: `pool${i % POOLS}`, state: i < USERS ? 'in-use' : 'ready', user: i < USERS ? `user${i}` : null, host: null, image: 'gold', version: 1, since: at, last_error: null, failure_step: null, failure_vm_exit: null, failure_console: null, created_at: at }));
  await chunks(desktops, (c) => db.insertInto('pool_desktops').values(c).execute());
  const standalone = Array.from({ length: STANDALONE }, (_, i) => ({ name: `desk${i}`, image: 'gold', version: 1, follows_latest: 0, home_user: i < USERS ? `user${i}` : null, vm_name: `desk${i}`, created_at: at, network: '{"mode":"none"}' }));
  await chunks(standalone, (c) => db.insertInto('desktops').values(c).execute());
}

/** What PoolService.list asks of the store for an administrator: three queries, whatever the number of pools. */
async function listPools(db: Store): Promise<number> {
  const [pools, desktops, images] = await Promise.all([poolList(db), poolDesktopsAll(db), imageCurrentVersions(db)]);
  const names = new Set(pools.map((p) => p.name));
  return images.has('gold') ? desktops.filter((d) => names.has(d.pool)).length : 0;
}

/** What DesktopService.list asks: the desktops, then every VM's name (its state comes from memory). */
async function listDesktops(db: Store): Promise<number> {
  const [desktops] = await Promise.all([desktopList(db), vmNames(db)]);
  return desktops.length;
}

async function measure(db: Store): Promise<{ pools: number[]; desktops: number[] }> {
  const pools: number[] = [];
  const desktops: number[] = [];
  await listPools(db); // warm caches and the connection pool
  await Promise.all(
    Array.from({ length: READERS }, async () => {
      for (let r = 0; r < ROUNDS; r++) {
        let t = process.hrtime.bigint();
        if ((await listPools(db)) !== POOLS * PER_POOL) throw new Error('pools list incomplete');
        pools.push(ms(t));
        t = process.hrtime.bigint();
        if ((await listDesktops(db)) !== STANDALONE) throw new Error('desktops list incomplete');
        desktops.push(ms(t));
      }
    }),
  );
  return { pools: pools.sort((a, b) => a - b), desktops: desktops.sort((a, b) => a - b) };
}

export async function run(): Promise<TableResult> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-store-'));
  const rows: Array<Record<string, string | number>> = [];
  try {
    for (const kind of ['sqlite', 'postgres'] as const) {
      const db = await openStore(kind === 'sqlite' ? join(dir, 'ardesia.db') : storeLocation(await freshDatabase(), dir));
      try {
        await seed(db);
        const m = await measure(db);
        for (const [list, t] of [['GET /v1/pools (100 pools, 10,000 desktops)', m.pools], ['GET /v1/desktops (10,000)', m.desktops]] as const) {
          rows.push({ store: kind, list, readers: READERS, n: t.length, p50_ms: pct(t, 50), p99_ms: pct(t, 99) });
        }
      } finally {
        await db.destroy();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { name: 'store-lists', rows, notes: ['store queries only (the same repository functions the routes call), not HTTP or JSON encoding', 'PostgreSQL: local 15 cluster on loopback TCP, fsync off (reads only are measured)'] };
}
