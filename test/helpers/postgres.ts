// A real PostgreSQL 15 (Debian's binaries, no service) for the tests: initdb in a temporary folder, trust
// auth, no fsync, a loopback port and a private socket folder. One cluster serves a whole test run (the
// runner starts it and names it in ARDESIA_TEST_POSTGRES); each test file takes databases of its own in it.
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export const POSTGRES_BIN = process.env.ARDESIA_POSTGRES_BIN ?? '/usr/lib/postgresql/15/bin';
/** Set by the test runner: the URL of the run's cluster (its maintenance database, as superuser). */
export const POSTGRES_ENV = 'ARDESIA_TEST_POSTGRES';

export function postgresAvailable(): boolean {
  return existsSync(join(POSTGRES_BIN, 'initdb')) && existsSync(join(POSTGRES_BIN, 'pg_ctl'));
}

export interface PostgresCluster {
  /** postgres://postgres@127.0.0.1:PORT/postgres */
  readonly url: string;
  readonly dir: string;
  stop(): void;
}

/** A TCP port free on loopback now (the kernel's pick; a test binds it next). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** PostgreSQL refuses to run as root: as root, the cluster belongs to Debian's `postgres` account. */
function runAs(): { uid: number; gid: number } | undefined {
  if (userInfo().uid !== 0) return undefined;
  const id = (flag: string) => Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim());
  const uid = id('-u');
  if (!Number.isInteger(uid) || uid <= 0) throw new Error('running as root needs the postgres account (apt-get install postgresql creates it)');
  return { uid, gid: id('-g') };
}

function run(cmd: string, args: string[], who: { uid: number; gid: number } | undefined): void {
  const res = spawnSync(join(POSTGRES_BIN, cmd), args, { encoding: 'utf8', uid: who?.uid, gid: who?.gid, cwd: '/', timeout: 120_000 });
  if (res.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${res.status ?? res.signal}): ${res.stderr || res.stdout || res.error?.message}`);
}

/** Starts a fresh cluster; stop() ends it at once (immediate mode: its data is thrown away) and removes it. */
export async function startPostgresCluster(): Promise<PostgresCluster> {
  const who = runAs();
  const dir = mkdtempSync(join(tmpdir(), 'ard-pg-'));
  if (who) chownSync(dir, who.uid, who.gid);
  const data = join(dir, 'data');
  run('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions'], who);
  const port = await freePort();
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`;
  run('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-w', '-t', '120', '-o', opts, 'start'], who);
  let stopped = false;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    dir,
    stop() {
      if (stopped) return;
      stopped = true;
      spawnSync(join(POSTGRES_BIN, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop'], { uid: who?.uid, gid: who?.gid, cwd: '/', stdio: 'ignore', timeout: 60_000 });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

let own: Promise<PostgresCluster> | undefined;

/** The run's cluster, or (a file run alone) one for this process, stopped when it exits. */
async function clusterUrl(): Promise<string> {
  const shared = process.env[POSTGRES_ENV];
  if (shared) return shared;
  own ??= startPostgresCluster().then((c) => {
    process.once('exit', () => c.stop());
    return c;
  });
  return (await own).url;
}

let counter = 0;

/** A new empty database in the run's cluster, as a URL a daemon or openStore() takes. */
export async function freshDatabase(): Promise<string> {
  const admin = await clusterUrl();
  const name = `t_${process.pid}_${++counter}_${Date.now().toString(36)}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  try {
    await client.query(`create database ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return url.toString();
}

/** A fresh database, also addressed through PostgreSQL's unix socket folder: what processes in the tests' network
 *  namespaces use (its TCP port is on the root namespace's loopback). */
export async function freshDatabaseForNamespaces(): Promise<{ admin: string; viaSocket: string }> {
  const admin = await freshDatabase();
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  const socketDir = (await client.query<{ unix_socket_directories: string }>('show unix_socket_directories')).rows[0]!.unix_socket_directories.split(',')[0]!.trim();
  await client.end();
  const url = new URL(admin);
  url.searchParams.set('host', socketDir);
  return { admin, viaSocket: url.toString() };
}
