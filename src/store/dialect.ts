// What differs between the store's two dialects (embedded SQLite, PostgreSQL), in this one place.
import { PostgresAdapter, type ColumnDataType, type ColumnDefinitionBuilder, type Kysely } from 'kysely';

export type StoreDialect = 'sqlite' | 'postgres';

export function dialectOf(db: Kysely<any>): StoreDialect {
  return db.getExecutor().adapter instanceof PostgresAdapter ? 'postgres' : 'sqlite';
}

/** SQLite's integer is 64-bit; PostgreSQL's is 32-bit, too small for byte sizes and epoch milliseconds. */
export function int(db: Kysely<any>): ColumnDataType {
  return dialectOf(db) === 'postgres' ? 'bigint' : 'integer';
}

/** A row id the database numbers: SQLite's AUTOINCREMENT (never reused), PostgreSQL's identity column. */
export function autoId(db: Kysely<any>, c: ColumnDefinitionBuilder): ColumnDefinitionBuilder {
  return dialectOf(db) === 'postgres' ? c.primaryKey().generatedByDefaultAsIdentity() : c.primaryKey().autoIncrement();
}

/** Statements that make `table` refuse UPDATE and DELETE with `message` (the audit log's append-only rule). */
export function appendOnlyTriggers(dialect: StoreDialect, table: string, message: string): string[] {
  const msg = message.replaceAll("'", "''");
  if (dialect === 'sqlite') {
    return ['update', 'delete'].map((op) => `create trigger ${table}_no_${op} before ${op} on ${table} begin select raise(abort, '${msg}'); end`);
  }
  return [
    `create function ${table}_append_only() returns trigger language plpgsql as $$ begin raise exception '${msg}'; end $$`,
    ...['update', 'delete'].map((op) => `create trigger ${table}_no_${op} before ${op} on ${table} for each row execute function ${table}_append_only()`),
  ];
}

/** Sets a JSON text column's top-level key to `json` where the key is missing. */
export function jsonSetMissingKey(dialect: StoreDialect, table: string, column: string, key: string, json: string): string {
  const lit = json.replaceAll("'", "''");
  if (dialect === 'sqlite') return `update ${table} set ${column} = json_set(${column}, '$.${key}', json('${lit}')) where json_extract(${column}, '$.${key}') is null`;
  return `update ${table} set ${column} = jsonb_set(${column}::jsonb, '{${key}}', '${lit}'::jsonb)::text where (${column}::jsonb -> '${key}') is null`;
}
