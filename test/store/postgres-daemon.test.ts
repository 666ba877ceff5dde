// `ardesia serve --database postgres://…` as a real daemon on a real PostgreSQL: what it writes outlives a
// restart and a kill -9; a second serve is refused on the same data folder (flock) and, from another
// folder, on the same database (the database's lock), and the database is free again once the holder died.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runCli, TestDaemon } from '../helpers/daemon.js';
import { freshDatabase } from '../helpers/postgres.js';

let database: string;
let daemon: TestDaemon;
const others: string[] = [];
before(async () => {
  database = await freshDatabase();
  daemon = new TestDaemon(mkdtempSync(join(tmpdir(), 'ardpg-')), ['--database', database]);
});
after(async () => {
  await daemon.destroy();
  for (const dir of others) rmSync(dir, { recursive: true, force: true });
});

async function userNames(d: TestDaemon): Promise<string[]> {
  const users = await d.api().request<{ name: string }[]>('GET', '/v1/users');
  return users.map((u) => u.name);
}

test('users written through the API are in PostgreSQL: kept across a kill -9 and a restart', async () => {
  await daemon.spawn();
  await daemon.api().request('POST', '/v1/users', { name: 'alice', password: 'wonderland-rabbit-7' });
  assert.ok((await userNames(daemon)).includes('alice'));
  await daemon.kill('SIGKILL');
  await daemon.spawn();
  assert.ok((await userNames(daemon)).includes('alice'));
});

test('a second serve on the same folder, or on the same database from another folder, is refused', async () => {
  if (!daemon.proc || daemon.proc.exitCode !== null) await daemon.spawn();
  const sameFolder = await runCli(daemon.dataDir, ['serve', '--database', database], { timeoutMs: 60_000 });
  assert.notEqual(sameFolder.code, 0);
  assert.match(sameFolder.stderr, /in use by ardesia serve \(pid \d+\)/);

  const elsewhere = mkdtempSync(join(tmpdir(), 'ardpg-'));
  others.push(elsewhere);
  const sameDatabase = await runCli(elsewhere, ['serve', '--database', database], { timeoutMs: 60_000 });
  assert.notEqual(sameDatabase.code, 0);
  assert.match(sameDatabase.stderr, /DATABASE_IN_USE|in use by another ardesia serve/);
  assert.ok(!sameDatabase.stderr.includes('ardesia daemon listening'));
  assert.ok((await userNames(daemon)).includes('alice'), 'the first daemon still answers');

  // kill -9: the server ends the dead daemon's session and with it the lock; the other folder may serve now.
  await daemon.kill('SIGKILL');
  const second = await TestDaemon.start({ dataDir: elsewhere, extraArgs: ['--database', database] });
  try {
    assert.ok((await userNames(second)).includes('alice'), 'the same database, seen from another data folder');
  } finally {
    await second.kill('SIGTERM');
  }
});

test('a bad --database is refused before anything starts, with its code', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ardpg-'));
  others.push(dir);
  const r = await runCli(dir, ['serve', '--database', 'mysql://h/db'], { timeoutMs: 60_000 });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /DATABASE_URL_INVALID|not a store Ardesia speaks/);
});
