// Unix users and groups from /etc/passwd and /etc/group (pure parsers + a reader), for vm.conf `owner`.
import { readFileSync } from 'node:fs';

export interface UnixAccount {
  name: string;
  uid: number;
  gid: number;
  groups: string[];
}

export function parsePasswd(text: string): Array<{ name: string; uid: number; gid: number }> {
  return text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(':'))
    .filter((f) => f.length >= 4)
    .map((f) => ({ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]) }));
}

export function parseGroup(text: string): Array<{ name: string; gid: number; members: string[] }> {
  return text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(':'))
    .filter((f) => f.length >= 4)
    .map((f) => ({ name: f[0]!, gid: Number(f[2]), members: f[3] ? f[3].split(',').filter(Boolean) : [] }));
}

export function accountFrom(passwd: string, group: string, user: string): UnixAccount | undefined {
  const entry = parsePasswd(passwd).find((p) => p.name === user);
  if (!entry) return undefined;
  const groups = parseGroup(group)
    .filter((g) => g.gid === entry.gid || g.members.includes(user))
    .map((g) => g.name);
  return { ...entry, groups };
}

export function lookupAccount(user: string): UnixAccount | undefined {
  try {
    return accountFrom(readFileSync('/etc/passwd', 'utf8'), readFileSync('/etc/group', 'utf8'), user);
  } catch {
    return undefined;
  }
}
