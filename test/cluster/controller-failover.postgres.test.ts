// Two real `ardesia serve` on one real PostgreSQL, with a short lease: one leads, the other stands by (its API
// names the leader); the leader killed → the standby leads with term + 1 and serves; the leader frozen past its
// lease and resumed → the database refuses its term, it steps down (exit 75) and nothing is written with it.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import pg from 'pg';
import { spawn } from 'node:child_process';
import type { HostView } from '../../src/contract/hosts.js';
import { CLI, runCli, TestDaemon, until } from '../helpers/daemon.js';
import { freePort, freshDatabase } from '../helpers/postgres.js';

const LEASE = ['--controller-lease', '2s', '--controller-renew', '500ms'];
const daemons: TestDaemon[] = [];
const clients: pg.Client[] = [];
after(async () => {
  for (const d of daemons) {
    if (d.proc?.exitCode === null && d.proc.signalCode === null) d.proc.kill('SIGCONT');
    await d.destroy();
  }
  for (const c of clients) await c.end().catch(() => {});
});

async function controller(database: string, name: string, tls: string[] = []): Promise<{ daemon: TestDaemon; url: string }> {
  const port = await freePort();
  const daemon = new TestDaemon(mkdtempSync(join(tmpdir(), 'ardctl-')), ['--database', database, '--host-name', name, '--listen', `127.0.0.1:${port}`, ...tls, ...LEASE]);
  daemons.push(daemon);
  return { daemon, url: `${tls.length > 0 ? 'https' : 'http'}://127.0.0.1:${port}` };
}

async function connect(url: string, term?: number): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url, ...(term === undefined ? {} : { options: `-c ardesia.term=${term}` }) });
  await c.connect();
  clients.push(c);
  return c;
}

async function leadership(db: pg.Client): Promise<{ holder: string; term: number }> {
  const r = await db.query<{ holder: string; term: number }>('select holder, term::int as term from controller_leadership where id = 1');
  return r.rows[0]!;
}

/** Two controllers: a leads, b stands by (after a has led, so the order is known). */
async function pair(): Promise<{ db: pg.Client; database: string; a: { daemon: TestDaemon; url: string }; b: { daemon: TestDaemon; url: string } }> {
  const database = await freshDatabase();
  const a = await controller(database, 'ctl-a');
  await a.daemon.spawn();
  const b = await controller(database, 'ctl-b');
  await b.daemon.spawn(undefined, 'standby controller: ctl-a leads');
  return { db: await connect(database), database, a, b };
}

test('a standby names the leader; the leader killed, the standby leads with the next term and serves', async () => {
  const { db, a, b } = await pair();
  assert.deepEqual(await leadership(db), { holder: 'ctl-a', term: 1 });
  const asked = await fetch(`${b.url}/healthz`);
  assert.equal(asked.status, 503);
  assert.equal(asked.headers.get('x-ardesia-leader'), a.url);
  const body = (await asked.json()) as { error: { code: string; message: string } };
  assert.equal(body.error.code, 'CONTROLLER_STANDBY');
  assert.match(body.error.message, new RegExp(`the leader is ctl-a at ${a.url}`));
  assert.equal((await fetch(`${a.url}/healthz`)).status, 200);
  const page = await fetch(`${b.url}/admin?x=1`, { redirect: 'manual' });
  assert.equal(page.status, 307, 'a browser is sent to the leader');
  assert.equal(page.headers.get('location'), `${a.url}/admin?x=1`);
  const cli = await b.daemon.cli(['host', 'list']);
  assert.notEqual(cli.code, 0);
  assert.match(cli.stderr, /CONTROLLER_STANDBY|standby; the leader is ctl-a/);
  await a.daemon.api().request('POST', '/v1/users', { name: 'alice', password: 'wonderland-rabbit-7' });

  await a.daemon.kill('SIGKILL');
  await until('the standby leads', () => b.daemon.output.includes('ardesia daemon listening'), 60_000);
  assert.deepEqual(await leadership(db), { holder: 'ctl-b', term: 2 });
  assert.match(b.daemon.output, /this controller leads \(term 2\)/);
  assert.equal((await fetch(`${b.url}/healthz`)).status, 200);
  const users = await b.daemon.api().request<{ name: string }[]>('GET', '/v1/users');
  assert.ok(users.some((u) => u.name === 'alice'), 'the new leader serves what the old one wrote');
  // --controller-lease: the row's expiry is at most one lease ahead of the database's clock, and renewals move it.
  const ahead = async () => Number((await db.query<{ s: string }>('select extract(epoch from expires_at - clock_timestamp()) as s from controller_leadership')).rows[0]!.s);
  const first = await ahead();
  assert.ok(first > 0 && first <= 2, `expiry ${first} s ahead`);
  const expiresAt = async () => (await db.query<{ t: string }>('select expires_at::text as t from controller_leadership')).rows[0]!.t;
  const before = await expiresAt();
  await until('a renewal', async () => (await expiresAt()) !== before, 30_000, 100);
  // A leader stopped on purpose hands over at once: its lease ends now, not after expiry.
  await b.daemon.kill('SIGTERM');
  assert.ok((await ahead()) <= 0, 'the lease ended with the stop');
});

