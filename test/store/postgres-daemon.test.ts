// `ardesia serve --database postgres://…` as a real daemon on a real PostgreSQL: what it writes outlives a
// restart and a kill -9 (the restart leads again once its own lease expired); a second serve is refused on
// the same data folder (flock).
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
  daemon = new TestDaemon(mkdtempSync(join(tmpdir(), 'ardpg-')), ['--database', database, '--controller-lease', '2s', '--controller-renew', '500ms']);
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

test('a second serve on the same folder is refused (a second folder on the same database stands by: controller-failover)', async () => {
  if (!daemon.proc || daemon.proc.exitCode !== null) await daemon.spawn();
  const sameFolder = await runCli(daemon.dataDir, ['serve', '--database', database], { timeoutMs: 60_000 });
  assert.notEqual(sameFolder.code, 0);
  assert.match(sameFolder.stderr, /in use by ardesia serve \(pid \d+\)/);
  assert.ok((await userNames(daemon)).includes('alice'), 'the first daemon still answers');
});

test('a bad --database is refused before anything starts, with its code', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ardpg-'));
  others.push(dir);
  const r = await runCli(dir, ['serve', '--database', 'mysql://h/db'], { timeoutMs: 60_000 });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /DATABASE_URL_INVALID|not a store Ardesia speaks/);
});
