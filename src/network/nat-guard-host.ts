// The NAT guard on this host: installed (replaced) when the daemon starts, checked before each NAT VM starts,
// removed when the daemon stops with no VM left running (QEMUs that outlive the daemon keep their guard); at the start,
// the tables other daemons left when killed (their owner gone, no QEMU of theirs left) are removed too.
// Replacing the table empties the allow set: live allow-list VMs are refused everything until reconcile adds them back.
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type { Logger } from 'pino';
import { ArdesiaError } from '../contract/errors.js';
import type { VmSpec } from '../contract/vm.js';
import { type UnprivilegedAccount, unprivilegedAccount } from '../lib/unprivileged-account.js';
import { type FoundGuard, guardedFolderOf, guardOwnerOf, type GuardOwner, NAT_GUARD_TABLE_PREFIX, processStartOf, staleGuards, allowListNics, groupIdOf, NAT_HOST_GROUP_NAME, natAllowElements, natGuardRemoval, natGuardTable, natGuardRuleset, openNatNics, resolversOf, type UidRange, vmAllowList, wantsHostAccess } from './nat-guard.js';

function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
}

function nftRun(args: string[], script?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('nft', args, { timeout: 30_000 }, (err, out, stderr) => {
      if (!err) return resolve(String(out));
      const e = err as NodeJS.ErrnoException;
      reject(new Error(e.code === 'ENOENT' ? 'nft is not installed' : String(stderr).trim() || e.message));
    });
    // A list does not read its input: a write to it would fail with EPIPE; nft's exit status says how it went.
    child.stdin!.on('error', () => undefined);
    if (script === undefined) child.stdin!.end();
    else child.stdin!.end(script);
  });
}

function nft(script: string): Promise<void> {
  return nftRun(['-f', '-'], script).then(() => undefined);
}

/** The start time of process `pid`, or undefined when it is gone. */
function processStart(pid: number): number | undefined {
  return processStartOf(readOr(`/proc/${pid}/stat`, ''));
}

/** The tables of the folders whose QEMUs run in this network namespace (a namespace has tables of its own). */
function guardedTables(): Set<string> {
  const ownNet = readlinkOr('/proc/self/ns/net');
  const tables = new Set<string>();
  for (const pid of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    const argv = readOr(`/proc/${pid}/cmdline`, '').split('\0');
    const folder = guardedFolderOf(argv);
    if (folder !== undefined && /qemu-system/.test(argv[0] ?? '') && readlinkOr(`/proc/${pid}/ns/net`) === ownNet) tables.add(natGuardTable(folder));
  }
  return tables;
}