test('lease settings: the renewal must fit twice in the lease, and SQLite has no standby to lease to', async () => {
  const database = await freshDatabase();
  const dir = mkdtempSync(join(tmpdir(), 'ardctl-'));
  const tooSlow = await runCli(dir, ['serve', '--database', database, '--controller-lease', '2s', '--controller-renew', '1500ms'], { timeoutMs: 60_000 });
  assert.notEqual(tooSlow.code, 0);
  assert.match(tooSlow.stderr, /--controller-renew \(1500 ms\) must be at most half of --controller-lease \(2000 ms\)/);
  const sqlite = await runCli(dir, ['serve', '--controller-lease', '20s'], { timeoutMs: 60_000 });
  assert.notEqual(sqlite.code, 0);
  assert.match(sqlite.stderr, /need --database postgres/);
  rmSync(dir, { recursive: true, force: true });
});

test('a leader frozen past its lease and resumed: its term is refused by the database, it steps down, it writes nothing', async () => {
  const { db, database, a, b } = await pair();
  // Every successful write from now on is recorded with the term its connection carried.
  await db.query(`create table test_writes (id bigserial primary key, tbl text not null, term text)`);
  await db.query(`create function test_write_seen() returns trigger language plpgsql as $$ begin insert into test_writes (tbl, term) values (tg_table_name, current_setting('ardesia.term', true)); return null; end $$`);
  const tables = await db.query<{ name: string }>(`select tablename as name from pg_tables where schemaname = current_schema() and tablename not in ('test_writes', 'controller_leadership', 'kysely_migration', 'ardesia_migration_release')`);
  for (const { name } of tables.rows) await db.query(`create trigger test_write_seen after insert or update or delete on "${name}" for each statement execute function test_write_seen()`);

  a.daemon.proc!.kill('SIGSTOP');
  await until('the standby leads', () => b.daemon.output.includes('ardesia daemon listening'), 60_000);
  assert.deepEqual(await leadership(db), { holder: 'ctl-b', term: 2 });
  const takeover = Number((await db.query<{ id: string | null }>('select max(id) as id from test_writes')).rows[0]!.id ?? 0);

  // What the frozen leader's pool would send: a write carrying term 1 is refused by the database itself.
  const asOldLeader = await connect(database, 1);
  await assert.rejects(asOldLeader.query(`update hosts set heartbeat_at = heartbeat_at where name = 'ctl-a'`), (err: { code?: string; message?: string }) => err.code === 'AR001' && /term 1 no longer leads/.test(err.message ?? ''));

  const exited = new Promise<number | null>((resolve) => a.daemon.proc!.once('exit', (code) => resolve(code)));
  a.daemon.proc!.kill('SIGCONT');
  assert.equal(await exited, 75, 'a deposed controller exits with 75');
  assert.match(a.daemon.output, /this controller no longer leads: (term 2 is led by ctl-b|the database refused a write of term 1)/);
  const late = await db.query<{ tbl: string; term: string | null }>('select tbl, term from test_writes where id > $1', [takeover]);
  assert.deepEqual(late.rows.filter((r) => r.term === '1'), [], 'nothing written with the old term after the takeover');
  assert.ok((await db.query('select 1 from test_writes where term = $1', ['2'])).rowCount! > 0, 'the new leader writes (the record works)');
  assert.equal((await fetch(`${b.url}/healthz`)).status, 200);
});

test('an agent given both controllers follows the leader: linked to the first, then to the standby once it leads', async () => {
  const database = await freshDatabase();
  const a = await controller(database, 'ctl-a', ['--tls']);
  await a.daemon.spawn();
  // Both controllers present one certificate, so the agent pins one fingerprint for both.
  const tlsDir = join(a.daemon.dataDir, 'tls');
  const b = await controller(database, 'ctl-b', ['--tls-cert', join(tlsDir, 'server.crt'), '--tls-key', join(tlsDir, 'server.key')]);
  await b.daemon.spawn(undefined, 'standby controller: ctl-a leads');
  const added = await a.daemon.cli(['--json', 'host', 'add', 'blade2']);
  assert.equal(added.code, 0, added.stderr);
  const token = (JSON.parse(added.stdout) as { token: string }).token;
  const agentDir = mkdtempSync(join(tmpdir(), 'ardctl-agent-'));
  const agent = spawn(process.execPath, [CLI, 'agent', '--data-dir', agentDir, '--probe-timeout', '5s', '--controller', a.url, '--controller', b.url, '--join', token], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  agent.stdout.on('data', (d: Buffer) => (output += d.toString()));
  agent.stderr.on('data', (d: Buffer) => (output += d.toString()));
  try {
    const linkedVia = async (d: TestDaemon) => {
      const r = await d.cli(['--json', 'host', 'list']);
      return r.code === 0 && (JSON.parse(r.stdout) as HostView[]).some((h) => h.name === 'blade2' && h.agent?.ready === true && h.state === 'up');
    };
    await until('the agent links to the leader', () => linkedVia(a.daemon), 60_000);
    assert.match(output, new RegExp(`agent linked to ${a.url}`));
    await a.daemon.kill('SIGKILL');
    await until('the standby leads', () => b.daemon.output.includes('ardesia daemon listening'), 60_000);
    await until('the agent links to the new leader', () => linkedVia(b.daemon), 90_000);
    assert.match(output, new RegExp(`agent linked to ${b.url}`));
  } finally {
    agent.kill('SIGKILL');
    rmSync(agentDir, { recursive: true, force: true });
  }
});
