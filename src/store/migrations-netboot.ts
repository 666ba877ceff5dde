// Thin-client inventory and persisted DHCP leases: this domain's schema migrations (merged with the others in src/store/db.ts; names sort globally).
import { type Kysely, type Migration, sql } from 'kysely';
import { int } from './dialect.js';

export const NETBOOT_MIGRATIONS: Record<string, Migration> = {
  '0005_netboot': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('thin_clients')
        .addColumn('mac', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.unique())
        .addColumn('place', 'text')
        .addColumn('pool', 'text')
        .addColumn('state', 'text', (c) => c.notNull().check(sql`state in ('new','enabled','disabled')`))
        .addColumn('auto_login_user', 'text')
        .addColumn('keyboard_layout', 'text')
        .addColumn('resolution', 'text')
        .addColumn('boot_params', 'text')
        .addColumn('last_seen_at', 'text')
        .addColumn('last_ip', 'text')
        .addColumn('boot_count', int(db), (c) => c.notNull().defaultTo(0))
        .addColumn('current_user', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('dhcp_leases')
        .addColumn('ip', 'text', (c) => c.primaryKey())
        .addColumn('mac', 'text', (c) => c.notNull())
        .addColumn('expires_at_ms', int(db), (c) => c.notNull())
        .addColumn('hostname', 'text')
        .addColumn('declined', int(db), (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema.createIndex('dhcp_leases_mac').on('dhcp_leases').column('mac').execute();
    },
  },
  // Kiosk auto-login was stored but no program on the thin client used it: gone until kiosk accounts exist.
  '0005_netboot_drop_auto_login': {
    async up(db: Kysely<any>) {
      await db.schema.alterTable('thin_clients').dropColumn('auto_login_user').execute();
    },
  },
};
