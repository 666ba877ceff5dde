// The API's unix socket permissions: root-only by default; with a group, its members may connect too
// (the socket grants nothing by itself: every request still needs a token, see src/auth/principal.ts).
import { chmodSync, chownSync, readFileSync } from 'node:fs';
import { ArdesiaError } from '../contract/errors.js';
import { parseGroup } from '../auth/unix-accounts.js';

/** The gid of a group named in /etc/group (or given as a number); SOCKET_GROUP_UNKNOWN otherwise. */
export function socketGroupId(group: string, groupFile = '/etc/group'): number {
  if (/^\d+$/.test(group)) return Number(group);
  const found = parseGroup(readFileSync(groupFile, 'utf8')).find((g) => g.name === group);
  if (!found) throw new ArdesiaError('SOCKET_GROUP_UNKNOWN', `there is no group ${group} on this host`);
  return found.gid;
}

/** 0600 root-only, or 0660 owned by the group `gid`. */
export function apiSocketPermit(path: string, gid: number | undefined): void {
  if (gid === undefined) return chmodSync(path, 0o600);
  chownSync(path, process.getuid?.() ?? 0, gid);
  chmodSync(path, 0o660);
}
