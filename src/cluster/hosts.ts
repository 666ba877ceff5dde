// HostService: the hosts of the cluster in the store. The daemon registers its own host at start (one-node cluster:
// the embedded agent's host), measures its capacity and heartbeats it; drain, undrain and remove are the operator's.
// Placement for VM starts, the broker and the spare planner is asked here: the pure decision is placement.ts.
import { EventEmitter } from 'node:events';
import { cpus, totalmem } from 'node:os';
import type { Logger } from 'pino';
import { auditAppend } from '../audit/log.js';
import { ArdesiaError } from '../contract/errors.js';
import type { HostCapacityView, HostDetail, HostEviction, HostView, KsmMode, KsmReport, PlacementRefusal } from '../contract/hosts.js';
import { KsmSysfs } from '../hypervisor/host/ksm-sysfs.js';
import { Pool } from '../contract/pools.js';
import type { VmSpec } from '../contract/vm.js';
import type { VmPlacementAsk } from '../vms/vm-manager-options.js';
import type { Store } from '../store/db.js';
import { dbNowIso } from './db-clock.js';
import type { HostFencer } from './host-fence.js';
import type { StorageLiveness } from './host-liveness.js';
import { hostContents, hostGet, hostJudgementNow, hostLoadsOf, hostsSnapshot, hostStateNow, hostViewOf, requireHost, type StorageView } from './host-repo.js';
import { type HostLoad, type HostQemu, type Placement, type PlacementNeed, placeDesktop, placeStateSavedOn, desktopsThatFit, templateUnfitOn } from './placement.js';

export const HEARTBEAT_EVERY_MS = 10_000;
/** Nova's defaults (ram_allocation_ratio 1.5, cpu_allocation_ratio 16): desktops idle most of the time. */
export const DEFAULT_MEMORY_OVERCOMMIT = 1.5;
export const DEFAULT_CPU_OVERCOMMIT = 16;

export interface HostServiceOptions {
  /** This daemon's host (serve --host-name, or the machine's hostname). */
  name: string;
  memoryOvercommit: number;
  cpuOvercommit: number;
  /** Its labels when given (serve --host-label): set at each start, and then not editable through the API. */
  labels?: string[];
  /** Measured at start: the machine's memory and CPUs. */
  capacity?: Pick<HostCapacityView, 'memoryMiB' | 'vcpus'>;
  /** This host's QEMU build and accelerator (the host check's): agents' hosts are compared with it. */
  ownQemu?: () => Promise<HostQemu>;
}

export interface HostServiceEvents {
  host: [HostView];
  'host-removed': [string];
  /** After each of this daemon's heartbeats, the storage leases just read: hosts are judged afresh. */
  heartbeat: [];
  /** A drain asked (again): its running plain VMs move by live migration (vm-migrations.ts). */
  drain: [string];
}

/** Caller as the audit records it. */
export interface HostCaller {
  name: string;
  address?: string;
}

export function measuredCapacity(): Pick<HostCapacityView, 'memoryMiB' | 'vcpus'> {
  return { memoryMiB: Math.floor(totalmem() / 1024 / 1024), vcpus: cpus().length };
}

export class HostService extends EventEmitter<HostServiceEvents> {
  private timer: NodeJS.Timeout | undefined;
  /** This machine's /sys/kernel/mm/ksm: the controller's own host. */
  private readonly ksm = new KsmSysfs();
  /** Every host's storage lease as this host's sanlock daemon saw it at the last heartbeat (empty without home leases). */
  private storage: StorageView = new Map();
  private storageSource: (() => Promise<StorageView>) | undefined;
  private fencer: HostFencer | undefined;

  constructor(
    private readonly db: Store,
    private readonly log: Logger,
    readonly opts: HostServiceOptions,
  ) {
    super();
  }

  get localName(): string {
    return this.opts.name;
  }

