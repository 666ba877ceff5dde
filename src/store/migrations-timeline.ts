// The login timeline's and the usage reports' tables.
import type { Kysely, Migration } from 'kysely';
import { autoId, int } from './dialect.js';

export const TIMELINE_MIGRATIONS: Record<string, Migration> = {
  '0015_login_timeline': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('login_timelines')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('desktop', 'text', (c) => c.notNull())
        .addColumn('pool', 'text', (c) => c.notNull())
        .addColumn('user', 'text', (c) => c.notNull())
        .addColumn('started_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('login_timelines_pool').on('login_timelines').columns(['pool', 'started_at']).execute();
      await db.schema.createIndex('login_timelines_desktop').on('login_timelines').columns(['desktop', 'started_at']).execute();
      await db.schema
        .createTable('login_timeline_stages')
        .addColumn('timeline', 'text', (c) => c.notNull().references('login_timelines.id').onDelete('cascade'))
        .addColumn('stage', 'text', (c) => c.notNull())
        .addColumn('at_ms', int(db), (c) => c.notNull())
        .addColumn('skipped', 'integer', (c) => c.notNull())
        .addColumn('detail', 'text')
        .addPrimaryKeyConstraint('login_timeline_stages_pk', ['timeline', 'stage'])
        .execute();
      // Usage reports: sessions started and ended, desktops booted and reset.
      await db.schema
        .createTable('usage_events')
        .addColumn('id', int(db), (c) => autoId(db, c))
        .addColumn('at_ms', int(db), (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('pool', 'text', (c) => c.notNull())
        .addColumn('desktop', 'text', (c) => c.notNull())
        .addColumn('user', 'text')
        .execute();
      await db.schema.createIndex('usage_events_at').on('usage_events').column('at_ms').execute();
    },
  },
};
