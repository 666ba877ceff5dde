// The system account QEMU and the native helpers run as when the daemon is root (made by scripts/setup.mjs):
// they never run as root. A daemon that is not root runs them as itself (it cannot switch users).
import { readFileSync } from 'node:fs';
import { ArdesiaError } from '../contract/errors.js';

export const UNPRIVILEGED_ACCOUNT_NAME = 'ardesia-qemu';

export interface UnprivilegedAccount {
  name: string;
  uid: number;
  gid: number;
  /** The supplementary groups, when the uid has no passwd entry to take them from (a VM's own uid, src/vms/vm-uids.ts). */
  groups?: number[];
}

/** The account's uid and primary gid from /etc/passwd text (pure); undefined when absent. */
export function parsePasswdEntry(passwd: string, name: string): UnprivilegedAccount | undefined {
  for (const line of passwd.split('\n')) {
    const fields = line.split(':');
    if (fields[0] !== name || fields.length < 7) continue;
    const uid = Number(fields[2]);
    const gid = Number(fields[3]);
    if (!Number.isInteger(uid) || !Number.isInteger(gid)) return undefined;
    return { name, uid, gid };
  }
  return undefined;
}

/** "uid:gid" for the helpers' ARDESIA_RUN_AS (native/run-as.h). */
export function runAsText(account: UnprivilegedAccount): string {
  return `${account.uid}:${account.gid}`;
}

let cached: UnprivilegedAccount | null | undefined;

/**
 * The account to run QEMU and the helpers as: undefined when the daemon is not root (they already are
 * not); an error when the daemon is root and setup has not made the account, so nothing falls back to root.
 */
export function unprivilegedAccount(): UnprivilegedAccount | undefined {
  if (process.getuid?.() !== 0) return undefined;
  if (cached === undefined) {
    let passwd = '';
    try {
      passwd = readFileSync('/etc/passwd', 'utf8');
    } catch {
      // unreadable: treated as missing below
    }
    cached = parsePasswdEntry(passwd, UNPRIVILEGED_ACCOUNT_NAME) ?? null;
  }
  if (cached === null || cached.uid === 0) {
    cached = undefined;
    throw new ArdesiaError('UNPRIVILEGED_ACCOUNT_MISSING', `the system account ${UNPRIVILEGED_ACCOUNT_NAME} does not exist (or is root); QEMU and the helpers will not run as root`);
  }
  return cached;
}

/** The environment for a native helper (display relay, TFTP sender): it drops to the account itself (native/run-as.h). */
export function helperEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const account = unprivilegedAccount();
  return account ? { ...env, ARDESIA_RUN_AS: runAsText(account) } : env;
}
