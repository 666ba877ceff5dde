// The store on a real PostgreSQL 15 (test/helpers/postgres.ts): the same migrations as SQLite, from
// scratch and from an older version, and what SQLite gave the code for free (64-bit integers, ids, the
// append-only audit log) holding there too.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Kysely, Migrator, PostgresDialect } from 'kysely';
import pg from 'pg';
import { AUTH_MIGRATIONS } from '../../src/store/migrations-auth.js';
import { POOL_MIGRATIONS } from '../../src/store/migrations-pools.js';
import { NETBOOT_MIGRATIONS } from '../../src/store/migrations-netboot.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { openStore, storeLocation } from '../../src/store/db.js';
import { ArdesiaError } from '../../src/contract/errors.js';
import { freshDatabase, freshDatabaseForNamespaces } from '../helpers/postgres.js';

const ALL = { ...MIGRATIONS, ...AUTH_MIGRATIONS, ...POOL_MIGRATIONS, ...NETBOOT_MIGRATIONS };
const at = new Date().toISOString();

test('a fresh database gets every table; sizes and epoch ms past 2^31 come back as numbers', async () => {
  const store = await openStore(storeLocation(await freshDatabase(), '/nowhere'));
  try {
    const tables = (await store.introspection.getTables()).map((t) => t.name).sort();
    for (const t of ['vms', 'images', 'image_versions', 'desktops', 'homes', 'audit', 'users', 'pools', 'pool_desktops', 'thin_clients', 'api_tokens']) assert.ok(tables.includes(t), `${t} missing: ${tables.join()}`);
    await store.insertInto('images').values({ name: 'deb', arch: 'amd64', firmware: 'bios', memory_mib: 512, kernel: null, initrd: null, cmdline: null, current_version: 1, created_at: at, created_by: 'root' }).execute();
    const tenGiB = 10 * 2 ** 30;
    await store.insertInto('image_versions').values({ image: 'deb', version: 1, sha256: 'ab', backing_version: null, depth: 0, virtual_size: tenGiB, created_at: at, created_by: 'root' }).execute();
    const v = await store.selectFrom('image_versions').selectAll().executeTakeFirstOrThrow();
    assert.equal(v.virtual_size, tenGiB);
    assert.equal(typeof v.version, 'number');
    await store.insertInto('homes').values({ user: 'alice', size_bytes: tenGiB, leased_to: null, leased_at: null, created_at: at }).execute();
    assert.equal((await store.selectFrom('homes').select('size_bytes').where('user', '=', 'alice').executeTakeFirstOrThrow()).size_bytes, tenGiB);
  } finally {
    await store.destroy();
  }
});

test('audit rows get increasing ids and cannot be changed or deleted', async () => {
  const store = await openStore(storeLocation(await freshDatabase(), '/nowhere'));
  try {
    const row = (action: string) => ({ at, principal: 'root', action, target: 'x', detail: null, address: null });
    await store.insertInto('audit').values([row('a'), row('b')]).execute();
    const ids = (await store.selectFrom('audit').select('id').orderBy('id').execute()).map((r) => r.id);
    assert.equal(ids.length, 2);
    assert.ok(ids[1]! > ids[0]!);
    await assert.rejects(store.updateTable('audit').set({ action: 'rewritten' }).execute(), /append-only/);
    await assert.rejects(store.deleteFrom('audit').execute(), /append-only/);
    assert.equal((await store.selectFrom('audit').selectAll().execute()).length, 2);
  } finally {
    await store.destroy();
  }
});

test('a database made by an older version is brought up to date (0007_pool_network writes network none, 0020_pool_start_mode start mode boot)', async () => {
  const url = await freshDatabase();
  const old = new Kysely<any>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url }) }) });
  const { error } = await new Migrator({ db: old, provider: { getMigrations: async () => ALL } }).migrateTo('0005_netboot');
  assert.equal(error, undefined);
  const row = (name: string, spec: object) => ({ name, spec: JSON.stringify(spec), created_at: at, created_by: 'root', updated_at: at });
  await old.insertInto('pools').values([row('before', { name: 'before', image: 'bb', memoryMiB: 256 }), row('nat', { name: 'nat', image: 'bb', network: { mode: 'nat' } })]).execute();
  await old.insertInto('thin_clients').values({ mac: '52:54:00:00:00:01', name: 'desk-1', state: 'enabled', auto_login_user: 'kiosk', keyboard_layout: 'de', created_at: at }).execute();
  await old.destroy();

  const store = await openStore(storeLocation(url, '/nowhere'));
  try {
    const specs = Object.fromEntries((await store.selectFrom('pools').selectAll().execute()).map((r) => [r.name, JSON.parse(r.spec)]));
    assert.deepEqual(specs.before, { name: 'before', image: 'bb', memoryMiB: 256, network: { mode: 'none' }, startMode: 'boot' });
    assert.deepEqual(specs.nat.network, { mode: 'nat' });
    const columns = (await store.introspection.getTables()).find((t) => t.name === 'thin_clients')!.columns.map((c) => c.name);
    assert.ok(!columns.includes('auto_login_user'), columns.join());
    const desktops = (await store.introspection.getTables()).find((t) => t.name === 'desktops')!.columns.map((c) => c.name);
    assert.ok(desktops.includes('network'), desktops.join());
  } finally {
    await store.destroy();
  }
});

test('a server that does not answer is DATABASE_UNREACHABLE, naming the URL without its password', async () => {
  // Port 1 on loopback: nothing listens there.
  const err = await openStore(storeLocation('postgres://ardesia:s3cret@127.0.0.1:1/ardesia', '/nowhere')).then(
    () => assert.fail('opened'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ArdesiaError, String(err));
  assert.equal(err.code, 'DATABASE_UNREACHABLE');
  assert.ok(!err.message.includes('s3cret'), err.message);
});

test("libpq's socket form with a user and no host (postgres://USER@/DB?host=SOCKETS) opens the store", async () => {
  const tcp = new URL(await freshDatabaseForNamespaces().then((d) => d.viaSocket));
  // USER@/DB?host=: no WHATWG URL, but what administrators copy from libpq's documentation.
  const given = `postgres://${tcp.username}@/${tcp.pathname.slice(1)}?host=${tcp.searchParams.get('host')}&port=${tcp.port}`;
  assert.throws(() => new URL(given), 'the form is no WHATWG URL');
  const store = await openStore(storeLocation(given, '/nowhere'));
  try {
    assert.ok((await store.introspection.getTables()).some((t) => t.name === 'vms'), 'migrated through the socket');
  } finally {
    await store.destroy();
  }
});
