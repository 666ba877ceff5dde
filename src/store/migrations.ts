// Schema migrations, in order; each runs once, recorded by Kysely's migrator.
import { type Kysely, type Migration, sql } from 'kysely';

export const MIGRATIONS: Record<string, Migration> = {
  '0001_vms': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('vms')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('spec', 'text', (c) => c.notNull())
        .addColumn('desired', 'text', (c) => c.notNull().check(sql`desired in ('running','stopped')`))
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('transient', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('last_stop_reason', 'text')
        .addColumn('started_at', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('api_tokens')
        .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('token_sha256', 'text', (c) => c.notNull().unique())
        .addColumn('principal', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
    },
  },
};
