// The lists of pools and desktops run a constant number of store queries per request, whatever the number of pools
// and desktops (they once ran one per pool per field: 201 at 100 pools), and their replies are the same as each
// item's own route gives. The daemon counts each request's queries with Kysely's log hook and logs them (debug).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { PoolView } from '../../src/contract/pools.js';
import type { DesktopInfo } from '../../src/contract/images.js';
import { openStore, storeLocation, type Store } from '../../src/store/db.js';
import { TestDaemon, until } from '../helpers/daemon.js';

let daemon: TestDaemon;
let store: Store;
const at = new Date().toISOString();

before(async () => {
  daemon = await TestDaemon.start();
  store = await openStore(storeLocation(daemon.database, daemon.dataDir));
  await store.insertInto('images').values({ name: 'gold', arch: 'amd64', firmware: 'bios', memory_mib: 256, kernel: null, initrd: null, cmdline: null, current_version: 1, created_at: at, created_by: 'root' }).execute();
});
after(async () => {
  await store?.destroy();
  await daemon?.destroy();
});

/** Pools `from`..`to`-1 with `per` cold spares each (what their pool asks for, so the planner leaves them be), and as many standalone desktops. */
async function seed(from: number, to: number, per: number): Promise<void> {
  for (let p = from; p < to; p++) {
    const name = `lq${p}`;
    const spec = { name, image: 'gold', version: p % 2 ? 1 : 'latest', coldSpares: per, warmSpares: 0, maxDesktops: per, memoryMiB: 256, entitled: { users: [], groups: [] } };
    await store.insertInto('pools').values({ name, spec: JSON.stringify(spec), created_at: at, created_by: 'root', updated_at: at }).execute();
    const rows = Array.from({ length: per }, (_, i) => ({ name: `${name}-${i + 1}`, pool: name, state: i === 0 ? 'failed' : 'stopped', user: null, host: null, image: 'gold', version: 1, since: at, last_error: i === 0 ? 'seeded' : null, failure_step: i === 0 ? 'boot' : null, failure_vm_exit: null, failure_console: null, created_at: at }));
    await store.insertInto('pool_desktops').values(rows).execute();
    await store.insertInto('desktops').values({ name: `sd${p}`, image: 'gold', version: 1, follows_latest: p % 2, home_user: null, vm_name: `sd${p}`, created_at: at, network: '{"mode":"none"}' }).execute();
    if (p % 2) await store.insertInto('vms').values({ name: `sd${p}`, spec: JSON.stringify({ name: `sd${p}`, memoryMiB: 256 }), desired: 'stopped', source: 'api', transient: 0, last_stop_reason: null, started_at: null, created_at: at, updated_at: at, host: null }).execute();
  }
}

/** GET `path` as root; the store queries the daemon logged for it. */
async function queriesOf<T>(route: string, path: string): Promise<{ body: T; queries: number }> {
  const from = daemon.output.length;
  const body = await daemon.api().request<T>('GET', path);
  // The log line crosses the daemon's stdout pipe, which may deliver it after the reply.
  const line = await until(`the daemon's log of the queries of ${route}`, () =>
    daemon.output
      .slice(from)
      .split('\n')
      .filter((l) => l.includes('"store queries of a request"'))
      .map((l) => JSON.parse(l) as { route: string; queries: number })
      .find((l) => l.route === route),
  10_000, 50);
  return { body, queries: line.queries };
}

test('GET /v1/pools and GET /v1/desktops: the same number of queries at 2 and at 30 pools, and the same replies as each item’s route', async () => {
  await seed(0, 2, 3);
  const small = { pools: await queriesOf<PoolView[]>('GET /v1/pools', '/v1/pools'), desktops: await queriesOf<DesktopInfo[]>('GET /v1/desktops', '/v1/desktops') };
  await seed(2, 30, 3);
  const big = { pools: await queriesOf<PoolView[]>('GET /v1/pools', '/v1/pools'), desktops: await queriesOf<DesktopInfo[]>('GET /v1/desktops', '/v1/desktops') };
  assert.equal(small.pools.body.length, 2);
  assert.equal(big.pools.body.length, 30);
  assert.equal(big.desktops.body.length, 30);
  assert.equal(big.pools.queries, small.pools.queries, `pools: ${small.pools.queries} queries at 2 pools, ${big.pools.queries} at 30`);
  assert.equal(big.desktops.queries, small.desktops.queries, `desktops: ${small.desktops.queries} at 2, ${big.desktops.queries} at 30`);
  assert.ok(big.pools.queries <= 6, `pools list: ${big.pools.queries} queries`);

  for (const pool of big.pools.body) assert.deepEqual(pool, await daemon.api().request<PoolView>('GET', `/v1/pools/${pool.name}`));
  for (const d of big.desktops.body) assert.deepEqual(d, await daemon.api().request<DesktopInfo>('GET', `/v1/desktops/${d.name}`));
  assert.deepEqual(new Set(big.desktops.body.map((d) => d.state)), new Set(['stopped', 'absent']), 'defined VMs are stopped, the others absent');
  assert.equal(big.pools.body.find((p) => p.name === 'lq3')?.counts.byState.failed, 1);
});
