// HomeLeases: never two writers on a home. This host joins the site's sanlock lockspace (its host id from the
// store), every QEMU it starts is a registered sanlock client (registerPrefix), and a home's resource lease is
// acquired for the desktop QEMU's pid before the home is plugged in and released after it is unplugged, or, for a
// home given to QEMU at launch (a standalone desktop), acquired between registration and exec (launchPrefix);
// sanlock frees it by itself when that QEMU exits. The store records slot, holder and generation; sanlock enforces.
import type { Logger } from 'pino';
import { auditAppend } from '../../audit/log.js';
import { now } from '../../lib/time.js';
import type { Store } from '../../store/db.js';
import { acquireError, daemonError, DEFAULT_IO_TIMEOUT_S, homeResource, type LeaseFiles, leaseFiles, type LeaseResource, LOCKSPACE, registerRefusal, SANLOCK_RV } from './layout.js';
import { ArdesiaError } from '../../contract/errors.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { homeLeaseClaimInit, homeLeaseFreed, homeLeaseGet, homeLeaseHeld, homeLeaseReady, homeLeaseSlot, leaseHostId, type HomeLeaseRow } from './repo.js';
import { leaseAcquireFor, leaseReleaseFor, SanlockClient } from './sanlock.js';
import { type StorageLiveness, storageLivenessOf } from '../host-liveness.js';

/** How long a host waits for another one's initialisation of a resource (a `direct init` takes milliseconds). */
const INIT_WAIT_MS = 30_000;

export interface HomeLeasesOptions {
  dataDir: string;
  /** This daemon's host (the hosts table's name). */
  host: string;
  /** sanlock's io timeout for the lockspace (s): renewals every 2×, other hosts take a dead host's leases after 8× + 60. */
  ioTimeoutS?: number;
  /** The environment of sanlock's clients: SANLOCK_RUN_DIR when this host's daemon has its own run folder. */
  env?: NodeJS.ProcessEnv;
}

export interface HomeLeaseHolder {
  desktop: string;
  pid: number;
  /** The holder's host when it is not this one (a pool desktop on an agent's host). */
  host?: string;
}

/** The lease steps on an agent's host, for its QEMU of `vm` (the agent knows the pid). */
export interface RemoteLeaseSteps {
  acquire(host: string, vm: string, user: string, res: LeaseResource): Promise<'acquired' | 'own-already'>;
  release(host: string, vm: string, user: string, res: LeaseResource): Promise<void>;
}

export class HomeLeases {
  readonly files: LeaseFiles;
  readonly sanlock: SanlockClient;
  readonly ioTimeoutS: number;
  private hostId: number | undefined;
  private remote: RemoteLeaseSteps | undefined;

  constructor(
    private readonly db: Store,
    private readonly log: Logger,
    private readonly opts: HomeLeasesOptions,
  ) {
    this.files = leaseFiles(opts.dataDir);
    this.sanlock = new SanlockClient(opts.env ?? process.env);
    this.ioTimeoutS = opts.ioTimeoutS ?? DEFAULT_IO_TIMEOUT_S;
  }

  get host(): string {
    return this.opts.host;
  }

  /** Initialises the lockspace on the shared storage if no host did yet, and joins it with this host's id. */
  async start(): Promise<number> {
    const hostId = await leaseHostId(this.db, this.opts.host);
    await this.sanlock.initLockspace(this.files, this.ioTimeoutS);
    const t0 = Date.now();
    await this.sanlock.joinLockspace(this.files, hostId, this.ioTimeoutS);
    this.hostId = hostId;
    this.log.info({ hostId, joinMs: Date.now() - t0, ioTimeoutS: this.ioTimeoutS }, `home leases: host ${this.opts.host} joined the sanlock lockspace as host id ${hostId}`);
    return hostId;
  }

  /** Prefix of every QEMU launch: QEMU becomes a sanlock client under its own pid. */
  registerPrefix(): string[] {
    return this.sanlock.registerPrefix();
  }

