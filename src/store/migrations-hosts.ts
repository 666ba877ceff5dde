// Hosts and each VM's host: this domain's schema migrations (merged with the others in src/store/db.ts; names sort globally).
import { type Kysely, type Migration, sql } from 'kysely';
import { int } from './dialect.js';

export const HOST_MIGRATIONS: Record<string, Migration> = {
  '0010_hosts': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('hosts')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('state', 'text', (c) => c.notNull().check(sql`state in ('up','draining','maintenance','down')`))
        .addColumn('labels', 'text', (c) => c.notNull().defaultTo('[]'))
        .addColumn('memory_mib', int(db), (c) => c.notNull())
        .addColumn('vcpus', int(db), (c) => c.notNull())
        .addColumn('memory_overcommit', 'real', (c) => c.notNull().defaultTo(1))
        .addColumn('cpu_overcommit', 'real', (c) => c.notNull().defaultTo(1))
        .addColumn('heartbeat_at', 'text', (c) => c.notNull())
        .addColumn('agent_credential_sha256', 'text')
        .addColumn('cert_fingerprint', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      // The desired host of each VM (standalone desktops' and pool desktops' VMs too); the daemon backfills its own.
      await db.schema.alterTable('vms').addColumn('host', 'text').execute();
      await db.schema.createIndex('vms_host').on('vms').column('host').execute();
      await db.schema.createIndex('pool_desktops_host').on('pool_desktops').column('host').execute();
    },
  },
  // Labels set in the store (the API, the console, the site file) unless the host's serve --host-label sets them.
  '0017_host_labels_from': {
    async up(db: Kysely<any>) {
      await db.schema
        .alterTable('hosts')
        .addColumn('labels_from', 'text', (c) => c.notNull().defaultTo('serve').check(sql`labels_from in ('serve','api')`))
        .execute();
    },
  },
  // One-time join tokens (only their secret's SHA-256 is kept) and what each remote agent reports.
  '0018_agent_join': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('host_join_tokens')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('host', 'text', (c) => c.notNull())
        .addColumn('secret_sha256', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('used_at', 'text')
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      // JSON: the agent's version, QEMU, accelerator, KVM probe and last load; null for the embedded agent.
      await db.schema.alterTable('hosts').addColumn('agent_report', 'text').execute();
      // When the agent's current link was accepted; null while no link lives.
      await db.schema.alterTable('hosts').addColumn('agent_linked_at', 'text').execute();
    },
  },
  // Home-volume leases: host ids in the site lockspace, a resource slot per home.
  '0019_home_leases': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('lease_host_ids')
        .addColumn('host', 'text', (c) => c.primaryKey())
        .addColumn('host_id', int(db), (c) => c.notNull().unique())
        .execute();
      await db.schema
        .createTable('home_leases')
        .addColumn('user', 'text', (c) => c.primaryKey())
        .addColumn('slot', int(db), (c) => c.notNull().unique())
        .addColumn('resource', 'text', (c) => c.notNull())
        .addColumn('ready', int(db), (c) => c.notNull().defaultTo(0))
        .addColumn('generation', int(db), (c) => c.notNull().defaultTo(0))
        .addColumn('holder_host', 'text')
        .addColumn('holder_desktop', 'text')
        .addColumn('holder_pid', int(db))
        .addColumn('acquired_at', 'text')
        .execute();
    },
  },
  // A VM on a remote host: each change of its desired state takes a generation (a timestamp-based number, so it only grows,
  // even for a VM removed and defined again), and its agent's last report of it.
  '0022_vm_observed': {
    async up(db: Kysely<any>) {
      await db.schema.alterTable('vms').addColumn('generation', 'double precision', (c) => c.notNull().defaultTo(0)).execute();
      await db.schema.alterTable('vms').addColumn('observed', 'text').execute();
    },
  },
  // Why the controller started a VM on another host after its host was lost (restart-on-host-loss), for `vm status`.
  '0023_vm_host_loss': {
    async up(db: Kysely<any>) {
      await db.schema.alterTable('vms').addColumn('host_loss', 'text').execute();
    },
  },
  // A live migration under way (destination, generation, the leases it carries), recorded before it starts: a
  // controller that stopped mid-move finds it when it is back.
  '0025_vm_moving': {
    async up(db: Kysely<any>) {
      await db.schema.alterTable('vms').addColumn('moving', 'text').execute();
    },
  },
  // The restore template a VM on an agent's host is to start as a clone of: sent again with every desired set until it runs.
  '0026_vm_restore_from': {
    async up(db: Kysely<any>) {
      await db.schema.alterTable('vms').addColumn('restore_from', 'text').execute();
    },
  },
  // The VM owner whose start a VM runs under: the host it is placed on checks its files by that owner's rules, at every
  // desired set that may start it (an agent's host as the controller's).
  '0027_vm_confined_by': {
    async up(db: Kysely<any>) {
      await db.schema.alterTable('vms').addColumn('confined_by', 'text').execute();
    },
  },
};
