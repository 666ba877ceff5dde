// Directory sources on the wire: the console's table, `directory test` and `directory sync` replies.
import { z } from 'zod';

/** A source's settings as the console edits them (the --directory file's fields; README "Directory logins"). */
export interface DirectorySourceSettings {
  name: string;
  kind: 'ldap' | 'ad';
  urls: string[];
  startTls: boolean;
  caFile?: string;
  tlsServerName?: string;
  allowInsecure: boolean;
  /** The password only when it is a file:/env: reference; a literal one is never shown. */
  bind?: { dn: string; password?: string };
  userBase: string;
  groupBase: string;
  loginAttribute?: 'uid' | 'sAMAccountName' | 'userPrincipalName' | 'cn' | 'mail';
  realms: string[];
  userFilter?: string;
  groups: Record<string, string[]>;
  adminGroups: string[];
  keyboardLayoutAttribute?: string;
  timeoutMs: number;
}

export interface DirectorySourceView {
  name: string;
  /** file: from the daemon's --directory file, read-only here; console: made in the console or the API. */
  origin: 'file' | 'console';
  /** The --directory file a file source comes from. */
  file: string | null;
  /** set: a password kept in the store (never shown); reference: a file:/env: reference (shown); none: anonymous search. */
  bindPassword: 'set' | 'reference' | 'none';
  /** The source's settings as the form edits them; a stored password is never in them. */
  settings: DirectorySourceSettings;
  kind: 'ldap' | 'ad';
  urls: string[];
  tls: 'ldaps' | 'starttls' | 'none';
  /** null until the first contact. */
  reachable: boolean | null;
  checkedAt: string | null;
  lastSyncAt: string | null;
  lastSyncError: string | null;
  /** User entries the last sync counted in the source's user base. */
  usersFound: number | null;
  /** Ardesia users this source made. */
  ardesiaUsers: number;
}

export interface DirectoryTestResult {
  source: string;
  dn: string;
  stableId: string;
  login: string;
  displayName: string;
  /** Every directory group, nested ones included. */
  directoryGroups: string[];
  /** The Ardesia groups and admin role they map to. */
  groups: string[];
  admin: boolean;
  /** The Ardesia user the login would be (null: the name cannot be one). */
  ardesiaUser: string | null;
  existing: boolean;
  /** Why a login would be refused even with the right password. */
  refusal: 'disabled' | 'expired' | 'must-change' | 'locked' | 'name-taken' | null;
}

export interface DirectorySyncResult {
  source: string;
  ok: boolean;
  checked: number;
  updated: number;
  /** Users whose sessions and tokens ended (removed or refused in the directory). */
  ended: string[];
  error: string | null;
}

export const DirectoryTestBody = z.object({ user: z.string().min(1).max(256) }).strict();

/** The console's "Test connection": a bind with candidate settings, before they are saved. */
export interface DirectoryConnectionResult {
  ok: boolean;
  /** What failed: no server answered, TLS (certificate, name), the bind account was refused, or the search under the user base. */
  problem: 'unreachable' | 'tls' | 'bind-refused' | 'search' | null;
  code: string | null;
  message: string;
  hint: string | null;
  /** User entries under the user base, when the bind worked. */
  usersFound: number | null;
}
