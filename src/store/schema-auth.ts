// Users, groups, roles, browser sessions and login attempts: this domain's table types (part of the store's Database).
import type { ColumnType, Generated } from 'kysely';

export interface UserTable {
  name: string;
  full_name: string;
  /** argon2id PHC string ($argon2id$v=19$m=…,p=…,t=…$salt$hash). */
  password_hash: string;
  /** JSON array of roles, e.g. ["user"] or ["admin","user"]. */
  roles: string;
  disabled: number;
  keyboard_layout: string;
  created_at: ColumnType<string, string, never>;
  last_login_at: string | null;
  /** The directory source that made this user (null: a local account) and the entry's stable id there. */
  directory_source: string | null;
  directory_id: string | null;
  /** The login name the directory last gave (it may differ from `name` after a rename there). */
  directory_login: string | null;
  /** The TOTP secret (base32) once enrolment is confirmed; null = no two-factor sign-in. */
  mfa_secret: string | null;
  /** A secret shown for enrolment, not yet confirmed with a code. */
  mfa_pending_secret: string | null;
  /** The last TOTP step accepted: a code of this step or an older one is refused (no replay). */
  mfa_last_step: number | null;
  /** 1 = a kiosk account: no password login, never an administrator; opened by the thin clients that name it. */
  kiosk: Generated<number>;
}

export interface GroupTable {
  name: string;
  created_at: ColumnType<string, string, never>;
}

export interface UserGroupTable {
  user: string;
  group: string;
}

/** A browser session: the cookie holds a random id, the store only its sha256. */
export interface SessionTable {
  id_sha256: string;
  user: string;
  created_at: string;
  last_seen_at: string;
  /** The absolute end; the idle end is last_seen_at + the idle limit. */
  expires_at: string;
  address: string;
  user_agent: string | null;
  /** A kiosk session: the MAC of the thin client it was opened for (it may only open that client's desktop). */
  kiosk_mac: string | null;
}

/** One recovery code of a user, stored as sha256; used_at set when it is spent. */
export interface MfaRecoveryCodeTable {
  user: string;
  code_sha256: string;
  used_at: string | null;
}

/** Site-wide settings an administrator changes at run time (e.g. admins-must-use-two-factor), as JSON text. */
export interface SiteSettingTable {
  key: string;
  value: string;
}

/** A directory source made in the console (sources of the --directory file are not stored). */
export interface DirectorySourceTable {
  name: string;
  /** The source's settings as JSON (SourceSchema's output), its bind password only when a file:/env: reference. */
  config: string;
  /** A literal bind password typed in the console: never returned by any route. */
  bind_secret: string | null;
  created_at: string;
  updated_at: string;
}

export interface AuthTables {
  users: UserTable;
  groups: GroupTable;
  user_groups: UserGroupTable;
  sessions: SessionTable;
  mfa_recovery_codes: MfaRecoveryCodeTable;
  site_settings: SiteSettingTable;
  directory_sources: DirectorySourceTable;
}
