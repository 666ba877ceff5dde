// The start-mode migration on a real SQLite file made by the migrations before it: pools made before start modes
// get startMode "boot" written into their stored definition; a pool that has one keeps it.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import { AUTH_MIGRATIONS } from './migrations-auth.js';
import { POOL_MIGRATIONS } from './migrations-pools.js';
import { MIGRATIONS } from './migrations.js';
import { openStore } from './db.js';

const MIGRATION = '0020_pool_start_mode';

test(`${MIGRATION}: stored pools without a start mode boot; one with a start mode keeps it`, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mig-'));
  const path = join(dir, 'ardesia.db');
  try {
    const old = new Kysely<any>({ dialect: new SqliteDialect({ database: new SqliteDatabase(path) }) });
    const all = { ...MIGRATIONS, ...AUTH_MIGRATIONS, ...POOL_MIGRATIONS };
    const before = Object.fromEntries(Object.entries(all).filter(([name]) => name <= '0007_pool_network'));
    const { error } = await new Migrator({ db: old, provider: { getMigrations: async () => before } }).migrateToLatest();
    assert.equal(error, undefined);
    const at = '2026-12-01T00:00:00.000Z';
    for (const [name, extra] of [['old', {}], ['fast', { startMode: 'restore' }]] as const) {
      await old.insertInto('pools').values({ name, spec: JSON.stringify({ name, image: 'deb', network: { mode: 'none' }, ...extra }), created_at: at, created_by: 'root', updated_at: at }).execute();
    }
    await old.destroy();

    const store = await openStore(path);
    try {
      const specs = Object.fromEntries((await store.selectFrom('pools').select(['name', 'spec']).execute()).map((r) => [r.name, JSON.parse(r.spec) as { startMode?: string }]));
      assert.equal(specs.old?.startMode, 'boot');
      assert.equal(specs.fast?.startMode, 'restore');
    } finally {
      await store.destroy();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