  /** Records this host as up with its measured capacity (a drain or maintenance is kept), and gives VMs without a host this one. */
  async register(): Promise<HostView> {
    const cap = this.opts.capacity ?? measuredCapacity();
    const at = new Date().toISOString();
    // Labels given to serve win at each start; without them the store's (API-edited) labels stay.
    const given = this.opts.labels;
    const values = { memory_mib: cap.memoryMiB, vcpus: cap.vcpus, memory_overcommit: this.opts.memoryOvercommit, cpu_overcommit: this.opts.cpuOvercommit, labels_from: given ? 'serve' : 'api', heartbeat_at: at, updated_at: at };
    const existing = await this.db.selectFrom('hosts').select('state').where('name', '=', this.opts.name).executeTakeFirst();
    if (existing) {
      const labels = given ? { labels: JSON.stringify(given) } : {};
      await this.db.updateTable('hosts').set({ ...values, ...labels, ...(existing.state === 'down' ? { state: 'up' } : {}) }).where('name', '=', this.opts.name).execute();
    } else {
      await this.db.insertInto('hosts').values({ name: this.opts.name, state: 'up', ...values, labels: JSON.stringify(given ?? []), agent_credential_sha256: null, cert_fingerprint: null, created_at: at }).execute();
    }
    // Backfill: VMs defined before hosts existed were this host's (a one-host install).
    await this.db.updateTable('vms').set({ host: this.opts.name }).where('host', 'is', null).execute();
    const view = await this.show(this.opts.name);
    this.log.info({ host: view.name, capacity: view.capacity, state: view.state }, `host ${view.name} registered (${view.capacity.memoryMiB} MiB, ${view.capacity.vcpus} CPUs)`);
    return view;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.heartbeat().catch((err) => this.log.warn({ err }, 'host heartbeat failed')), HEARTBEAT_EVERY_MS);
    this.timer.unref();
  }

  /** serve --fence-config: silent hosts not renewing a storage lease are powered off, and down once confirmed off. */
  fenceWith(fencer: HostFencer): void {
    this.fencer = fencer;
  }

  /** serve --home-leases sanlock: silent hosts are judged by their storage lease too (suspect or down, host-liveness.ts). */
  watchStorage(source: () => Promise<StorageView>): void {
    this.storageSource = source;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The embedded agent's heartbeat; a draining host (this one or an agent's) with nothing left becomes maintenance. */
  async heartbeat(): Promise<void> {
    await this.db.updateTable('hosts').set({ heartbeat_at: dbNowIso(this.db) }).where('name', '=', this.opts.name).execute();
    for (const { name } of await this.db.selectFrom('hosts').select('name').where('state', '=', 'draining').execute()) await this.settleDrain(name);
    let storage: StorageView = new Map();
    if (this.storageSource) {
      // Unknown rather than stale when sanlock does not answer: a silent host is then suspect, never down.
      storage = await this.storageSource().catch((err: Error) => {
        this.log.warn({ err }, 'reading the hosts\' storage leases from sanlock failed; silent hosts count as suspect');
        return new Map();
      });
    }
    this.storage = this.fencer ? await this.fenceWitnessed(storage) : storage;
    this.emit('heartbeat');
  }

  /** Fences started where wanted; the storage view with the hosts confirmed off since their last heartbeat. */
  private async fenceWitnessed(storage: StorageView): Promise<StorageView> {
    const rows = await this.db.selectFrom('hosts').select(['name', 'state', 'heartbeat_at', 'agent_linked_at']).select(dbNowIso(this.db).as('db_now')).execute();
    const sanlock = new Map([...storage].filter((e): e is [string, StorageLiveness] => e[1] !== 'fenced-off'));
    this.fencer!.pass(rows, rows[0] ? Date.parse(rows[0].db_now) : Date.now(), this.opts.name, sanlock);
    const witnessed = new Map<string, StorageLiveness | 'fenced-off'>(sanlock);
    // An expired storage lease says more (the home leases are free): it stays.
    for (const host of this.fencer!.confirmedOff(rows)) if (witnessed.get(host) !== 'expired') witnessed.set(host, 'fenced-off');
    return witnessed;
  }

  async list(): Promise<HostView[]> {
    const [snap, ksm, qemu] = await Promise.all([hostsSnapshot(this.db), this.ksm.read(), this.ownQemu()]);
    const now = snap.nowMs ?? Date.now();
    return snap.rows.map((r) => hostViewOf(r, snap, this.opts.name, now, ksm, this.storage, qemu));
  }

  async show(name: string): Promise<HostDetail> {
    await requireHost(this.db, name);
    const snap = await hostsSnapshot(this.db);
    const row = snap.rows.find((r) => r.name === name);
    if (!row) throw new ArdesiaError('HOST_NOT_FOUND', `host ${name} is not known`);
    const ksm = name === this.opts.name ? await this.ksm.read() : null;
    return { ...hostViewOf(row, snap, this.opts.name, snap.nowMs ?? Date.now(), ksm, this.storage, await this.ownQemu()), ...(await hostContents(this.db, name)) };
  }

  private ownQemu(): Promise<HostQemu | null> {
    return this.opts.ownQemu?.() ?? Promise.resolve(null);
  }

  /** KSM on this daemon's own host, read now (/metrics). */
  localKsm(): Promise<KsmReport> {
    return this.ksm.read();
  }

  /** KSM on the controller's own host, read now. */
  async ksmShow(name: string): Promise<KsmReport> {
    await this.requireLocal(name);
    return this.ksm.read();
  }

  /** `ardesia host ksm on|off|unmerge` on the controller's own host; audited with the mode. */
  async ksmSet(name: string, mode: KsmMode, who: HostCaller): Promise<KsmReport> {
    await this.requireLocal(name);
    const report = await this.ksm.set(mode);
    await auditAppend(this.db, who.name, 'host.ksm', name, { mode }, who.address);
    this.log.info({ host: name, mode, savedBytes: report.savedBytes }, `KSM on host ${name}: ${mode}`);
    await this.announce(name); // open Hosts pages follow the change live
    return report;
  }

  private async requireLocal(name: string): Promise<void> {
    await requireHost(this.db, name);
    if (name !== this.opts.name) throw new ArdesiaError('KSM_HOST_NOT_LOCAL', `host ${name} is not this daemon's host (${this.opts.name}); its KSM is not readable from here`);
  }

  /** Replaces a host's labels; placement uses them from the next decision (the spare planner's next tick). */
  async setLabels(name: string, labels: string[], who: HostCaller): Promise<HostDetail> {
    const row = await requireHost(this.db, name);
    if (row.labels_from === 'serve') throw new ArdesiaError('HOST_LABELS_FROM_SERVE', `host ${name}'s labels are set by its serve --host-label options`);
    const unique = [...new Set(labels)];
    await this.db.updateTable('hosts').set({ labels: JSON.stringify(unique), updated_at: new Date().toISOString() }).where('name', '=', name).execute();
    await auditAppend(this.db, who.name, 'host.labels', name, { labels: unique }, who.address);
    return this.announce(name);
  }

  /** No new desktops, spares or VMs on the host; its spares are stopped by the planner (onStateChange). */
  async drain(name: string, who: HostCaller): Promise<HostDetail> {
    const row = await requireHost(this.db, name);
    if (row.state === 'up') await this.setState(name, 'draining');
    await auditAppend(this.db, who.name, 'host.drain', name, undefined, who.address);
    await this.settleDrain(name);
    if ((await requireHost(this.db, name)).state === 'draining') this.emit('drain', name);
    return this.announce(name);
  }

  async undrain(name: string, who: HostCaller): Promise<HostDetail> {
    const row = await requireHost(this.db, name);
    if (row.state === 'draining' || row.state === 'maintenance') await this.setState(name, 'up');
    await auditAppend(this.db, who.name, 'host.undrain', name, undefined, who.address);
    return this.announce(name);
  }

  /**
   * `host evict`: drained, then every VM there stopped at once (the guest's power button, by force after the grace).
   * A host whose agent has no link gets the order when it reconnects. Not the controller's own host (its desktops are
   * the pools'; drain it instead).
   */
  async evict(name: string, who: HostCaller, vms: VmStopper, graceSeconds: number): Promise<HostEviction> {
    await requireHost(this.db, name);
    if (name === this.opts.name) throw new ArdesiaError('HOST_IS_CONTROLLER', `host ${name} is the controller's own host: drain it (\`ardesia host drain ${name}\`) and stop its VMs one by one`);
    await this.drain(name, who);
    // Every VM there, its pool desktops' too: a desktop's session ends when its VM stops (its pool re-serves the user).
    const names = (await this.db.selectFrom('vms').select('name').where('host', '=', name).where('desired', '=', 'running').orderBy('name').execute()).map((r) => r.name);
    const outcomes = await Promise.all(names.map((vm) => evictOne(vms, vm, graceSeconds * 1000)));
    await auditAppend(this.db, who.name, 'host.evict', name, { graceSeconds, vms: outcomes }, who.address);
    this.log.warn({ host: name, vms: outcomes }, `host ${name} evicted: ${outcomes.length} VM(s) stopped or ordered to stop`);
    await this.settleDrain(name); // with everything stopped, in maintenance
    await this.announce(name);
    return { host: name, graceSeconds, vms: outcomes };
  }

  /** Refused for the controller's own host and while anything runs there. */
  async remove(name: string, who: HostCaller): Promise<{ removed: string }> {
    await requireHost(this.db, name);
    if (name === this.opts.name) throw new ArdesiaError('HOST_IS_CONTROLLER', `host ${name} is the controller's own host (this daemon runs there)`);
    const left = await hostContents(this.db, name);
    if (left.desktops.length + left.vms.length > 0) {
      const what = [...left.desktops.map((d) => `desktop ${d.name} (${d.state})`), ...left.vms.map((v) => `vm ${v}`)];
      throw new ArdesiaError('HOST_IN_USE', `host ${name} still runs ${what.length} desktop(s) or VM(s): ${what.slice(0, 10).join(', ')}${what.length > 10 ? ', …' : ''}`);
    }
    if (left.savedStates.length > 0) {
      throw new ArdesiaError('HOST_IN_USE', `host ${name} holds the saved state of ${left.savedStates.map((v) => `vm ${v}`).slice(0, 10).join(', ')}${left.savedStates.length > 10 ? ', …' : ''}: start each (it resumes there) and move it, or discard it (\`vm start --discard-state\`)`);
    }
    await this.db.deleteFrom('hosts').where('name', '=', name).execute();
    await auditAppend(this.db, who.name, 'host.remove', name, undefined, who.address);
    this.emit('host-removed', name);
    return { removed: name };
  }

  /** Hosts that take no new desktops or spares now (draining, maintenance, down). */
  async hostsNotUp(): Promise<Set<string>> {
    // The planner asks on every pass of every pool: the hosts table alone, not the snapshot of what runs where.
    // Heartbeats are judged by the database's clock (remote agents' are stamped with it), read in the same query.
    const rows = await this.db.selectFrom('hosts').select(['name', 'state', 'heartbeat_at']).select(dbNowIso(this.db).as('db_now')).execute();
    return new Set(rows.filter((r) => hostStateNow(r, Date.parse(r.db_now), this.opts.name, this.storage) !== 'up').map((r) => r.name));
  }

  /** Hosts judged down now (storage lease expired: host-liveness.ts), with why. */
  async downHosts(): Promise<Map<string, string>> {
    const rows = await this.db.selectFrom('hosts').select(['name', 'state', 'heartbeat_at']).select(dbNowIso(this.db).as('db_now')).execute();
    const down = new Map<string, string>();
    for (const r of rows) {
      const j = hostJudgementNow(r, Date.parse(r.db_now), this.opts.name, this.storage);
      if (j.state === 'down') down.set(r.name, j.reason ?? 'down');
    }
    return down;
  }

  async place(need: PlacementNeed, remoteAgents = false): Promise<Placement> {
    return placeDesktop(await this.loads(remoteAgents), need);
  }

  /** Every host placement may choose now, with its load (hosts run by a remote agent with `remoteAgents`). */
  private async loads(remoteAgents: boolean): Promise<HostLoad[]> {
    const snap = await hostsSnapshot(this.db);
    return hostLoadsOf(snap, snap.nowMs ?? Date.now(), this.opts.name, this.storage, remoteAgents);
  }

  /** Where a VM moving by live migration from `from` goes: another agent's host that takes new VMs, or only `onto`
   *  (the controller's own host only when named so). */
  async placeMigration(need: PlacementNeed, from: string, onto?: string): Promise<string> {
    if (onto !== undefined) await requireHost(this.db, onto);
    if (onto === from) return from; // the caller refuses it, saying where the VM is
    const loads = (await this.loads(true)).filter((h) => (h.name !== this.opts.name || onto === h.name) && h.name !== from && (onto === undefined || h.name === onto));
    const p = placeDesktop(loads, need);
    if (p.kind === 'refuse') throw new ArdesiaError(p.code, p.message);
    return p.host;
  }

  /** Where a new desktop or spare of the pool would go, or why none can. */
  async checkPool(pool: Pool): Promise<PlacementRefusal | null> {
    const p = await this.place(poolNeed(pool), true);
    return p.kind === 'refuse' ? { code: p.code, message: p.message } : null;
  }

  /** Desktops of the pool the hosts can run at once (its running ones included), for the spare schedule. */
  async poolCapacity(pool: Pool): Promise<number> {
    return desktopsThatFit(await this.loads(true), poolNeed(pool));
  }

  /** VmPlacer for the VM manager: a pool desktop's VM is placed with its pool's labels and spread. */
  async placeVm(name: string, spec: VmSpec, opts: VmPlacementAsk): Promise<string> {
    const poolRow = await this.db
      .selectFrom('pool_desktops')
      .innerJoin('pools', 'pools.name', 'pool_desktops.pool')
      .select('pools.spec')
      .where('pool_desktops.name', '=', name)
      .executeTakeFirst();
    const pool = poolRow ? Pool.parse(JSON.parse(poolRow.spec)) : undefined;
    const shaped = pool ? { ...poolNeed(pool), memoryMiB: spec.memoryMiB, vcpus: spec.vcpus } : { memoryMiB: spec.memoryMiB, vcpus: spec.vcpus, sharedStorage: PLAIN_VM_NEED };
    // A restore template's clone reads the template's files on the shared folder (and the pool's own need comes first).
    const stored = opts.sharedStorage && shaped.sharedStorage === undefined ? { ...shaped, sharedStorage: opts.sharedStorage } : shaped;
    const need = opts.restoreFrom ? { ...stored, restoreFrom: opts.restoreFrom } : stored;
    // A pool's desktop may go to an agent's host (a template being built never does: opts.localOnly).
    const onAgents = !opts.localOnly && (pool !== undefined || !(await this.isDesktopVm(name)));
    const loads = await this.loads(onAgents);
    if (opts.savedHere) {
      const p = placeStateSavedOn(this.opts.name, loads, need, opts.savedHere);
      if (p.kind === 'refuse') throw new ArdesiaError('VM_STATE_HOST_UNAVAILABLE', `vm ${name}'s state is saved on this controller's host ${this.opts.name}, and no host can resume it now: ${p.message}`);
      return p.host;
    }
    // A saved state resumes only on the host it was saved on.
    const candidates = opts.stateOn === undefined ? loads : loads.filter((l) => l.name === opts.stateOn);
    const p = placeDesktop(candidates, need);
    if (p.kind === 'refuse' && opts.stateOn !== undefined) throw new ArdesiaError('VM_STATE_HOST_UNAVAILABLE', `vm ${name}'s state is saved on host ${opts.stateOn}, which cannot take it now: ${candidates.length === 0 ? 'its agent is not linked and ready' : p.message}`);
    if (p.kind === 'refuse') throw new ArdesiaError(p.code, p.message);
    // On another host whose QEMU cannot load the template, the clone boots afresh there and the template is kept; on this
    // host, where templates are built, a QEMU of its own that changed makes the launch's check refuse it (and rebuild).
    const unfit = p.host === this.opts.name ? null : templateUnfitOn(candidates.find((l) => l.name === p.host)!, need);
    if (unfit !== null) throw new ArdesiaError('VM_TEMPLATE_HOST_UNFIT', `${name} was placed on host ${p.host}, where restore template ${opts.restoreFrom!.key} cannot load: ${unfit}`);
    return p.host;
  }

  /** A standalone desktop's or an image maintenance session's VM: they stay on the controller's own host. */
  private async isDesktopVm(name: string): Promise<boolean> {
    const [desktop, maintenance] = await Promise.all([
      this.db.selectFrom('desktops').select('name').where('vm_name', '=', name).executeTakeFirst(),
      this.db.selectFrom('maintenance_sessions').select('image').where('vm_name', '=', name).executeTakeFirst(),
    ]);
    return desktop !== undefined || maintenance !== undefined;
  }

  private async setState(name: string, state: 'up' | 'draining' | 'maintenance'): Promise<void> {
    await this.db.updateTable('hosts').set({ state, updated_at: new Date().toISOString() }).where('name', '=', name).execute();
    this.log.info({ host: name, state }, `host ${name} is ${state}`);
  }

  /** A draining host with nothing left on it is in maintenance. */
  private async settleDrain(name: string): Promise<void> {
    const row = await requireHost(this.db, name);
    if (row.state !== 'draining') return;
    const left = await hostContents(this.db, name);
    if (left.desktops.length + left.vms.length === 0) {
      await this.setState(name, 'maintenance');
      await this.announce(name);
    }
  }

  /** Open Hosts pages follow a change made elsewhere (a remote agent's link opened or closed). */
  async announceChange(name: string): Promise<void> {
    if (await hostGet(this.db, name)) await this.announce(name);
  }

  private async announce(name: string): Promise<HostDetail> {
    const view = await this.show(name);
    this.emit('host', view);
    return view;
  }
}

