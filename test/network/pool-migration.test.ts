// Pools stored before the network setting: the migration writes `network: none` into their spec (today's
// behaviour, made explicit); a pool that has a network keeps it.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import { AUTH_MIGRATIONS } from '../../src/store/migrations-auth.js';
import { POOL_MIGRATIONS } from '../../src/store/migrations-pools.js';
import { NETBOOT_MIGRATIONS } from '../../src/store/migrations-netboot.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { openStore } from '../../src/store/db.js';

test('0007_pool_network: old pools get network none written out, others keep theirs', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ard-mig-'));
  try {
    const path = join(dir, 'ardesia.db');
    const old = new Kysely<any>({ dialect: new SqliteDialect({ database: new SqliteDatabase(path) }) });
    const provider = { getMigrations: async () => ({ ...MIGRATIONS, ...AUTH_MIGRATIONS, ...POOL_MIGRATIONS, ...NETBOOT_MIGRATIONS }) };
    const { error } = await new Migrator({ db: old, provider }).migrateTo('0005_netboot');
    assert.equal(error, undefined);
    const at = new Date().toISOString();
    const row = (name: string, spec: object) => ({ name, spec: JSON.stringify(spec), created_at: at, created_by: 'root', updated_at: at });
    await old.insertInto('pools').values([row('before', { name: 'before', image: 'bb', memoryMiB: 256 }), row('nat', { name: 'nat', image: 'bb', network: { mode: 'nat' } })]).execute();
    await old.destroy();

    const store = await openStore(path);
    const specs = Object.fromEntries((await store.selectFrom('pools').selectAll().execute()).map((r) => [r.name, JSON.parse(r.spec)]));
    await store.destroy();
    assert.deepEqual(specs.before, { name: 'before', image: 'bb', memoryMiB: 256, network: { mode: 'none' }, startMode: 'boot' }); // 0020_pool_start_mode too
    assert.deepEqual(specs.nat.network, { mode: 'nat' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
