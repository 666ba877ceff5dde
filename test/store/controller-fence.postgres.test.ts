// The fence on a real PostgreSQL: every application table (those of later migrations too) refuses the writes of a
// controller term that no longer leads or whose lease expired; writes naming no term (migrations, tools) and the
// leadership row itself stay writable.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { sql, type Kysely, type Migration } from 'kysely';
import pg from 'pg';
import { ALL_MIGRATIONS, openStore, type Store } from '../../src/store/db.js';
import { DEPOSED_SQLSTATE, isDeposedError, unfencedTables } from '../../src/store/controller-fence.js';
import { freshDatabase } from '../helpers/postgres.js';

const LATER: Record<string, Migration> = {
  '0999_later_table': { up: async (db: Kysely<any>) => void (await db.schema.createTable('later_things').addColumn('id', 'integer', (c) => c.primaryKey()).execute()) },
};
const opened: Store[] = [];
const clients: pg.Client[] = [];
after(async () => {
  for (const c of clients) await c.end().catch(() => {});
  for (const s of opened) await s.destroy();
});

async function connect(url: string, term?: number): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url, ...(term === undefined ? {} : { options: `-c ardesia.term=${term}` }) });
  await c.connect();
  clients.push(c);
  return c;
}

async function setLeader(c: pg.Client, term: number, leaseMs: number): Promise<void> {
  await c.query(`update controller_leadership set holder = 'a', term = $1, expires_at = clock_timestamp() + $2 * interval '1 millisecond' where id = 1`, [term, leaseMs]);
}

test('every application table has the fence, a table of a later migration too', async () => {
  const url = await freshDatabase();
  const store = await openStore({ kind: 'postgres', url });
  opened.push(store);
  assert.deepEqual(await unfencedTables(store), []);
  await store.destroy();
  opened.pop();
  const later = await openStore({ kind: 'postgres', url }, { migrations: { ...ALL_MIGRATIONS, ...LATER } });
  opened.push(later);
  assert.deepEqual(await unfencedTables(later), []);
  const fenced = await sql<{ n: number }>`select count(*)::int as n from pg_trigger where tgname = 'ardesia_controller_fence' and tgrelid = 'later_things'::regclass`.execute(later);
  assert.equal(fenced.rows[0]!.n, 1);
});

test('a write of the leading term passes; of a deposed or expired term it is refused by the database', async () => {
  const url = await freshDatabase();
  opened.push(await openStore({ kind: 'postgres', url }, { migrations: { ...ALL_MIGRATIONS, ...LATER } }));
  const tool = await connect(url);
  await setLeader(tool, 4, 60_000);
  const four = await connect(url, 4);
  await four.query('insert into later_things (id) values (1)');
  const five = await connect(url, 5);
  await assert.rejects(five.query('insert into later_things (id) values (2)'), (err: { code?: string }) => err.code === DEPOSED_SQLSTATE);

  await setLeader(tool, 5, 60_000); // term 5 took over: term 4 is deposed
  await assert.rejects(four.query('update later_things set id = 3'), (err) => isDeposedError(err));
  await assert.rejects(four.query('delete from later_things'), (err) => isDeposedError(err));
  await assert.rejects(four.query('truncate later_things'), (err) => isDeposedError(err));
  await five.query('insert into later_things (id) values (2)');
  // The leadership row stays writable with a term (renewal), and a connection naming none is no controller.
  await four.query(`update controller_leadership set expires_at = expires_at where id = 1`);
  await tool.query('insert into later_things (id) values (9)');

  await tool.query(`update controller_leadership set expires_at = clock_timestamp() - interval '1 second' where id = 1`);
  await assert.rejects(five.query('insert into later_things (id) values (10)'), (err) => isDeposedError(err), 'an expired lease writes nothing, even before anyone took over');
  const rows = await tool.query<{ id: number }>('select id from later_things order by id');
  assert.deepEqual(rows.rows.map((r) => r.id), [1, 2, 9]);
});

test("a store opened with a term carries it on every pooled connection, and reports the fence's refusal", async () => {
  const url = await freshDatabase();
  opened.push(await openStore({ kind: 'postgres', url }, { migrations: { ...ALL_MIGRATIONS, ...LATER } }));
  const tool = await connect(url);
  await setLeader(tool, 2, 60_000);
  const refused: unknown[] = [];
  // Options the administrator put in the URL stay, and the term is added to them.
  const withOptions = `${url}?options=${encodeURIComponent('-c statement_timeout=12345')}`;
  const store = await openStore({ kind: 'postgres', url: withOptions }, { migrations: { ...ALL_MIGRATIONS, ...LATER }, controllerTerm: 2, onQueryError: (err) => refused.push(err) });
  opened.push(store);
  const shown = await sql<{ term: string; timeout: string }>`select current_setting('ardesia.term') as term, current_setting('statement_timeout') as timeout`.execute(store);
  assert.deepEqual(shown.rows[0], { term: '2', timeout: '12345ms' });
  await sql`insert into later_things (id) values (1)`.execute(store);
  await setLeader(tool, 3, 60_000);
  await assert.rejects(sql`insert into later_things (id) values (2)`.execute(store), (err) => isDeposedError(err));
  assert.equal(refused.filter(isDeposedError).length, 1);
});