/** The VM manager's stop, as eviction uses it. */
export interface VmStopper {
  stop(name: string, opts: { force?: boolean; waitMs?: number }): Promise<{ stopped: boolean; reason?: string }>;
}

async function evictOne(vms: VmStopper, name: string, graceMs: number): Promise<HostEviction['vms'][number]> {
  const codeOf = (err: unknown) => (err instanceof ArdesiaError ? err.code : undefined);
  try {
    const r = await vms.stop(name, { waitMs: Math.max(graceMs, 1) });
    return { name, outcome: 'stopped', detail: r.reason ?? null };
  } catch (err) {
    if (codeOf(err) === 'VM_NOT_RUNNING') return { name, outcome: 'stopped', detail: (err as Error).message };
    // Cut off: the stop is recorded as forced (the grace is long over when the agent gets it) and carried out at its link.
    if (codeOf(err) === 'AGENT_NOT_LINKED') {
      const forced = await vms.stop(name, { force: true }).then(() => undefined, (e: Error) => e);
      return { name, outcome: 'ordered', detail: (forced ?? (err as Error)).message };
    }
    if (codeOf(err) !== 'VM_STOP_TIMEOUT') return { name, outcome: 'failed', detail: (err as Error).message };
  }
  try {
    const r = await vms.stop(name, { force: true });
    return { name, outcome: 'forced', detail: r.reason ?? null };
  } catch (err) {
    return { name, outcome: codeOf(err) === 'VM_NOT_RUNNING' ? 'stopped' : 'failed', detail: (err as Error).message };
  }
}

export function poolNeed(pool: Pool): PlacementNeed {
  const need: PlacementNeed = { memoryMiB: pool.memoryMiB, vcpus: pool.vcpus, pool: pool.name, requireLabels: pool.hostLabels.require, avoidLabels: pool.hostLabels.avoid };
  const shared = poolSharedStorageNeed(pool);
  return shared === undefined ? need : { ...need, sharedStorage: shared };
}

/** Why a pool's desktops must run where the shared data folder is mounted, or undefined when any host will do. */
export function poolSharedStorageNeed(pool: Pool): string | undefined {
  if (pool.persistent) return `pool ${pool.name}'s persistent desktops (their disks are kept on it)`;
  if (pool.home === 'volume') return `pool ${pool.name}'s home volumes (pool set ${pool.name} --home scratch keeps none)`;
  return undefined;
}

/** A plain VM's disks, ISO and boot files are where its spec names them: on the shared data folder. */
export const PLAIN_VM_NEED = "a plain VM's files";