function readlinkOr(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

/** This process as the owner recorded in its table. */
function thisOwner(): GuardOwner {
  const start = processStart(process.pid);
  if (start === undefined) throw new Error('/proc/self/stat is unreadable');
  return { pid: process.pid, start };
}

const ALLOW_LIST_HINT = 'Run the daemon as root with nftables installed (`node scripts/setup.mjs`): a NAT allow-list is enforced only by the NAT guard\'s nftables rules (its log says why they failed), so --allow-unguarded-nat does not start such a VM. Or give the VM unrestricted NAT, or a bridge.';

export interface NatGuardOptions {
  /** serve --allow-unguarded-nat: NAT VMs start even when the guard could not be installed (logged at each start). */
  allowUnguarded: boolean;
  /** The uids of allow-list VMs (serve --vm-uid-base): the table filters each one to its own destinations. */
  vmUids: UidRange;
}

export class NatGuard {
  private installed = false;
  private failure: string | undefined;
  private hostGid: number | undefined;
  private readonly table: string;
  /** The allow set's elements added per uid, so that exactly those are deleted. */
  private readonly added = new Map<number, string>();
  private queue: Promise<void> = Promise.resolve();

  constructor(
    dataDir: string,
    private readonly opts: NatGuardOptions,
    private readonly log: Logger,
  ) {
    this.table = natGuardTable(dataDir);
  }

  /** Installs (or replaces) the table; a failure is kept and refuses NAT VMs later, it does not stop the daemon. */
  async install(): Promise<void> {
    let account: UnprivilegedAccount | undefined;
    try {
      account = unprivilegedAccount();
    } catch (err) {
      this.failure = (err as Error).message; // every VM start fails on the missing account anyway
      return;
    }
    if (!account) {
      this.log.warn(`the daemon is not root, so QEMU runs as the daemon's user and the NAT guard is not installed: a guest on user-mode NAT reaches this host's loopback and local addresses (10.0.2.2) as that user; run the daemon as root to confine it (docs/security/60-guest-nat.md)`);
      return;
    }
    this.hostGid = groupIdOf(readOr('/etc/group', ''), NAT_HOST_GROUP_NAME);
    const resolvers = resolversOf(readOr('/etc/resolv.conf', ''));
    try {
      await this.removeStale().catch((err: Error) => this.log.warn({ err: err.message }, `looking for NAT guard tables of daemons gone failed: ${err.message}`));
      await nft(natGuardRuleset({ table: this.table, uid: account.uid, hostGid: this.hostGid, resolvers, vmUids: this.opts.vmUids, owner: thisOwner() }));
      this.added.clear();
      this.installed = true;
      this.failure = undefined;
      this.log.info({ table: `inet ${this.table}`, resolvers }, `NAT guard installed: guests on user-mode NAT cannot reach this host's own addresses (DNS to ${resolvers.join(', ') || 'no resolver'} allowed)`);
    } catch (err) {
      this.installed = false;
      this.failure = (err as Error).message;
      const then = this.opts.allowUnguarded ? 'NAT VMs start UNGUARDED (--allow-unguarded-nat): their guests reach this host\'s loopback and daemon ports' : 'NAT VMs will not start until it works (or --allow-unguarded-nat)';
      this.log.error({ table: `inet ${this.table}` }, `the NAT guard could not be installed (${this.failure}); ${then}`);
    }
  }

  /** Removes other daemons' tables that nothing needs any more (their daemon killed without its stop, no VM of theirs
   *  left): each would still refuse what its rules refuse, for QEMUs of any daemon of the same account. */
  private async removeStale(): Promise<void> {
    const names = [...(await nftRun(['list', 'tables', 'inet'])).matchAll(/^table inet (\S+)$/gm)].map((m) => m[1]!).filter((n) => n.startsWith(NAT_GUARD_TABLE_PREFIX) && n !== this.table);
    if (names.length === 0) return;
    const guarding = guardedTables();
    const found: FoundGuard[] = [];
    for (const table of names) {
      const owner = guardOwnerOf(await nftRun(['list', 'table', 'inet', table]).catch(() => ''));
      found.push({ table, owner, ownerAlive: owner !== undefined && processStart(owner.pid) === owner.start, guarding: guarding.has(table) });
    }
    for (const table of staleGuards(found, this.table)) {
      await nft(natGuardRemoval(table));
      this.log.info({ table: `inet ${table}` }, `NAT guard table inet ${table} removed: its daemon is gone and no VM of its folder runs`);
    }
  }

  /** The account a VM's QEMU runs as: the host-access group instead of the account's own when one of its NAT NICs is opened. */
  accountFor(spec: VmSpec, account: UnprivilegedAccount | undefined): UnprivilegedAccount | undefined {
    if (!account || !wantsHostAccess(spec)) return account;
    if (this.hostGid === undefined) {
      throw new ArdesiaError('NAT_HOST_GROUP_MISSING', `vm ${spec.name}: its NAT is opened to the host, but the group ${NAT_HOST_GROUP_NAME} does not exist`);
    }
    return { ...account, gid: this.hostGid };
  }

  /** Refuses to start a NAT VM whose QEMU runs as the account while the guard is not in place (unless allowed);
   *  an allow-list VM is refused without it whatever the options: nothing else would hold its guest to the list. */
  requireFor(spec: VmSpec, account: UnprivilegedAccount | undefined): void {
    if (allowListNics(spec).length > 0 && !this.installed) {
      throw new ArdesiaError('NAT_GUARD_UNAVAILABLE', `vm ${spec.name}: its NAT allow-list is enforced by the NAT guard (nftables table inet ${this.table}), which is not in place (${this.failure ?? (account ? 'not installed' : 'the daemon is not root')})`, undefined, ALLOW_LIST_HINT);
    }
    if (!account || openNatNics(spec).length === 0 || this.installed) return;
    const why = this.failure ?? 'not installed';
    if (this.opts.allowUnguarded) {
      this.log.warn({ vm: spec.name }, `vm ${spec.name} starts on user-mode NAT WITHOUT the NAT guard (${why}; --allow-unguarded-nat): its guest reaches this host's loopback and daemon ports`);
      return;
    }
    throw new ArdesiaError('NAT_GUARD_UNAVAILABLE', `vm ${spec.name}: the NAT guard (nftables table inet ${this.table}) is not in place (${why}); a guest on user-mode NAT would reach this host's loopback and daemon ports`);
  }

  /** Lets `uid` (an allow-list VM's own) open its spec's destinations; before its QEMU starts, and again for a live one at reconcile. */
  async allowFor(spec: VmSpec, uid: number): Promise<void> {
    const removal = natAllowElements('delete', this.table, uid, vmAllowList(spec));
    if (this.added.get(uid) === removal) return;
    const released = this.releaseFor(uid); // its removal is queued first, then the addition, before anything else can touch this uid
    this.added.set(uid, removal);
    const added = this.inOrder(natAllowElements('add', this.table, uid, vmAllowList(spec)));
    const results = await Promise.allSettled([released, added]);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) {
      await this.releaseFor(uid).catch(() => undefined); // the VM does not start: what was added goes (best effort)
      throw failed.reason;
    }
  }

  /** Takes `uid`'s destinations out of the set when its VM is gone (what the uid then opens is refused). */
  async releaseFor(uid: number): Promise<void> {
    const removal = this.added.get(uid);
    if (removal === undefined) return;
    this.added.delete(uid);
    if (removal !== '') await this.inOrder(removal);
  }

  /** Set changes run one after another in the order asked: a VM restarted at once on the same uid must not lose its new elements to its old removal. */
  private inOrder(script: string): Promise<void> {
    const done = this.queue.then(() => nft(script));
    this.queue = done.catch(() => undefined);
    return done;
  }

  /** Removes this daemon's table when none of its VMs is left to guard (VMs that outlive the daemon keep it). */
  async remove(vmsStillRunning: number): Promise<void> {
    if (!this.installed) return;
    if (vmsStillRunning > 0) {
      this.log.info({ table: `inet ${this.table}` }, `NAT guard left in place: ${vmsStillRunning} VM(s) keep running after the daemon`);
      return;
    }
    try {
      await nft(natGuardRemoval(this.table));
      this.installed = false;
    } catch (err) {
      this.log.warn({ err }, `removing the NAT guard failed; \`nft delete table inet ${this.table}\` removes it`);
    }
  }
}
