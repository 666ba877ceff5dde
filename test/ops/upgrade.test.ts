// Upgrading a store made by an earlier release (test/fixtures/store-91eb0b3.db), and refusing one made by a newer.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import { ApiClient } from '../../src/cli/client.js';
import { ALL_MIGRATIONS } from '../../src/store/db.js';
import { FIXTURE, FIXTURE_COMMIT, FIXTURE_MIGRATIONS } from '../fixtures/make-store-91eb0b3.js';
import { REPO_ROOT, runCli, TestDaemon } from '../helpers/daemon.js';

const fixturePath = join(REPO_ROOT, 'test', 'fixtures', `store-${FIXTURE_COMMIT}.db`);

function siteFromFixture(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ard-up-'));
  copyFileSync(fixturePath, join(dir, 'ardesia.db'));
  return dir;
}

test(`a store of the release at ${FIXTURE_COMMIT} is upgraded at start, after a backup; its data survives`, async () => {
  const dir = siteFromFixture();
  const daemon = await TestDaemon.start({ dataDir: dir });
  try {
    assert.match(daemon.output, /store upgraded/);
    const backups = readdirSync(dir).filter((f) => f.startsWith('ardesia.db.pre-upgrade-'));
    assert.equal(backups.length, 1, `one automatic backup next to the store: ${readdirSync(dir).join(' ')}`);
    // The backup is the store as it was: only the old release's migrations.
    const old = new SqliteDatabase(join(dir, backups[0]!), { readonly: true });
    assert.deepEqual(old.prepare('select name from kysely_migration order by name').all().map((r: any) => r.name), [...FIXTURE_MIGRATIONS].sort());
    old.close();

    const api = daemon.api();
    const users = await api.request<Array<{ name: string; groups: string[] }>>('GET', '/v1/users');
    const alice = users.find((u) => u.name === FIXTURE.user);
    assert.ok(alice, 'the user survives');
    assert.deepEqual(alice.groups, [FIXTURE.group]);
    const pool = await api.request<{ name: string; network: { mode: string } }>('GET', `/v1/pools/${FIXTURE.pool}`);
    assert.equal(pool.network.mode, 'none', 'the old pool is read with its network written out');
    const image = await api.request<{ name: string; currentVersion: number }>('GET', `/v1/images/${FIXTURE.image}`);
    assert.equal(image.currentVersion, 1);
    // The old login token still works (0009_token_kind sorted it as a user's).
    const asAlice = new ApiClient({ socketPath: daemon.socket, token: FIXTURE.aliceToken });
    const me = await asAlice.request<{ user: string }>('GET', '/v1/auth/me');
    assert.equal(me.user, FIXTURE.user);

    const now = new SqliteDatabase(join(dir, 'ardesia.db'), { readonly: true });
    assert.deepEqual(now.prepare('select name from kysely_migration order by name').all().map((r: any) => r.name), Object.keys(ALL_MIGRATIONS).sort());
    now.close();

    // A second start has nothing to run: no second backup.
    await daemon.kill('SIGTERM');
    await daemon.spawn();
    assert.equal(readdirSync(dir).filter((f) => f.startsWith('ardesia.db.pre-upgrade-')).length, 1);
  } finally {
    await daemon.destroy();
  }
});

test('a daemon refuses a store a newer release upgraded, naming the release it needs', async () => {
  const dir = siteFromFixture();
  try {
    const db = new SqliteDatabase(join(dir, 'ardesia.db'));
    db.exec(`create table if not exists ardesia_migration_release (name varchar(255) not null primary key, release text not null)`);
    db.prepare('insert into kysely_migration (name, timestamp) values (?, ?)').run('0999_from_the_future', new Date().toISOString());
    db.prepare('insert into ardesia_migration_release (name, release) values (?, ?)').run('0999_from_the_future', '9.4.1');
    db.close();
    const before = readdirSync(dir).sort();
    const res = await runCli(dir, ['serve'], { timeoutMs: 60_000 });
    assert.equal(res.code, 1, res.stdout + res.stderr);
    assert.match(res.stderr, /0999_from_the_future/);
    assert.match(res.stderr, /Ardesia 9\.4\.1 or newer/);
    assert.match(res.stderr, /newer Ardesia/i, 'the registry hint (STORE_NEWER)');
    assert.ok(!readdirSync(dir).some((f) => f.includes('pre-upgrade')), 'nothing migrated, nothing backed up');
    const after = new SqliteDatabase(join(dir, 'ardesia.db'), { readonly: true });
    assert.equal((after.prepare('select count(*) as n from kysely_migration').get() as { n: number }).n, FIXTURE_MIGRATIONS.length + 1, 'the store untouched');
    after.close();
    assert.deepEqual(readdirSync(dir).filter((f) => !f.startsWith('ardesia.')).sort(), before.filter((f) => !f.startsWith('ardesia.')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
