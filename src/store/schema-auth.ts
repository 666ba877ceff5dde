// Users, groups, roles, browser sessions and login attempts: this domain's table types (part of the store's Database).
import type { ColumnType } from 'kysely';

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
}

export interface AuthTables {
  users: UserTable;
  groups: GroupTable;
  user_groups: UserGroupTable;
  sessions: SessionTable;
}
