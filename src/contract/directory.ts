// Directory sources on the wire: the console's table, `directory test` and `directory sync` replies.
import { z } from 'zod';

export interface DirectorySourceView {
  name: string;
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