  private async resourceOf(user: string): Promise<LeaseResource> {
    const row = await homeLeaseSlot(this.db, user, (slot) => homeResource(this.files, slot, user).name);
    const res = { ...homeResource(this.files, row.slot, user), name: row.resource };
    if (row.ready === 1) return res;
    // One host initialises (the store decides which); the others wait for it, or take over from one that died.
    if ((await homeLeaseClaimInit(this.db, user)) || !(await this.untilReady(user))) {
      await this.sanlock.initResource(res); // never over an area that already carries sanlock's magic
      await homeLeaseReady(this.db, user);
    }
    return res;
  }

  private async untilReady(user: string): Promise<boolean> {
    for (let waited = 0; waited < INIT_WAIT_MS; waited += 100) {
      if ((await homeLeaseGet(this.db, user))?.ready === 1) return true;
      await sleep(100);
    }
    return false;
  }

  /** Acquires `user`'s home lease for the QEMU `holder.pid` (on `holder.host`'s sanlock daemon: this host's, or an agent's
   *  through its link); HOME_LEASE_HELD when another host's desktop holds it. */
  async acquire(user: string, holder: HomeLeaseHolder): Promise<number> {
    const host = holder.host ?? this.opts.host;
    if (host === this.opts.host && this.hostId === undefined) throw daemonError(SANLOCK_RV.ACQUIRE_LOCKSPACE, `acquiring the home lease of ${user}`);
    const res = await this.resourceOf(user);
    let acquired: 'acquired' | 'own-already';
    try {
      acquired = host === this.opts.host ? await leaseAcquireFor(this.sanlock, holder.pid, res, user) : await this.requireRemote(host).acquire(host, holder.desktop, user, res);
    } catch (err) {
      const row = await homeLeaseGet(this.db, user);
      this.log.warn({ user, host, holder: row?.holder_host, holderDesktop: row?.holder_desktop }, `home lease of ${user} refused: ${(err as Error).message}`);
      throw err;
    }
    if (acquired === 'own-already') return (await homeLeaseGet(this.db, user))?.generation ?? 0;
    return this.held(user, { ...holder, host });
  }

  private requireRemote(host: string): RemoteLeaseSteps {
    if (!this.remote) throw new ArdesiaError('LEASE_DAEMON_UNAVAILABLE', `the home lease cannot be taken on host ${host}: this controller reaches no agent's sanlock daemon`);
    return this.remote;
  }

  /** Agents' hosts take and give back their QEMUs' leases through their links (cluster/remote-desktop-vms.ts). */
  attachRemote(remote: RemoteLeaseSteps): void {
    this.remote = remote;
  }

  /** What an agent's host needs to join the lockspace (its sanlock host id from the store), sent at each link. */
  async agentSettings(host: string): Promise<{ leaseDir: string; hostId: number; ioTimeoutS: number }> {
    return { leaseDir: this.files.dir, hostId: await leaseHostId(this.db, host), ioTimeoutS: this.ioTimeoutS };
  }

  /** Records that `holder` now holds `user`'s home lease: the next generation, and the audit's home.lease. A null pid: a
   *  QEMU that took it on a host down since (a release then asks nothing of a host that holds nothing any more). */
  async held(user: string, holder: Omit<HomeLeaseHolder, 'pid'> & { pid: number | null }): Promise<number> {
    const host = holder.host ?? this.opts.host;
    const generation = await homeLeaseHeld(this.db, user, { host, desktop: holder.desktop, pid: holder.pid }, now());
    await auditAppend(this.db, 'home-leases', 'home.lease', user, { host, desktop: holder.desktop, pid: holder.pid, generation });
    return generation;
  }

  /** The launch prefix of a QEMU given `user`'s home at launch: it holds the home's lease from before exec, so before
   *  it opens the disk (record it with `held` once QEMU runs; a refusal comes back through `launchError`). */
  async launchPrefix(user: string): Promise<string[]> {
    if (this.hostId === undefined) throw daemonError(SANLOCK_RV.ACQUIRE_LOCKSPACE, `acquiring the home lease of ${user}`);
    return this.sanlock.registerPrefix([await this.resourceOf(user)]);
  }

