// Migration names: 0003_* auth, 0004_* pools, 0005_* netboot (see migrations-auth.ts, migrations-pools.ts, migrations-netboot.ts).
// Schema migrations, in order; each runs once, recorded by Kysely's migrator.
import { type Kysely, type Migration, sql } from 'kysely';
import { appendOnlyTriggers, autoId, dialectOf, int } from './dialect.js';

export const MIGRATIONS: Record<string, Migration> = {
  '0001_vms': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('vms')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('spec', 'text', (c) => c.notNull())
        .addColumn('desired', 'text', (c) => c.notNull().check(sql`desired in ('running','stopped')`))
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('transient', int(db), (c) => c.notNull().defaultTo(0))
        .addColumn('last_stop_reason', 'text')
        .addColumn('started_at', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('api_tokens')
        .addColumn('id', int(db), (c) => autoId(db, c))
        .addColumn('token_sha256', 'text', (c) => c.notNull().unique())
        .addColumn('principal', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
    },
  },
  '0002_images': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('images')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('arch', 'text', (c) => c.notNull())
        .addColumn('firmware', 'text', (c) => c.notNull().check(sql`firmware in ('bios','uefi')`))
        .addColumn('memory_mib', int(db), (c) => c.notNull())
        .addColumn('kernel', 'text')
        .addColumn('initrd', 'text')
        .addColumn('cmdline', 'text')
        .addColumn('current_version', int(db))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('image_versions')
        .addColumn('image', 'text', (c) => c.notNull().references('images.name').onDelete('cascade'))
        .addColumn('version', int(db), (c) => c.notNull())
        .addColumn('sha256', 'text', (c) => c.notNull())
        .addColumn('backing_version', int(db))
        .addColumn('depth', int(db), (c) => c.notNull())
        .addColumn('virtual_size', int(db), (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('image_versions_pk', ['image', 'version'])
        .execute();
      await db.schema
        .createTable('maintenance_sessions')
        .addColumn('image', 'text', (c) => c.primaryKey().references('images.name'))
        .addColumn('base_version', int(db))
        .addColumn('target_version', int(db), (c) => c.notNull())
        .addColumn('overlay', 'text', (c) => c.notNull())
        .addColumn('vm_name', 'text', (c) => c.notNull())
        .addColumn('iso', 'text')
        .addColumn('started_by', 'text', (c) => c.notNull())
        .addColumn('started_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('desktops')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('image', 'text', (c) => c.notNull().references('images.name'))
        .addColumn('version', int(db), (c) => c.notNull())
        .addColumn('follows_latest', int(db), (c) => c.notNull().defaultTo(0))
        .addColumn('home_user', 'text')
        .addColumn('vm_name', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('homes')
        .addColumn('user', 'text', (c) => c.primaryKey())
        .addColumn('size_bytes', int(db), (c) => c.notNull())
        .addColumn('leased_to', 'text')
        .addColumn('leased_at', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('audit')
        .addColumn('id', int(db), (c) => autoId(db, c))
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('principal', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('target', 'text', (c) => c.notNull())
        .addColumn('detail', 'text')
        .execute();
      // Append-only: the store itself refuses to rewrite history.
      for (const stmt of appendOnlyTriggers(dialectOf(db), 'audit', 'the audit log is append-only')) await sql.raw(stmt).execute(db);
    },
  },
  // Standalone desktops get the pools' network setting; those made before it keep none.
  '0008_desktop_network': {
    async up(db: Kysely<any>) {
      await db.schema.alterTable('desktops').addColumn('network', 'text', (c) => c.notNull().defaultTo('{"mode":"none"}')).execute();
    },
  },
};
