// Pools, pool desktops with their lifecycle state, and sessions: this domain's schema migrations
// (merged with the others in src/store/db.ts; names sort globally).
import { type Kysely, type Migration, sql } from 'kysely';
import { dialectOf, int, jsonSetMissingKey } from './dialect.js';
import { DESKTOP_STATES } from '../contract/pools.js';

const stateList = sql.join(DESKTOP_STATES.map((s) => sql.lit(s)));

export const POOL_MIGRATIONS: Record<string, Migration> = {
  '0004_pools': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('pools')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('spec', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('pool_desktops')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('pool', 'text', (c) => c.notNull().references('pools.name'))
        .addColumn('state', 'text', (c) => c.notNull().check(sql`state in (${stateList})`))
        .addColumn('user', 'text')
        .addColumn('host', 'text')
        .addColumn('image', 'text', (c) => c.notNull())
        .addColumn('version', int(db), (c) => c.notNull())
        .addColumn('since', 'text', (c) => c.notNull())
        .addColumn('last_error', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('pool_desktops_pool').on('pool_desktops').column('pool').execute();
      await db.schema.createIndex('pool_desktops_user').on('pool_desktops').column('user').execute();
    },
  },
  // Why a desktop failed, beside last_error (the message): the step, the VM's exit reason, the console's last line.
  '0006_pool_desktop_failure': {
    async up(db: Kysely<any>) {
      for (const column of ['failure_step', 'failure_vm_exit', 'failure_console']) {
        await db.schema.alterTable('pool_desktops').addColumn(column, 'text').execute();
      }
    },
  },
  // Pools made before desktops had a network card keep none, written out so the setting shows what they do.
  '0007_pool_network': {
    async up(db: Kysely<any>) {
      await sql.raw(jsonSetMissingKey(dialectOf(db), 'pools', 'spec', 'network', '{"mode":"none"}')).execute(db);
    },
  },
  // The running estimate of a pool's desktop boot time, for the spare schedule's early boots.
  '0016_spare_schedules': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('pool_boot_times')
        .addColumn('pool', 'text', (c) => c.primaryKey().references('pools.name').onDelete('cascade'))
        .addColumn('estimate_ms', int(db), (c) => c.notNull())
        .addColumn('samples', int(db), (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
    },
  },
  // Pools made before start modes boot their desktops, written out so the setting shows what they do.
  '0020_pool_start_mode': {
    async up(db: Kysely<any>) {
      await sql.raw(jsonSetMissingKey(dialectOf(db), 'pools', 'spec', 'startMode', '"boot"')).execute(db);
    },
  },
  // The guest helper's version an image carries (known for images Ardesia built): a new pool's default start mode.
  '0024_image_guest_helper': {
    async up(db: Kysely<any>) {
      await db.schema.alterTable('images').addColumn('guest_helper', 'integer').execute();
    },
  },
};
