// The lists of pools and desktops run a constant number of store queries per request, whatever the number of pools
// and desktops (they once ran one per pool per field: 201 at 100 pools), and their replies are the same as each
// item's own route gives. The daemon counts each request's queries with Kysely's log hook and logs them (debug).
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import type { VmStatus } from '../../src/contract/vm.js';
import { nextPageOf } from '../../src/contract/paging.js';
import type { PoolView } from '../../src/contract/pools.js';
import type { DesktopInfo } from '../../src/contract/images.js';
import { openStore, storeLocation, type Store } from '../../src/store/db.js';
import { TestDaemon, until } from '../helpers/daemon.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

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

/** GET `path` over the daemon's socket with `token` (root's by default): the status, the JSON body and the Link header. */
function getRaw(path: string, token = readFileSync(join(daemon.dataDir, 'root.token'), 'utf8').trim()): Promise<{ status: number; body: unknown; link: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: daemon.socket, path, headers: { authorization: `Bearer ${token}` } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')), link: [res.headers.link ?? []].flat().join(', ') || undefined }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Every page of `first`, following each reply's Link header: the pages' item names. */
async function pagesOf(first: string, token?: string): Promise<string[][]> {
  const pages: string[][] = [];
  for (let next: string | undefined = first; next !== undefined; ) {
    const r = await getRaw(next, token);
    assert.equal(r.status, 200, `${next}: ${JSON.stringify(r.body)}`);
    pages.push((r.body as Array<{ name: string }>).map((x) => x.name));
    next = nextPageOf(r.link);
    assert.ok(pages.length < 100, 'the pages end');
  }
  return pages;
}

test('GET /v1/desktops and GET /v1/vms a page at a time: every item once, in order, the same as the whole list; the last page has no next link', async () => {
  if ((await daemon.api().request<DesktopInfo[]>('GET', '/v1/desktops')).length < 30) await seed(0, 30, 3);
  const whole = await daemon.api().request<DesktopInfo[]>('GET', '/v1/desktops');
  const pages = await pagesOf('/v1/desktops?limit=7');
  assert.deepEqual(pages.map((p) => p.length), [7, 7, 7, 7, 2]);
  assert.deepEqual(pages.flat(), whole.map((d) => d.name));
  const third = await getRaw(`/v1/desktops?limit=7&after=${whole[13]!.name}`);
  assert.deepEqual(third.body, whole.slice(14, 21), 'a page is the whole list\'s items, states included');
  assert.equal(nextPageOf(third.link), `/v1/desktops?limit=7&after=${whole[20]!.name}`);
  assert.equal((await getRaw(`/v1/desktops?limit=30`)).link, undefined, 'a page that holds the rest is the last');

  // A desktop added between pages is found by the next pages when its name sorts after the last one read.
  const [firstPage] = await pagesOf('/v1/desktops?limit=1000');
  assert.equal(firstPage!.length, whole.length);
  const before = (await getRaw('/v1/desktops?limit=10')).link!;
  await store.insertInto('desktops').values({ name: 'zz-late', image: 'gold', version: 1, follows_latest: 0, home_user: null, vm_name: 'zz-late', created_at: at, network: '{"mode":"none"}' }).execute();
  assert.equal((await pagesOf(nextPageOf(before)!)).flat().at(-1), 'zz-late');
  await store.deleteFrom('desktops').where('name', '=', 'zz-late').execute();

  const vms = await daemon.api().request<VmStatus[]>('GET', '/v1/vms');
  assert.ok(vms.length >= 15, `${vms.length} VMs`);
  const vmPages = await pagesOf('/v1/vms?limit=4');
  assert.deepEqual(vmPages.flat(), vms.map((v) => v.name));
  assert.deepEqual(await daemon.api().requestAll<VmStatus>('/v1/vms', 4), vms, 'the CLI\'s client follows the pages');
  assert.deepEqual(await daemon.api().requestAll<DesktopInfo>('/v1/desktops', 3), whole);

  // A user who may operate none of them gets empty pages, each with its next link: a short page is not the end.
  await daemon.api().request('POST', '/v1/users', { name: 'lq-ann', password: 'Quiet-Harbour-4821' });
  const ann = (await daemon.api().request<{ token: string }>('POST', '/v1/auth/tokens', { user: 'lq-ann', password: 'Quiet-Harbour-4821' })).token;
  const annPages = await pagesOf('/v1/vms?limit=4', ann);
  assert.equal(annPages.length, vmPages.length);
  assert.deepEqual(annPages.flat(), []);
  assert.equal((await getRaw('/v1/desktops?limit=4', ann)).status, 403, 'the desktops list is for administrators, paged or not');
});

test('GET /v1/desktops?limit=N: the same store queries per page as for the whole list', async () => {
  if ((await daemon.api().request<DesktopInfo[]>('GET', '/v1/desktops')).length < 30) await seed(0, 30, 3);
  const whole = await queriesOf<DesktopInfo[]>('GET /v1/desktops', '/v1/desktops');
  const page = await queriesOf<DesktopInfo[]>('GET /v1/desktops', '/v1/desktops?limit=5&after=sd1');
  assert.equal(page.body.length, 5);
  assert.equal(page.queries, whole.queries, `whole list ${whole.queries} queries, a page ${page.queries}`);
});

test('a bad page is refused with what the list accepts, and nothing else in the query string is taken', async () => {
  const cases: Array<[string, RegExp]> = [
    ['/v1/desktops?limit=0', /query\.limit/],
    ['/v1/desktops?limit=1001', /query\.limit/],
    ['/v1/desktops?limit=ten', /query\.limit/],
    ['/v1/vms?after=sd1', /query\.after: after is the continuation of a page: give limit too/],
    ['/v1/vms?limit=5&offset=10', /offset/],
  ];
  for (const [path, message] of cases) {
    const r = await getRaw(path);
    assert.equal(r.status, 400, path);
    const e = (r.body as { error: { code: string; message: string } }).error;
    assert.equal(e.code, 'BAD_REQUEST', path);
    assert.match(e.message, message, path);
  }
});

test("GET /v1/pools counts from grouped rows: a session on an older version is pending at logoff, as the pool's own route says", async () => {
  await store.insertInto('images').values({ name: 'gold2', arch: 'amd64', firmware: 'bios', memory_mib: 256, kernel: null, initrd: null, cmdline: null, current_version: 2, created_at: at, created_by: 'root' }).execute();
  const spec = { name: 'lqr', image: 'gold2', version: 'latest', coldSpares: 0, warmSpares: 0, maxDesktops: 2, memoryMiB: 256, entitled: { users: [], groups: [] } };
  await store.insertInto('pools').values({ name: 'lqr', spec: JSON.stringify(spec), created_at: at, created_by: 'root', updated_at: at }).execute();
  const row = { pool: 'lqr', host: null, image: 'gold2', since: at, last_error: null, failure_step: null, failure_vm_exit: null, failure_console: null, created_at: at };
  await store.insertInto('pool_desktops').values([
    { ...row, name: 'lqr-1', state: 'in-use', user: 'lq-ann', version: 1 },
    { ...row, name: 'lqr-2', state: 'retiring', user: null, version: 1 },
  ]).execute();
  const listed = (await daemon.api().request<PoolView[]>('GET', '/v1/pools')).find((p) => p.name === 'lqr');
  assert.deepEqual(listed?.pendingAtLogoff, ['lqr-1']);
  assert.deepEqual(listed?.counts, { total: 2, byState: { 'in-use': 1, retiring: 1 }, byVersion: { '1': 1 } });
  assert.deepEqual(listed, await daemon.api().request<PoolView>('GET', '/v1/pools/lqr'));
});

test('GET /v1/sessions: the same number of queries at 1 session and at 12, each session as the pool desktop row has it', async () => {
  const one = await queriesOf<Array<{ desktop: string }>>('GET /v1/sessions', '/v1/sessions');
  const spec = { name: 'lqs', image: 'gold', version: 1, coldSpares: 0, warmSpares: 0, maxDesktops: 20, memoryMiB: 256, entitled: { users: [], groups: [] } };
  await store.insertInto('pools').values({ name: 'lqs', spec: JSON.stringify(spec), created_at: at, created_by: 'root', updated_at: at }).execute();
  const row = { pool: 'lqs', host: null, image: 'gold', version: 1, since: at, last_error: null, failure_step: null, failure_vm_exit: null, failure_console: null, created_at: at };
  await store.insertInto('pool_desktops').values(Array.from({ length: 11 }, (_, i) => ({ ...row, name: `lqs-${i + 1}`, state: 'in-use', user: `lqs-user${i + 1}` }))).execute();
  const twelve = await queriesOf<Array<{ desktop: string; user: string; state: string }>>('GET /v1/sessions', '/v1/sessions');
  assert.equal(twelve.body.length, one.body.length + 11);
  assert.equal(twelve.queries, one.queries, `${one.queries} queries at ${one.body.length} session(s), ${twelve.queries} at ${twelve.body.length}`);
  assert.deepEqual(twelve.body.find((s) => s.desktop === 'lqs-7'), { user: 'lqs-user7', pool: 'lqs', desktop: 'lqs-7', state: 'in-use', since: at, imageVersion: 1, clients: 0, lastClient: null, clipboardReady: false });
});
