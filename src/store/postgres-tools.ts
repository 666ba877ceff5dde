// pg_dump and psql of the server's major version (Debian's /usr/lib/postgresql/NN/bin), run with the
// password in the environment, never in argv (which `ps` shows every local account).
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ArdesiaError } from '../contract/errors.js';
import { postgresConnect, redactUrl } from './db.js';

const POSTGRES_LIB = process.env.ARDESIA_POSTGRES_LIB ?? '/usr/lib/postgresql';

/** The server's major version (15 for 15.x). */
export async function postgresServerMajor(url: string): Promise<number> {
  const client = await postgresConnect(url);
  try {
    const r = await client.query<{ v: string }>("select current_setting('server_version_num') as v");
    return Math.floor(Number(r.rows[0]!.v) / 10000);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Pure: the client of the lowest installed major not older than the server's (pg_dump refuses newer servers). */
export function postgresToolPick(installed: number[], serverMajor: number): number | undefined {
  return [...installed].sort((a, b) => a - b).find((v) => v >= serverMajor);
}

async function toolPath(tool: 'pg_dump' | 'psql', url: string): Promise<string> {
  const major = await postgresServerMajor(url);
  const installed = existsSync(POSTGRES_LIB) ? readdirSync(POSTGRES_LIB).filter((d) => /^\d+$/.test(d) && existsSync(join(POSTGRES_LIB, d, 'bin', tool))).map(Number) : [];
  const pick = postgresToolPick(installed, major);
  if (pick === undefined) throw new ArdesiaError('POSTGRES_TOOLS_MISSING', `${tool} for PostgreSQL ${major} is not installed (found: ${installed.length ? installed.join(', ') : 'none'} under ${POSTGRES_LIB})`);
  return join(POSTGRES_LIB, String(pick), 'bin', tool);
}

/** The URL without its password, and the password for PGPASSWORD. */
function splitSecret(url: string): { url: string; password?: string } {
  const u = new URL(url);
  // In the userinfo, or a parameter (socketUrlNormalized's form of `postgres://USER:PASSWORD@/DB?host=…`).
  const password = u.password ? decodeURIComponent(u.password) : (u.searchParams.get('password') ?? undefined);
  u.password = '';
  u.searchParams.delete('password');
  return { url: u.toString(), password };
}

function runTool(path: string, args: string[], password: string | undefined, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(path, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...(password ? { PGPASSWORD: password } : {}) } });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    child.on('error', (err) => reject(new ArdesiaError('POSTGRES_TOOLS_MISSING', `${what}: ${err.message}`)));
    child.on('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`${what} failed (${code ?? signal}): ${stderr.trim().split('\n').slice(-3).join(' ')}`))));
  });
}

/** A plain SQL dump of the database (no owners, no grants: it is restored into a database of another role). */
export async function postgresDump(url: string, file: string): Promise<void> {
  const s = splitSecret(url);
  await runTool(await toolPath('pg_dump', url), ['--dbname', s.url, '--format', 'plain', '--no-owner', '--no-privileges', '--file', file], s.password, `pg_dump of ${redactUrl(url)}`);
}

/** Loads a dump into the database in one transaction: on any error nothing of it stays. */
export async function postgresLoad(url: string, file: string): Promise<void> {
  const s = splitSecret(url);
  await runTool(await toolPath('psql', url), ['--dbname', s.url, '--no-psqlrc', '--quiet', '-v', 'ON_ERROR_STOP=1', '--single-transaction', '--file', file], s.password, `psql loading into ${redactUrl(url)}`);
}

/** The database's own tables (an empty database has none in schema public). */
export async function postgresTableCount(url: string): Promise<number> {
  const client = await postgresConnect(url);
  try {
    const r = await client.query<{ n: string }>("select count(*) as n from information_schema.tables where table_schema = 'public'");
    return Number(r.rows[0]!.n);
  } finally {
    await client.end().catch(() => {});
  }
}
