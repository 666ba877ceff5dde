// The migration that drops kiosk auto-login, on a real SQLite file made by the migrations before it.
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
import { NETBOOT_MIGRATIONS } from './migrations-netboot.js';

test('0005_netboot_drop_auto_login: the column goes, the clients and their other settings stay', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mig-'));
  const path = join(dir, 'ardesia.db');
  try {
    const old = new Kysely<any>({ dialect: new SqliteDialect({ database: new SqliteDatabase(path) }) });
    const all = { ...MIGRATIONS, ...AUTH_MIGRATIONS, ...POOL_MIGRATIONS, ...NETBOOT_MIGRATIONS };
    const before = Object.fromEntries(Object.entries(all).filter(([name]) => name <= '0005_netboot'));
    assert.ok(!('0005_netboot_drop_auto_login' in before));
    const { error } = await new Migrator({ db: old, provider: { getMigrations: async () => before } }).migrateToLatest();
    assert.equal(error, undefined);
    await old.insertInto('thin_clients').values({ mac: '52:54:00:00:00:01', name: 'desk-1', state: 'enabled', auto_login_user: 'kiosk', keyboard_layout: 'de', created_at: 'x' }).execute();
    await old.destroy();

    const store = await openStore(path);
    try {
      const columns = (await store.introspection.getTables()).find((t) => t.name === 'thin_clients')!.columns.map((c) => c.name);
      assert.ok(!columns.includes('auto_login_user'), columns.join());
      const row = await store.selectFrom('thin_clients').selectAll().executeTakeFirstOrThrow();
      assert.deepEqual([row.mac, row.name, row.keyboard_layout], ['52:54:00:00:00:01', 'desk-1', 'de']);
    } finally {
      await store.destroy();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
