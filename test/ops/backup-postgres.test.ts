// A PostgreSQL site's backup (pg_dump of the server's version, through the running daemon) restored into a new,
// empty database with a real PostgreSQL server and served again; a non-empty database refused; a load that fails
// half-way leaves the database as it was and no data folder.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { runCli, TestDaemon } from '../helpers/daemon.js';
import { freshDatabase, postgresAvailable } from '../helpers/postgres.js';

async function query<T>(url: string, text: string): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(text)).rows as T[];
  } finally {
    await c.end();
  }
}

test('PostgreSQL: backup through the daemon, restore into an empty database, served again', { skip: postgresAvailable() ? false : 'PostgreSQL 15 binaries not installed' }, async () => {
  const work = mkdtempSync(join(tmpdir(), 'ard-bkpg-'));
  const source = await freshDatabase();
  const daemon = await TestDaemon.start({ env: { ARDESIA_DATABASE: source } });
  try {
    await daemon.api().request('POST', '/v1/groups', { name: 'staff' });
    await daemon.api().request('POST', '/v1/users', { name: 'carol', password: 'correct-horse-battery-1', groups: ['staff'] });
    const file = join(work, 'pg.tar');
    const b = await daemon.cli(['backup', file]);
    assert.equal(b.code, 0, b.stderr);
    assert.match(b.stdout, /the postgres store/);

    // A database with something in it is refused.
    const busy = await freshDatabase();
    await query(busy, 'create table mine (x int)');
    const refused = await runCli(join(work, 'busy-dir'), ['restore', file, '--database', busy]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /is not empty \(1 tables\)/);
    assert.ok(!existsSync(join(work, 'busy-dir')));

    // A load that fails half-way (an object of the dump's already there, though no table is): rolled back whole.
    const clash = await freshDatabase();
    await query(clash, "create function audit_append_only() returns trigger language plpgsql as $$ begin return null; end $$");
    const failed = await runCli(join(work, 'clash-dir'), ['restore', file, '--database', clash]);
    assert.equal(failed.code, 1, failed.stdout);
    assert.match(failed.stderr, /psql loading/);
    assert.deepEqual(await query(clash, "select table_name from information_schema.tables where table_schema = 'public'"), [], 'no table of the dump stayed');
    assert.ok(!existsSync(join(work, 'clash-dir')) && !readdirSync(work).some((f) => f.includes('.restore-')), 'no data folder, no temporary folder');

    const target = await freshDatabase();
    const dir = join(work, 'restored');
    const r = await runCli(dir, ['restore', file, '--database', target]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!existsSync(join(dir, 'ardesia.db')), 'no SQLite file: the store is in PostgreSQL');
    const second = await TestDaemon.start({ dataDir: dir, env: { ARDESIA_DATABASE: target } });
    try {
      const users = await second.api().request<Array<{ name: string; groups: string[] }>>('GET', '/v1/users');
      assert.deepEqual(users.find((u) => u.name === 'carol')?.groups, ['staff']);
      assert.doesNotMatch(second.output, /store upgraded/, 'the same release: nothing to migrate');
    } finally {
      await second.destroy();
    }
  } finally {
    await daemon.destroy();
    rmSync(work, { recursive: true, force: true });
  }
});
