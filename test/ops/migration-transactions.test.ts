// Each migration runs in its own transaction on both dialects: a failing one leaves nothing of itself, the
// ones before it stay recorded, and the automatic backup was taken first (SQLite file, PostgreSQL pg_dump).
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { type Kysely, type Migration, sql } from 'kysely';
import { ArdesiaError } from '../../src/contract/errors.js';
import { openStore, storeLocation, type StoreLocation } from '../../src/store/db.js';
import { freshDatabase, postgresAvailable } from '../helpers/postgres.js';

const first: Record<string, Migration> = {
  '0001_first': { up: async (db: Kysely<any>) => void (await db.schema.createTable('first_t').addColumn('v', 'text').execute()) },
};
const failing: Record<string, Migration> = {
  ...first,
  '0002_second': { up: async (db: Kysely<any>) => void (await db.schema.createTable('second_t').addColumn('v', 'text').execute()) },
  '0003_breaks': {
    async up(db: Kysely<any>) {
      await db.schema.createTable('third_t').addColumn('v', 'text').execute();
      await sql`insert into third_t (v) values ('half-made')`.execute(db);
      await sql`select * from no_such_table`.execute(db); // fails after DDL and a row: both must roll back
    },
  },
};

async function tablesOf(db: Kysely<any>): Promise<string[]> {
  return (await db.introspection.getTables()).map((t) => t.name).filter((n) => n.endsWith('_t')).sort();
}

async function scenario(loc: StoreLocation, backupDir: string): Promise<void> {
  const db1 = await openStore(loc, { migrations: first });
  await sql`insert into first_t (v) values ('kept')`.execute(db1);
  await db1.destroy();

  const err = await openStore(loc, { migrations: failing, upgradeBackupDir: backupDir }).then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof ArdesiaError, String(err));
  assert.equal(err.code, 'STORE_UPGRADE_FAILED');
  assert.match(err.message, /0003_breaks/);
  assert.match(err.message, /0002_second done before it/);
  assert.match(err.message, /pre-upgrade/, 'names the automatic backup');

  const db2 = await openStore(loc, { migrations: { ...first, '0002_second': failing['0002_second']! } });
  try {
    assert.deepEqual(await tablesOf(db2), ['first_t', 'second_t'], '0003 left no table');
    const names = (await (db2 as Kysely<any>).selectFrom('kysely_migration').select('name').orderBy('name').execute()).map((r: { name: string }) => r.name);
    assert.deepEqual(names, ['0001_first', '0002_second']);
    assert.equal((await sql<{ v: string }>`select v from first_t`.execute(db2)).rows[0]?.v, 'kept');
  } finally {
    await db2.destroy();
  }
}

test('SQLite: one transaction per migration; a failure rolls back only its own', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ard-mig-'));
  try {
    await scenario(storeLocation(undefined, dir), dir);
    const backups = readdirSync(dir).filter((f) => f.startsWith('ardesia.db.pre-upgrade-'));
    assert.equal(backups.length, 1, readdirSync(dir).join(' '));
    assert.match(backups[0]!, /0002_second$/, 'named for the first migration it precedes');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('PostgreSQL: one transaction per migration; the automatic backup is a pg_dump', { skip: postgresAvailable() ? false : 'PostgreSQL 15 binaries not installed' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ard-mig-'));
  try {
    await scenario(storeLocation(await freshDatabase(), dir), join(dir, 'store-backups'));
    const dumps = readdirSync(join(dir, 'store-backups'));
    assert.equal(dumps.length, 1, dumps.join(' '));
    const dump = readFileSync(join(dir, 'store-backups', dumps[0]!), 'utf8');
    assert.match(dump, /CREATE TABLE public\.first_t/);
    assert.match(dump, /kept/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
