// Users, groups, roles, browser sessions and login attempts: this domain's schema migrations (merged with the others in src/store/db.ts; names sort globally).
import { type Kysely, type Migration, sql } from 'kysely';
import { int } from './dialect.js';

export const AUTH_MIGRATIONS: Record<string, Migration> = {
  '0003_auth': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('users')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('full_name', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('password_hash', 'text', (c) => c.notNull())
        .addColumn('roles', 'text', (c) => c.notNull())
        .addColumn('disabled', int(db), (c) => c.notNull().defaultTo(0))
        .addColumn('keyboard_layout', 'text', (c) => c.notNull().defaultTo('us'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('last_login_at', 'text')
        .execute();
      await db.schema
        .createTable('groups')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('user_groups')
        .addColumn('user', 'text', (c) => c.notNull().references('users.name').onDelete('cascade'))
        .addColumn('group', 'text', (c) => c.notNull().references('groups.name').onDelete('cascade'))
        .addPrimaryKeyConstraint('user_groups_pk', ['user', 'group'])
        .execute();
      await db.schema
        .createTable('sessions')
        .addColumn('id_sha256', 'text', (c) => c.primaryKey())
        .addColumn('user', 'text', (c) => c.notNull().references('users.name').onDelete('cascade'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('last_seen_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('address', 'text', (c) => c.notNull())
        .addColumn('user_agent', 'text')
        .execute();
      await db.schema.createIndex('sessions_user').on('sessions').column('user').execute();
      // Who changed what from where; the append-only triggers on audit stay as they are.
      await sql`alter table audit add column address text`.execute(db);
      // Tokens issued by a login carry a label; the root and vm-owner file tokens have none.
      await sql`alter table api_tokens add column label text`.execute(db);
    },
  },
  // wt-logins: tokens say whose they are (root, a web user's login, a unix account's file) and when they end.
  '0009_token_kind': {
    async up(db: Kysely<any>) {
      await sql`alter table api_tokens add column kind text not null default 'user'`.execute(db);
      await sql`alter table api_tokens add column expires_at text`.execute(db);
      await sql`update api_tokens set kind = case when principal = 'root' then 'root' else 'unix' end where label is null`.execute(db);
      await db.schema.createIndex('api_tokens_principal').on('api_tokens').columns(['kind', 'principal']).execute();
    },
  },
  // A user made by a directory login is bound to its source and stable id (objectGUID / entryUUID), not to its name.
  '0011_directory_users': {
    async up(db: Kysely<any>) {
      await sql`alter table users add column directory_source text`.execute(db);
      await sql`alter table users add column directory_id text`.execute(db);
      await sql`alter table users add column directory_login text`.execute(db);
      await db.schema.createIndex('users_directory_identity').on('users').columns(['directory_source', 'directory_id']).unique().execute();
    },
  },
  // Two-factor sign-in (a user's TOTP secret, pending enrolment, last used step; hashed recovery codes) and site settings.
  '0012_mfa': {
    async up(db: Kysely<any>) {
      await sql`alter table users add column mfa_secret text`.execute(db);
      await sql`alter table users add column mfa_pending_secret text`.execute(db);
      await sql.raw(`alter table users add column mfa_last_step ${int(db)}`).execute(db);
      await db.schema
        .createTable('mfa_recovery_codes')
        .addColumn('user', 'text', (c) => c.notNull().references('users.name').onDelete('cascade'))
        .addColumn('code_sha256', 'text', (c) => c.notNull())
        .addColumn('used_at', 'text')
        .addPrimaryKeyConstraint('mfa_recovery_codes_pk', ['user', 'code_sha256'])
        .execute();
      await db.schema
        .createTable('site_settings')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .execute();
    },
  },
  // Kiosk accounts (no password login) named by thin clients; a kiosk session is bound to its thin client's MAC.
  '0013_kiosk': {
    async up(db: Kysely<any>) {
      await sql.raw(`alter table users add column kiosk ${int(db)} not null default 0`).execute(db);
      await sql`alter table thin_clients add column kiosk_user text`.execute(db);
      await sql`alter table sessions add column kiosk_mac text`.execute(db);
    },
  },
  // wt-dirconsole: directory sources made in the console, shared by every host of a cluster through the store.
  '0014_directory_sources': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('directory_sources')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('config', 'text', (c) => c.notNull())
        .addColumn('bind_secret', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
    },
  },
};
