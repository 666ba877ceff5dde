// PostgreSQL only: the controller leadership row and the fence on every application table. A connection that
// names a controller term (ardesia.term, set at connect) may write only while that term leads and has not
// expired by the database's clock; connections that name none (migrations, restore, tools) are not controllers.
import { sql, type Kysely } from 'kysely';
import { MIGRATION_RELEASE_TABLE, MIGRATION_TABLE } from './migrate.js';

export const LEADERSHIP_TABLE = 'controller_leadership';
/** The custom setting each pooled connection of a leading controller carries. */
export const TERM_SETTING = 'ardesia.term';
/** SQLSTATE the fence raises (class "AR": Ardesia's own). */
export const DEPOSED_SQLSTATE = 'AR001';
/** The trigger's name on each fenced table. */
export const FENCE_TRIGGER = 'ardesia_controller_fence';

/** Tables the fence leaves writable: the migrations' bookkeeping and the leadership row itself. */
export const UNFENCED_TABLES: readonly string[] = [MIGRATION_TABLE, `${MIGRATION_TABLE}_lock`, MIGRATION_RELEASE_TABLE, LEADERSHIP_TABLE];

export async function leadershipTableCreate(db: Kysely<any>): Promise<void> {
  // One row: the holder's name and address, its term (the fencing token) and the expiry on the database's clock.
  await sql`create table ${sql.table(LEADERSHIP_TABLE)} (id integer primary key check (id = 1), holder text not null, address text not null, term bigint not null, expires_at timestamptz not null)`.execute(db);
  await sql`insert into ${sql.table(LEADERSHIP_TABLE)} (id, holder, address, term, expires_at) values (1, '', '', 0, '-infinity')`.execute(db);
  // FOR SHARE: a takeover waits for the leader's open write to commit, so no old-term write lands after it.
  await sql.raw(`create function ardesia_controller_fence() returns trigger language plpgsql as $$
declare
  given text := current_setting('${TERM_SETTING}', true);
  lead_row record;
begin
  if given is null or given = '' then return null; end if;
  select term, expires_at > clock_timestamp() as live into lead_row from ${LEADERSHIP_TABLE} where id = 1 for share;
  if lead_row is null or lead_row.term <> given::bigint or not lead_row.live then
    raise exception 'ardesia controller term % no longer leads (the leading term is %)', given, coalesce(lead_row.term::text, 'none') using errcode = '${DEPOSED_SQLSTATE}';
  end if;
  return null;
end $$`).execute(db);
}

/** Application tables of the public schema that have no fence trigger yet. */
export async function unfencedTables(db: Kysely<any>): Promise<string[]> {
  const rows = await sql<{ name: string }>`
    select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = current_schema() and c.relkind in ('r', 'p')
      and not exists (select 1 from pg_trigger t where t.tgrelid = c.oid and t.tgname = ${FENCE_TRIGGER})
    order by c.relname`.execute(db);
  return rows.rows.map((r) => r.name).filter((name) => !UNFENCED_TABLES.includes(name));
}

/** Puts the fence on every application table that lacks it: run after each upgrade, so later migrations' tables get it too. */
export async function fenceEveryTable(db: Kysely<any>): Promise<string[]> {
  // A store brought only part of the way (an older release's migrations) has no fence yet: 0021 makes it.
  const made = await sql<{ fn: string | null }>`select to_regprocedure('ardesia_controller_fence()')::text as fn`.execute(db);
  if (made.rows[0]?.fn == null) return [];
  const missing = await unfencedTables(db);
  for (const table of missing) {
    await sql`create trigger ${sql.raw(FENCE_TRIGGER)} before insert or update or delete or truncate on ${sql.table(table)} for each statement execute function ardesia_controller_fence()`.execute(db);
  }
  return missing;
}

/** Whether a failed query was refused by the fence: this controller's term no longer leads. */
export function isDeposedError(err: unknown): boolean {
  return (err as { code?: unknown } | undefined)?.code === DEPOSED_SQLSTATE;
}
