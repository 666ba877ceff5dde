// The thin shell over sanlock: the `sanlock` CLI for the lockspace and the on-disk areas (direct init,
// add_lockspace), native/home-lease.c for registering QEMU and acquire/release/inquire on behalf of its pid.
import { execFile, execFileSync } from 'node:child_process';
import { accessSync, chmodSync, chownSync, closeSync, constants, fstatSync, mkdirSync, openSync, readSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { ArdesiaError } from '../../contract/errors.js';
import { processAlive } from '../../lib/process-alive.js';
import { LEASE_ALIGN, type LeaseFiles, type LeaseResource, acquireError, areaInitialised, DELTA_MAGIC, daemonError, joinWithinSeconds, releaseOutcome, lockspaceText, PAXOS_MAGIC, parseHelperFailure, parseHostStates, parseInquire, parseLeaderOwner, registerArgs, resourceText, SANLOCK_RV } from './layout.js';

const run = promisify(execFile);

/** Where setup builds the helper (git-ignored); ARDESIA_HOME_LEASE overrides. */
export const HOME_LEASE_HELPER_PATH = join(import.meta.dirname, '..', '..', '..', '..', '.cache', 'native', 'home-lease');
const SANLOCK = '/usr/sbin/sanlock';

export function homeLeaseHelper(env: NodeJS.ProcessEnv = process.env): string {
  const path = env.ARDESIA_HOME_LEASE || HOME_LEASE_HELPER_PATH;
  try {
    accessSync(path, constants.X_OK);
    return path;
  } catch {
    throw new ArdesiaError('LEASE_DAEMON_UNAVAILABLE', `${path} is missing: run \`node scripts/setup.mjs\` to build it from native/home-lease.c (it needs libsanlock-dev)`);
  }
}

/** Result of one helper or CLI run: 0 on success, else sanlock's return value. */
type Rv = { rv: number; stdout: string };

export class SanlockClient {
  readonly helper: string;

  /** env: the daemon's own, with SANLOCK_RUN_DIR when this host's sanlock daemon has its own run folder. */
  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {
    this.helper = homeLeaseHelper(env);
  }

  /** The command prefix that makes the next program (QEMU) a registered sanlock client with the same pid, holding
   *  `acquire` before it runs (refused: exit status EXIT_REFUSED_BEFORE_EXEC, the program never runs). */
  registerPrefix(acquire: readonly LeaseResource[] = []): string[] {
    return registerArgs(this.helper, acquire);
  }

  private async helperRun(args: string[]): Promise<Rv> {
    try {
      const { stdout } = await run(this.helper, args, { env: this.env, timeout: 30_000 });
      return { rv: 0, stdout };
    } catch (err) {
      const e = err as { stdout?: string; killed?: boolean; message: string };
      const rv = parseHelperFailure(e.stdout ?? '');
      if (rv === undefined) throw new ArdesiaError('HOME_LEASE_FAILED', `${args[0]} through ${this.helper} failed: ${e.killed ? 'no answer in 30 s' : e.message}`);
      return { rv, stdout: e.stdout ?? '' };
    }
  }

  /** 0 when `pid` now holds `res`; otherwise sanlock's refusal (never waits for a quiet holder's host). */
  async acquire(pid: number, res: LeaseResource): Promise<number> {
    return (await this.helperRun(['acquire', String(pid), res.lockspace, res.name, res.path, String(res.offset)])).rv;
  }

  async release(pid: number, res: LeaseResource): Promise<number> {
    return (await this.helperRun(['release', String(pid), res.lockspace, res.name, res.path, String(res.offset)])).rv;
  }

  /** The resources `pid` holds; [] when it holds none or is not a registered client. */
  async inquire(pid: number): Promise<ReturnType<typeof parseInquire>> {
    const r = await this.helperRun(['inquire', String(pid)]);
    if (r.rv === SANLOCK_RV.ESRCH) return [];
    if (r.rv !== 0) throw daemonError(r.rv, `asking sanlock what pid ${pid} holds`);
    return parseInquire(r.stdout);
  }

  private async cli(args: string[], timeoutMs = 60_000): Promise<{ code: number; out: string }> {
    try {
      const { stdout, stderr } = await run(SANLOCK, args, { env: this.env, timeout: timeoutMs });
      return { code: 0, out: stdout + stderr };
    } catch (err) {
      const e = err as { code?: number | string; stdout?: string; stderr?: string; message: string };
      if (e.code === 'ENOENT') throw new ArdesiaError('LEASE_DAEMON_UNAVAILABLE', `${SANLOCK} is missing: install Debian's sanlock (node scripts/setup.mjs does)`);
      return { code: typeof e.code === 'number' ? e.code : -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` || e.message };
    }
  }

  /** Each host id's delta-lease state in `lockspace` as this host's sanlock daemon sees it (LIVE, FAIL, DEAD, …). */
  async hostStates(lockspace: string): Promise<Map<number, string>> {
    const r = await this.cli(['client', 'gets', '-h', '1'], 30_000);
    if (r.code !== 0) throw daemonError(SANLOCK_RV.ECONNREFUSED, `asking sanlock for the hosts of ${lockspace}: ${r.out.trim()}`);
    return parseHostStates(r.out, lockspace);
  }

  /** Joins the site lockspace as `hostId` (4–5 s; sanlock's own wait, up to host_dead_seconds for a host id whose last
   *  holder died uncleanly), unless this host's daemon has joined already; a join the daemon has under way (an earlier
   *  request whose client gave up) is waited for. */
  async joinLockspace(files: LeaseFiles, hostId: number, ioTimeoutS: number): Promise<void> {
    const ls = lockspaceText(files, hostId);
    const deadline = Date.now() + joinWithinSeconds(ioTimeoutS) * 1000;
    const inq = async () => {
      const r = await this.cli(['client', 'inq_lockspace', '-s', ls], 30_000);
      return r.code === 0 ? 0 : Number(/inq_lockspace done (-?\d+)/.exec(r.out)?.[1] ?? SANLOCK_RV.ECONNREFUSED);
    };
    if ((await inq()) === 0) return;
    const r = await this.cli(['client', 'add_lockspace', '-s', ls, '-o', String(ioTimeoutS)], joinWithinSeconds(ioTimeoutS) * 1000);
    if (r.code === 0 && !/add_lockspace\w* done -?[1-9]/.test(r.out)) return;
    let rv = Number(/done (-?\d+)/.exec(r.out)?.[1] ?? SANLOCK_RV.ECONNREFUSED);
    while (rv === SANLOCK_RV.EINPROGRESS && Date.now() < deadline) {
      await sleep(1000);
      rv = await inq();
    }
    if (rv === 0 || rv === SANLOCK_RV.EEXIST) return;
    throw daemonError(rv, `joining the lockspace ${ls}`);
  }

  /** The host id that took the resource last, from its leader record on the shared storage (`sanlock direct read_leader`: no daemon needed). */
  async leaderOwner(res: LeaseResource): Promise<number> {
    const r = await this.cli(['direct', 'read_leader', '-r', resourceText(res), '-Z', '512', '-A', '1M'], 30_000);
    const owner = r.code === 0 ? parseLeaderOwner(r.out) : undefined;
    if (owner === undefined) throw new ArdesiaError('HOME_LEASE_FAILED', `reading the sanlock lease ${res.name} failed: ${r.out.trim()}`);
    return owner;
  }

  /** Initialises an area (`sanlock direct init`) unless it already carries sanlock's magic; the file grows to hold it. */
  async initArea(kind: 'lockspace' | 'resource', path: string, what: string, offset: number, ioTimeoutS: number): Promise<void> {
    ensureLeaseFile(path, offset + LEASE_ALIGN);
    if (areaInitialised(readHead(path, offset), kind === 'lockspace' ? DELTA_MAGIC : PAXOS_MAGIC)) return;
    const args = ['direct', 'init', kind === 'lockspace' ? '-s' : '-r', what, '-Z', '512', '-A', '1M', ...(kind === 'lockspace' ? ['-o', String(ioTimeoutS)] : [])];
    const r = await this.cli(args);
    if (r.code !== 0 || !/init done 0/.test(r.out)) throw new ArdesiaError('HOME_LEASE_FAILED', `sanlock direct init ${what} failed: ${r.out.trim()}`);
  }

  /** The host that creates the lockspace file initialises it; the others wait for its magic (taking over after a minute,
   *  from a creator that died before): a second init would wipe the delta leases of hosts that already joined. */
  async initLockspace(files: LeaseFiles, ioTimeoutS: number): Promise<void> {
    mkdirSync(files.dir, { recursive: true, mode: 0o770 });
    let created = false;
    try {
      closeSync(openSync(files.lockspace, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o660));
      created = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    for (let waited = 0; !created && waited < 60_000 && !areaInitialised(readHead(files.lockspace, 0), DELTA_MAGIC); waited += 100) await sleep(100);
    return this.initArea('lockspace', files.lockspace, lockspaceText(files, 0), 0, ioTimeoutS);
  }

  initResource(res: LeaseResource): Promise<void> {
    return this.initArea('resource', res.path, resourceText(res), res.offset, 0);
  }
}

/** The lease folder and file, owned by sanlock:sanlock 0660 (the daemon runs as that user and opens them O_DIRECT). */
function ensureLeaseFile(path: string, minBytes: number): void {
  const dir = join(path, '..');
  mkdirSync(dir, { recursive: true, mode: 0o770 });
  const owner = sanlockOwner();
  const fd = openSync(path, constants.O_CREAT | constants.O_WRONLY, 0o660);
  try {
    // Grown by writing the last byte of the new area (ours): a truncate could shrink what another host just grew.
    if (fstatSync(fd).size < minBytes) writeSync(fd, Buffer.alloc(1), 0, 1, minBytes - 1);
  } finally {
    closeSync(fd);
  }
  // The umask would leave sanlock's group without write; another host's file is left to its owner.
  if (process.getuid?.() === 0 || statSync(path).uid === process.getuid?.()) chmodSync(path, 0o660);
  if (owner && process.getuid?.() === 0) {
    chownSync(dir, owner.uid, owner.gid);
    chownSync(path, owner.uid, owner.gid);
  }
}

function readHead(path: string, offset: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(4);
    readSync(fd, buf, 0, 4, offset);
    return buf;
  } finally {
    closeSync(fd);
  }
}

let owner: { uid: number; gid: number } | null | undefined;
/** The sanlock account Debian's package creates; null when it does not exist (read once per daemon). */
function sanlockOwner(): { uid: number; gid: number } | null {
  if (owner !== undefined) return owner;
  try {
    const [, , uid, gid] = execFileSync('getent', ['passwd', 'sanlock'], { encoding: 'utf8' }).trim().split(':');
    owner = uid && gid ? { uid: Number(uid), gid: Number(gid) } : null;
  } catch {
    owner = null;
  }
  return owner;
}

/** A release sanlock answers busy for a live holder is tried again this many times, this far apart. */
const RELEASE_ATTEMPTS = 5;
const RELEASE_RETRY_MS = 200;

/** `user`'s home lease acquired for the QEMU `pid` on this host's sanlock daemon; its refusal as an ArdesiaError
 *  (HOME_LEASE_HELD, LEASE_DAEMON_UNAVAILABLE, …). Held by that very QEMU already (an attach retried) is fine. */
export async function leaseAcquireFor(sanlock: SanlockClient, pid: number, res: LeaseResource, user: string): Promise<'acquired' | 'own-already'> {
  const rv = await sanlock.acquire(pid, res);
  if (rv === 0) return 'acquired';
  // EEXIST: held on this host already; fine when by this very QEMU, refused otherwise.
  if (rv === SANLOCK_RV.EEXIST && (await sanlock.inquire(pid)).some((r) => r.name === res.name && r.offset === res.offset)) return 'own-already';
  throw acquireError(rv, user);
}

/** The lease of the QEMU `pid` released on this host's sanlock daemon (already free when that QEMU has exited). */
export async function leaseReleaseFor(sanlock: SanlockClient, pid: number, res: LeaseResource, user: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const rv = await sanlock.release(pid, res);
    const outcome = releaseOutcome(rv, processAlive(pid));
    if (outcome === 'released') return;
    if (outcome === 'failed' || attempt >= RELEASE_ATTEMPTS) throw daemonError(rv, `releasing the home lease of ${user}`);
    await sleep(RELEASE_RETRY_MS);
  }
}

/** How often a lease another host is giving back this moment is asked for again (a live migration's hand-over). */
const TAKE_OVER_RETRY_MS = 250;

/** The lease taken for `pid` while another host is giving it back (a migration's source, once its state left):
 *  HOME_LEASE_HELD is asked again until `withinMs`; any other refusal, or the deadline, is the answer. */
export async function leaseTakeOver(sanlock: SanlockClient, pid: number, res: LeaseResource, user: string, withinMs: number): Promise<'acquired' | 'own-already'> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    try {
      return await leaseAcquireFor(sanlock, pid, res, user);
    } catch (err) {
      if (!(err instanceof ArdesiaError && err.code === 'HOME_LEASE_HELD') || Date.now() + TAKE_OVER_RETRY_MS > deadline) throw err;
      await sleep(TAKE_OVER_RETRY_MS);
    }
  }
}
