// Home-volume leases on shared storage, the pure part: where the site's lockspace and each home's resource
// lie in DATA_DIR/leases, which host id and slot are free, and what a sanlock return value means to a user.
import { join } from 'node:path';
import { ArdesiaError } from '../../contract/errors.js';

/** The site's one lockspace (sanlock names are at most 47 bytes). */
export const LOCKSPACE = 'ardesia';
/** sanlock's default alignment with 512-byte sectors: one resource (or the lockspace) per MiB. */
export const LEASE_ALIGN = 1024 * 1024;
/** sanlock host ids are 1..2000 with 1 MiB alignment and 512-byte sectors. */
export const MAX_HOST_ID = 2000;
export const DEFAULT_IO_TIMEOUT_S = 10;
/** sanlock's resource and lockspace names hold 47 bytes and a terminating zero. */
const NAME_MAX = 47;

export interface LeaseFiles {
  dir: string;
  /** The lockspace's delta leases, one 512-byte sector per host id. */
  lockspace: string;
  /** The homes' resources, one per MiB at the home's slot. */
  homes: string;
}

export function leaseFiles(dataDir: string): LeaseFiles {
  return leaseFilesIn(join(dataDir, 'leases'));
}

/** The lease files in their folder (an agent's host is told the folder on the shared storage). */
export function leaseFilesIn(dir: string): LeaseFiles {
  return { dir, lockspace: join(dir, 'lockspace'), homes: join(dir, 'homes') };
}

/** A resource as sanlock names it: lockspace, name, file and offset. */
export interface LeaseResource {
  lockspace: string;
  name: string;
  path: string;
  offset: number;
}

/** The resource of the home in `slot` (0, 1, …): name from the slot (unique) and the user (readable), within sanlock's 47 bytes. */
export function homeResource(files: LeaseFiles, slot: number, user: string): LeaseResource {
  if (!Number.isInteger(slot) || slot < 0) throw new RangeError(`slot ${slot}`);
  return { lockspace: LOCKSPACE, name: `home${slot}-${user}`.slice(0, NAME_MAX), path: files.homes, offset: slot * LEASE_ALIGN };
}

/** sanlock's text for a resource (`sanlock client`, `direct init -r`): LS:NAME:PATH:OFFSET. */
export function resourceText(r: LeaseResource): string {
  return `${r.lockspace}:${r.name}:${r.path}:${r.offset}`;
}

export function lockspaceText(files: LeaseFiles, hostId: number): string {
  return `${LOCKSPACE}:${hostId}:${files.lockspace}:0`;
}

/** The smallest number from `first` up that `used` does not hold; undefined past `max`. */
export function smallestFree(used: readonly number[], first: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const taken = new Set(used);
  for (let n = first; n <= max; n++) if (!taken.has(n)) return n;
  return undefined;
}

/** After how long without renewal other hosts may take a dead host's leases (sanlock: 8 × io timeout + 60 s). */
export function hostDeadSeconds(ioTimeoutS: number): number {
  return 8 * ioTimeoutS + 60;
}

/** The longest a lockspace join may take: a host id whose last holder died uncleanly is free only once its delta lease
 *  is that old (measured here: 81 s with an io timeout of 2 s), plus a margin for the join's own renewals. */
export function joinWithinSeconds(ioTimeoutS: number): number {
  return hostDeadSeconds(ioTimeoutS) + 30;
}

/** The resources `sanlock_inquire` reports: "LS:NAME:PATH:OFFSET:LVER" joined by spaces (empty when none). */
export function parseInquire(state: string): Array<LeaseResource & { lver: number }> {
  return state
    .trim()
    .split(/\s+/)
    .filter((s) => s !== '')
    .map((item) => {
      const parts = item.split(':');
      const lver = Number(parts.pop());
      const offset = Number(parts.pop());
      const [lockspace = '', name = '', ...path] = parts;
      return { lockspace, name, path: path.join(':'), offset, lver };
    });
}

/** The sanlock return values this code reacts to (sanlock_rv.h and negative errnos). */
export const SANLOCK_RV = {
  EPERM: -1,
  ENOENT: -2,
  ESRCH: -3,
  EBUSY: -16,
  EEXIST: -17,
  EINPROGRESS: -115,
  ECONNREFUSED: -111,
  ACQUIRE_IDLIVE: -243,
  ACQUIRE_OWNED: -244,
  ACQUIRE_OTHER: -245,
  ACQUIRE_OWNED_RETRY: -247,
  LEADER_MAGIC: -223,
  ACQUIRE_LOCKSPACE: -241,
} as const;

/** What a release's answer means. ESRCH: the QEMU is gone and sanlock freed its leases with it; ENOENT: it did not
 *  hold this one. EBUSY: sanlock is busy with that client — cleaning up after its exit (gone, sanlock frees the lease
 *  by itself) or, for a QEMU still alive, in another request (retry). */
export function releaseOutcome(rv: number, holderAlive: boolean): 'released' | 'retry' | 'failed' {
  if (rv === 0 || rv === SANLOCK_RV.ESRCH || rv === SANLOCK_RV.ENOENT) return 'released';
  if (rv === SANLOCK_RV.EBUSY) return holderAlive ? 'retry' : 'released';
  return 'failed';
}