  /** A failed launch through `launchPrefix` as the user meets it: sanlock's refusal (HOME_LEASE_HELD, LEASE_DAEMON_UNAVAILABLE, …)
   *  when the helper was refused before exec, the launch's own error otherwise. */
  launchError(user: string, err: unknown): unknown {
    if (!(err instanceof ArdesiaError) || err.code !== 'VM_START_FAILED') return err;
    const { exit = '', qemu = [] } = (err.details ?? {}) as { exit?: string; qemu?: string[] };
    const rv = registerRefusal(exit, qemu.join('\n'));
    if (rv === undefined) return err;
    const refusal = acquireError(rv, user);
    this.log.warn({ user, rv }, `home lease of ${user} refused at QEMU's launch: ${refusal.message}`);
    return refusal;
  }

  /** Releases `user`'s home lease held by `holder.pid` on `holder.host` (already free when that QEMU has exited; a null
   *  pid: a QEMU gone with its host, whose leases sanlock frees with the host's own lease). */
  async release(user: string, holder: Omit<HomeLeaseHolder, 'pid'> & { pid: number | null }): Promise<void> {
    const host = holder.host ?? this.opts.host;
    const row = await homeLeaseGet(this.db, user);
    if (row?.ready && holder.pid !== null) {
      const resource = this.resourceOfRow(row);
      if (host === this.opts.host) await leaseReleaseFor(this.sanlock, holder.pid, resource, user);
      else {
        await this.requireRemote(host).release(host, holder.desktop, user, resource).catch(async (err: unknown) => {
          // A host whose storage lease expired holds nothing any more: sanlock gives its leases to the next asker.
          if ((await this.hostStorage().catch(() => new Map<string, StorageLiveness>())).get(host) !== 'expired') throw err;
          this.log.warn({ user, host }, `home lease of ${user}: host ${host} is gone and its storage lease expired, so the lease is free`);
        });
      }
    }
    await homeLeaseFreed(this.db, user, host, holder.desktop);
    await auditAppend(this.db, 'home-leases', 'home.unlease', user, { host, desktop: holder.desktop, pid: holder.pid });
  }

  /** The host that took `resource` last, as its leader record on the shared storage says (a release keeps it): who
   *  holds or last held the lease, whatever the store recorded; undefined when no host ever took it. */
  async lastTakenBy(resource: LeaseResource): Promise<string | undefined> {
    const ownerId = await this.sanlock.leaderOwner(resource);
    if (ownerId === 0) return undefined;
    const row = await this.db.selectFrom('lease_host_ids').select('host').where('host_id', '=', ownerId).executeTakeFirst();
    return row?.host ?? `host id ${ownerId}`;
  }

  /** The sanlock resource of a home's lease row (its slot and name as recorded). */
  resourceOfRow(row: Pick<HomeLeaseRow, 'user' | 'slot' | 'resource'>): LeaseResource {
    return { ...homeResource(this.files, row.slot, row.user), name: row.resource };
  }

  /** Each host's storage lease by host name, as this host's sanlock daemon sees the lockspace (host-liveness.ts). */
  async hostStorage(): Promise<Map<string, StorageLiveness>> {
    const states = await this.sanlock.hostStates(LOCKSPACE);
    const out = new Map<string, StorageLiveness>();
    for (const { host, host_id } of await this.db.selectFrom('lease_host_ids').select(['host', 'host_id']).execute()) {
      const liveness = storageLivenessOf(states.get(host_id) ?? '');
      if (liveness) out.set(host, liveness);
    }
    return out;
  }

  /** The resources a QEMU holds, as sanlock says (the console and the tests). */
  inquire(pid: number): ReturnType<SanlockClient['inquire']> {
    return this.sanlock.inquire(pid);
  }
}
