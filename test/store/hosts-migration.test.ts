// 0010_hosts on SQLite and a real PostgreSQL: a store made before hosts existed is brought up to date, the host's
// ratios come back as the numbers written (real columns), and registering the daemon's host gives the VMs that had
// none this host (the backfill of a one-host install).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import pino from 'pino';
import { AUTH_MIGRATIONS } from '../../src/store/migrations-auth.js';
import { POOL_MIGRATIONS } from '../../src/store/migrations-pools.js';
import { NETBOOT_MIGRATIONS } from '../../src/store/migrations-netboot.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { openStore, storeLocation, type StoreLocation } from '../../src/store/db.js';
import { HostService } from '../../src/cluster/hosts.js';
import { freshDatabase } from '../helpers/postgres.js';

const BEFORE_HOSTS = { ...MIGRATIONS, ...AUTH_MIGRATIONS, ...POOL_MIGRATIONS, ...NETBOOT_MIGRATIONS };
const at = new Date().toISOString();

async function oldStore(kind: 'sqlite' | 'postgres'): Promise<StoreLocation> {
  const loc: StoreLocation = kind === 'sqlite' ? { kind, path: join(mkdtempSync(join(tmpdir(), 'ard-hosts-')), 'ardesia.db') } : storeLocation(await freshDatabase(), '/nowhere');
  const db = new Kysely<any>({ dialect: loc.kind === 'sqlite' ? new SqliteDialect({ database: new SqliteDatabase(loc.path) }) : new PostgresDialect({ pool: new pg.Pool({ connectionString: loc.url }) }) });
  const { error } = await new Migrator({ db, provider: { getMigrations: async () => BEFORE_HOSTS } }).migrateToLatest();
  assert.equal(error, undefined);
  await db.insertInto('vms').values({ name: 'old-vm', spec: JSON.stringify({ name: 'old-vm', memoryMiB: 256, vcpus: 1 }), desired: 'stopped', source: 'api', transient: 0, created_at: at, updated_at: at }).execute();
  await db.destroy();
  return loc;
}

for (const kind of ['sqlite', 'postgres'] as const) {
  test(`${kind}: a store from before hosts gets the hosts table and VM hosts; the daemon's host is registered and backfilled`, async () => {
    const loc = await oldStore(kind);
    const store = await openStore(loc);
    try {
      const hosts = new HostService(store, pino({ level: 'silent' }), { name: 'blade1', memoryOvercommit: 1.5, cpuOvercommit: 16, labels: ['ssd'], capacity: { memoryMiB: 8192, vcpus: 4 } });
      const view = await hosts.register();
      assert.deepEqual(view.capacity, { memoryMiB: 8192, vcpus: 4, memoryOvercommit: 1.5, cpuOvercommit: 16 });
      assert.deepEqual(view.labels, ['ssd']);
      assert.equal(view.state, 'up');
      assert.equal((await store.selectFrom('vms').select('host').where('name', '=', 'old-vm').executeTakeFirstOrThrow()).host, 'blade1');
      const row = await store.selectFrom('hosts').selectAll().executeTakeFirstOrThrow();
      assert.equal(typeof row.memory_overcommit, 'number');
      assert.equal(row.agent_credential_sha256, null);
      assert.equal(row.cert_fingerprint, null);
      // A drain survives the daemon's next start; the capacity is measured again.
      await hosts.drain('blade1', { name: 'root' });
      const again = new HostService(store, pino({ level: 'silent' }), { name: 'blade1', memoryOvercommit: 2, cpuOvercommit: 8, labels: [], capacity: { memoryMiB: 16384, vcpus: 8 } });
      const restarted = await again.register();
      assert.equal(restarted.state, 'maintenance');
      assert.deepEqual(restarted.capacity, { memoryMiB: 16384, vcpus: 8, memoryOvercommit: 2, cpuOvercommit: 8 });
    } finally {
      await store.destroy();
      if (loc.kind === 'sqlite') rmSync(dirname(loc.path), { recursive: true, force: true });
    }
  });
}