const HELD = new Set<number>([SANLOCK_RV.ACQUIRE_IDLIVE, SANLOCK_RV.ACQUIRE_OWNED, SANLOCK_RV.ACQUIRE_OTHER, SANLOCK_RV.ACQUIRE_OWNED_RETRY]);

/** Whether an acquire failed because another host (live, or not yet dead long enough) holds the lease. */
export function heldElsewhere(rv: number): boolean {
  return HELD.has(rv);
}

/** The registry error for a failed acquire of `user`'s home lease. */
export function acquireError(rv: number, user: string): ArdesiaError {
  if (heldElsewhere(rv)) {
    const why = rv === SANLOCK_RV.ACQUIRE_OWNED_RETRY ? 'the server it ran on stopped answering and its lease has not expired yet' : 'that desktop is still ending';
    return new ArdesiaError('HOME_LEASE_HELD', `the home volume of ${user} is still in use by a desktop on another server: ${why} (HOME_LEASE_HELD, sanlock ${rv})`);
  }
  if (rv === SANLOCK_RV.EEXIST) return new ArdesiaError('HOME_LEASE_HELD', `the home volume of ${user} is already leased by this desktop's QEMU (sanlock ${rv})`);
  return daemonError(rv, `acquiring the home lease of ${user}`);
}

/** The registry error for any other failed sanlock request. */
export function daemonError(rv: number, doing: string): ArdesiaError {
  if (rv === SANLOCK_RV.ECONNREFUSED || rv === SANLOCK_RV.ENOENT) return new ArdesiaError('LEASE_DAEMON_UNAVAILABLE', `${doing}: the sanlock daemon is not running on this host (sanlock ${rv})`);
  if (rv === SANLOCK_RV.ACQUIRE_LOCKSPACE) return new ArdesiaError('LEASE_DAEMON_UNAVAILABLE', `${doing}: this host has not joined the lockspace ${LOCKSPACE} (sanlock ${rv})`);
  return new ArdesiaError('HOME_LEASE_FAILED', `${doing}: refused (sanlock ${rv})`);
}

/** The "sanlock RV" line native/home-lease.c prints on failure; undefined when the output is not one. */
export function parseHelperFailure(stdout: string): number | undefined {
  const m = /^sanlock (-?\d+)$/m.exec(stdout);
  return m ? Number(m[1]) : undefined;
}

/** native/home-lease.c register's exit status when sanlock refused it before the exec: the program never ran. */
export const EXIT_REFUSED_BEFORE_EXEC = 3;

/** The launch prefix `helper register [--acquire RESOURCE]... --`: the next program (QEMU) is a sanlock client under
 *  its own pid, holding `acquire` from before it runs (so before it opens its disks). */
export function registerArgs(helper: string, acquire: readonly LeaseResource[]): string[] {
  return [helper, 'register', ...acquire.flatMap((r) => ['--acquire', resourceText(r)]), '--'];
}

/** sanlock's refusal of a launch through `register`, from how the launch ended ("exit code N") and what it printed
 *  (QEMU's log); undefined when the launch failed for another reason (QEMU's own). */
export function registerRefusal(exit: string, log: string): number | undefined {
  return exit === `exit code ${EXIT_REFUSED_BEFORE_EXEC}` ? parseHelperFailure(log) : undefined;
}

/** The leader's magic numbers at the start of an initialised lockspace (delta) or resource (paxos) area. */
export const DELTA_MAGIC = 0x12212010;
export const PAXOS_MAGIC = 0x06152010;

/** Whether the area starting with `head` (its first 4 bytes, little-endian as sanlock writes them) is initialised. */
export function areaInitialised(head: Buffer, magic: number): boolean {
  return head.length >= 4 && head.readUInt32LE(0) === magic;
}

/**
 * The host states `sanlock client gets -h 1` prints for `lockspace`: lines "s NAME:ID:PATH:OFFSET" open a lockspace,
 * lines "h ID gen G timestamp T STATE" under it give each host id's delta lease (LIVE, FAIL, DEAD, FREE, UNKNOWN).
 */
export function parseHostStates(out: string, lockspace: string): Map<number, string> {
  const states = new Map<number, string>();
  let inside = false;
  for (const line of out.split('\n')) {
    const s = /^s ([^:\s]+):/.exec(line);
    if (s) {
      inside = s[1] === lockspace;
      continue;
    }
    const h = /^h (\d+) gen \d+ timestamp \d+ (\w+)/.exec(line);
    if (h && inside) states.set(Number(h[1]), h[2]!);
  }
  return states;
}

/** The host id that took a resource last, from its leader record as `sanlock direct read_leader` prints it (kept when
 *  the lease is released: the timestamp alone goes to 0); 0 for a lease never taken. Undefined when the read failed. */
export function parseLeaderOwner(out: string): number | undefined {
  const m = /^owner_id (\d+)$/m.exec(out);
  return /read_leader done 0/.test(out) && m ? Number(m[1]) : undefined;
}
