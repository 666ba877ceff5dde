// The real daemon removes expired browser sessions by itself: sessions that ended while it was down are gone
// after its start, with no login and no request touching them; a live one stays.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import { TestDaemon, until } from '../helpers/daemon.js';

const daemon = new TestDaemon(mkdtempSync(join(tmpdir(), 'ardh-')));
after(() => daemon.destroy());

test('sessions past their end are pruned by the daemon without any login', async () => {
  await daemon.spawn();
  for (const name of ['ann', 'bob', 'cid']) {
    const r = await daemon.cli(['user', 'add', name, '--password-stdin'], { input: 'housekeeping-passphrase\n' });
    assert.equal(r.code, 0, r.stderr);
  }
  await daemon.kill('SIGTERM');
  const db = new SqliteDatabase(join(daemon.dataDir, 'ardesia.db'));
  const hour = 3600_000;
  const at = (msAgo: number) => new Date(Date.now() - msAgo).toISOString();
  const add = db.prepare('insert into sessions (id_sha256, user, created_at, last_seen_at, expires_at, address) values (?, ?, ?, ?, ?, ?)');
  add.run('a'.repeat(64), 'ann', at(13 * hour), at(13 * hour), at(hour), '127.0.0.1'); // past its absolute end
  add.run('b'.repeat(64), 'bob', at(3 * hour), at(3 * hour), at(-9 * hour), '127.0.0.1'); // idle for 3 h (the limit is 2)
  add.run('c'.repeat(64), 'cid', at(0), at(0), at(-12 * hour), '127.0.0.1'); // live
  db.close();

  await daemon.spawn();
  const users = () => {
    const ro = new SqliteDatabase(join(daemon.dataDir, 'ardesia.db'), { readonly: true });
    try {
      return (ro.prepare('select user from sessions order by user').all() as Array<{ user: string }>).map((r) => r.user);
    } finally {
      ro.close();
    }
  };
  await until('the expired sessions to be pruned', () => users().length === 1, 30_000);
  assert.deepEqual(users(), ['cid']);
  // The round logs once its deletes are done: its line may come a moment after the rows are gone.
  await until('the round that pruned them logged', () => /"sessionsPruned":2,"loginTokensPruned":0,"displayTicketsSwept":0,"templateBuildsRemoved":0,"msg":"housekeeping round"/.test(daemon.output), 30_000);
});
