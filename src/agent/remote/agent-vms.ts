// The VMs of an agent's host: the controller's desired set driven with the same VM manager (and so the same launch, uids,
// NAT guard and reconcile) as the controller's own VMs, over a store of the agent's own (DATA_DIR/agent-vms.db: each VM's
// spec, so a restarted agent finds its QEMUs again by pidfile + cmdline + QMP). runtime/ and logs/ are in DATA_DIR; disks
// are where the spec names them (the shared data folder), or, on a host without it, made here from copies of the image
// files (local-images.ts). QEMUs outlive the agent.
import { EventEmitter } from 'node:events';
import type { Duplex, Readable } from 'node:stream';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { type AgentHomeLeases, type AgentMessage, type ImageFileCheck, type MigratingLease, type VmConfined, type VmDesired, type VmObserved, type VmRestoreFrom } from '../../contract/agent.js';
import { leaseFilesIn } from '../../cluster/home-leases/layout.js';
import { SanlockClient } from '../../cluster/home-leases/sanlock.js';
import { liveIncoming, type MigrationCarried, migrateOutGivingLeases, resumeSaid, resumeTakingLeasesBack } from '../../cluster/migration-sides.js';
import { ArdesiaError, type ErrorCode } from '../../contract/errors.js';
import type { VmSpec } from '../../contract/vm.js';
import { guestEventOfQmp } from '../../hypervisor/guest-vm.js';
import { failpointPause } from '../../lib/failpoint.js';
import type { MigrationFigures } from '../../hypervisor/saved-state/live-migration.js';
import type { HostReport } from '../../hypervisor/host/index.js';
import type { VmRuntime } from '../../hypervisor/vm-runtime.js';
import { NatGuard } from '../../network/nat-guard-host.js';
import { openStore, type Store } from '../../store/db.js';
import { vmList, vmSetDesired } from '../../store/vms.js';
import { ownerPolicyLoad } from '../../vms/owner-files.js';
import { VmManager } from '../../vms/vm-manager.js';
import { VmUids, vmUidRange } from '../../vms/vm-uids.js';
import type { VmOps } from './agent-vm-ops.js';
import { HostImageChecks } from './image-checks.js';
import { AgentTemplates } from './agent-templates.js';
import type { TemplateToLoad } from '../../hypervisor/saved-state/template.js';
import { LocalImages } from './local-images.js';
import type { HostStorage } from '../../contract/hosts.js';
import { confinedOnThisHost } from '../../vms/owner-start.js';
import type { OpenedFileGuard } from '../../hypervisor/qemu/process.js';
import { arrivalsSettled, desiredMerge, passScope, specOnAgentHost, templatesWanted, type VmAction, vmActions } from './vm-plan.js';

/** How long a kill (a forced stop, a VM no longer wanted here) waits for QEMU to be gone. */
const KILL_WAIT_MS = 10_000;
/** A guest of this host rebooted or powered off by itself: the controller's pool desktops follow it. */
export interface AgentVmsEvents {
  'guest-event': [vm: string, event: 'guest-reset' | 'guest-shutdown'];
}

export class AgentVms extends EventEmitter<AgentVmsEvents> {
  private desired = new Map<string, VmDesired>();
  private desiredComplete = false;
  private passes: Promise<void> = Promise.resolve();
  private waiting: Promise<void> | undefined;
  private leases: SanlockClient | undefined;
  private leasesJoined = false;
  private leaseJoin: Promise<void> = Promise.resolve();
  private joining = false;
  /** VMs arriving by live migration: not in the desired set yet, never killed as strangers meanwhile. */
  private readonly arriving = new Set<string>();
  /** VMs that left by live migration, with the generation the controller gave the move: never started here again for a
   *  lower one (the controller's record may still name this host until it takes the move in). */
  private readonly departed = new Map<string, number>();
  /** VMs that arrived here by live migration, with the move's generation, until the controller's desired set names them
   *  at it (the move recorded) or orders them absent: kept through a full set that lacks them (a controller that died
   *  before recording the move still names the source), so the one running copy is never killed as a stranger. */
  private readonly arrivals: Map<string, number>;

  private constructor(
    /** This host's own data folder (an owner's VM may name nothing in it). */
    private readonly dataDir: string,
    private readonly manager: VmManager,
    private readonly store: Store,
    private readonly appliedPath: string,
    private readonly applied: Map<string, number>,
    private readonly arrivalsPath: string,
    private readonly imageChecks: HostImageChecks,
    private readonly log: Logger,
    /** A host without shared storage (agent --storage local): its image copies and made disks. */
    readonly localImages: LocalImages | undefined,
  ) {
    super();
    this.arrivals = appliedRead(arrivalsPath);
    this.templates = new AgentTemplates(imageChecks, log);
  }

  /** Restore templates whose clones start here: their RAM held on this host. */
  private readonly templates: AgentTemplates;
  /** The registry code of each VM's last failed start here, until it starts (reported with its reason). */
  private readonly startFailures = new Map<string, ErrorCode>();

  /** Opens the agent's store and finds the host's running QEMUs again (the VM manager's reconcile). */
  static async open(dataDir: string, host: string, hostReport: Promise<HostReport>, log: Logger, storage: HostStorage = 'shared'): Promise<AgentVms> {
    const store = await openStore(join(dataDir, 'agent-vms.db'));
    const vmUids = new VmUids(vmUidRange());
    const natGuard = new NatGuard(dataDir, { allowUnguarded: false, vmUids: vmUids.range }, log);
    await natGuard.install();
    let self: AgentVms | undefined;
    // Each QEMU's guest reboots and power-offs, started here or found again, go to the link (agent-run.ts).
    const onRuntime = (runtime: VmRuntime) =>
      runtime.on('event', (ev) => {
        const kind = guestEventOfQmp(ev);
        if (kind) self?.emit('guest-event', runtime.spec.name, kind);
      });
    // Placement was the controller's: every VM this agent starts is on its own host.
    // With home leases on (told at the link), every QEMU started here is a registered sanlock client.
    const launchPrefix = () => self?.leases?.registerPrefix();
    const manager = new VmManager({ dataDir, store, log, hostReport, ownerPolicy: ownerPolicyLoad(undefined), natGuard, placer: { placeVm: async () => host }, vmUids, onRuntime, launchPrefix });
    const appliedPath = join(dataDir, 'vm-generations.json');
    self = new AgentVms(dataDir, manager, store, appliedPath, appliedRead(appliedPath), join(dataDir, 'vm-arrivals.json'), new HostImageChecks(join(dataDir, 'image-checks.json'), host, log), log, storage === 'local' ? new LocalImages(dataDir, host, log) : undefined);
    const found = await manager.reconcile();
    log.info(found, `agent of ${host}: ${found.adopted.length} running VM(s) found again`);
    return self;
  }

  /** A vm-desired message: merged, then a pass (once this host joined the lockspace, when home leases are on). */
  async desiredReceive(vms: readonly VmDesired[], full: boolean): Promise<void> {
    this.desired = desiredMerge(this.desired, vms, full);
    if (full) this.desiredComplete = true;
    this.arrivalsSettle();
    await this.leaseJoin;
    // Home leases on but not joined: nothing is started here (the link is dropped and the join tried again).
    if (this.leases && !this.leasesJoined) return;
    return this.drive();
  }

  /** The cluster uses home leases (the controller's accepted message): this host joins the lockspace with its host id
   *  before it carries out anything, and registers each QEMU it starts from now on. Whether it joined: a failed join is
   *  logged, nothing is carried out, and the caller drops the link to try again at the next. */
  async leasesEnable(settings: AgentHomeLeases): Promise<boolean> {
    // A join still under way (its link dropped meanwhile) is waited for: a second would only be refused (EINPROGRESS).
    if (this.joining) {
      await this.leaseJoin;
      return this.leasesJoined;
    }
    const t0 = Date.now();
    this.joining = true;
    this.leaseJoin = Promise.resolve()
      .then(() => {
        // The client needs native/home-lease.c (setup builds it): its absence is a failed join, said as such.
        this.leases ??= new SanlockClient(process.env);
        return this.leases.joinLockspace(leaseFilesIn(settings.leaseDir), settings.hostId, settings.ioTimeoutS);
      })
      .then(
      () => {
        this.leasesJoined = true;
        this.log.info({ hostId: settings.hostId, joinMs: Date.now() - t0 }, `home leases: this host joined the sanlock lockspace as host id ${settings.hostId}`);
      },
      (err: Error) => {
        this.leasesJoined = false;
        this.log.error({ err: err.message }, `home leases: joining the sanlock lockspace failed (${err.message}); this host takes nothing until it succeeds (tried again at the next link)`);
      },
    )
      .finally(() => (this.joining = false));
    await this.leaseJoin;
    return this.leasesJoined;
  }

  /** Whether this host may be counted up: it joined the lockspace, or home leases are off. */
  get hostReady(): boolean {
    return this.leases === undefined || this.leasesJoined;
  }

  /** This host's sanlock daemon, once it joined the lockspace (vm-command's lease steps). */
  get sanlock(): SanlockClient | undefined {
    return this.leasesJoined ? this.leases : undefined;
  }

  /** This host's sanlock daemon for `what`; refused when home leases are off or its join has not succeeded. */
  private sanlockFor(what: string): SanlockClient {
    if (!this.sanlock) throw new ArdesiaError('LEASE_DAEMON_UNAVAILABLE', `${what}: this host has not joined the lockspace (is its sanlock daemon running? see the agent's log)`);
    return this.sanlock;
  }

  /** One pass after those running (one at a time, in order); a pass already waiting to run covers this call too. */
  drive(): Promise<void> {
    if (this.waiting) return this.passes; // the waiting pass, its failure logged
    this.waiting = this.passes.then(() => {
      this.waiting = undefined;
      return this.pass();
    });
    this.passes = this.waiting.catch((err) => this.log.error({ err }, 'a pass over the desired VMs failed'));
    return this.passes;
  }

  /** Arrivals the controller has now named at their move's generation or later are arrivals no more. */
  private arrivalsSettle(): void {
    const settled = arrivalsSettled(this.arrivals, this.desired);
    for (const name of settled) this.arrivals.delete(name);
    if (settled.length > 0) appliedWrite(this.arrivalsPath, this.arrivals);
  }

  private async pass(): Promise<void> {
    const found = (await this.manager.list()).map((v) => ({ name: v.name, running: v.state !== 'stopped' }));
    const { desired, onHost } = passScope(this.desired, found, { arriving: this.arriving, departed: this.departed, arrivals: this.arrivals });
    const actions = vmActions({ desired, desiredComplete: this.desiredComplete, onHost, applied: this.applied });
    for (const a of actions) {
      // One VM's failure never holds up the others; a failed start is reported with its reason (its lastStopReason).
      await this.carryOut(a).catch((err: Error) => this.log.warn({ err, vm: a.name, action: a.kind }, `vm ${a.name}: ${a.kind} failed: ${err.message}`));
      if (a.kind === 'remove') this.applied.delete(a.name);
      else if (a.generation !== null) this.applied.set(a.name, a.generation);
    }
    if (actions.length > 0) appliedWrite(this.appliedPath, this.applied);
    if (this.desiredComplete) this.templates.release(templatesWanted(this.desired.values()));
    if (this.desiredComplete) await this.collectLocal().catch((err: Error) => this.log.warn({ err }, `removing unused image copies failed: ${err.message}`));
  }

  private async carryOut(a: VmAction): Promise<void> {
    this.log.info({ vm: a.name, action: a.kind }, `vm ${a.name}: ${a.kind}`);
    if (a.kind === 'start') {
      await failpointPause('agent-start-before-launch'); // a test holds a start past the controller's wait for its report
      const given = this.localImages ? await this.localSpec(a) : a.spec;
      const owned = a.confined ? await this.confinedSpec(a.name, given, a.confined) : undefined;
      await this.manager.define([specOnAgentHost(owned?.spec ?? given)], () => 'controller');
      try {
        const fromTemplate = a.restoreFrom ? await this.templateFor(a.name, a.restoreFrom) : undefined;
        // Copies were checked whole as they arrived (local-images.ts); the shared folder's files are checked at first use.
        await this.manager.start(a.name, undefined, undefined, undefined, { ...(this.localImages ? {} : this.checkedFirst(a.images)), ...(fromTemplate ? { fromTemplate } : {}), ...(owned ? { fileGuard: owned.guard } : {}) });
        this.startFailures.delete(a.name);
      } catch (err) {
        this.startFailures.set(a.name, err instanceof ArdesiaError ? err.code : 'VM_START_FAILED');
        throw err;
      }
    } else if (a.kind === 'stop') await this.manager.stop(a.name, {});
    else if (a.kind === 'kill') await this.manager.stop(a.name, { force: true, waitMs: KILL_WAIT_MS });
    else if (a.kind === 'remove') await this.manager.undefine(a.name);
  }

  /** On a host without shared storage: the spec with its files copied and made here. A failure is the start's, reported
   *  with its reason like a QEMU's (the VM defined as the controller gave it, recorded stopped). */
  private async localSpec(a: Extract<VmAction, { kind: 'start' }>): Promise<VmSpec> {
    try {
      return await this.localImages!.prepare(a.spec, a.images ?? [], a.local ?? { disks: [], boot: [] });
    } catch (err) {
      await this.manager.define([specOnAgentHost(a.spec)], () => 'controller');
      await vmSetDesired(this.store, a.name, { desired: 'stopped', lastStopReason: `start failed: ${(err as Error).message}` });
      throw err;
    }
  }

  /** A VM owner's start: its files checked here by their rules (as the controller's host checks them), and the guard the
   *  launch checks each opened file with. A refusal is the start's, reported with its reason (the VM defined as given). */
  private async confinedSpec(name: string, spec: VmSpec, confined: VmConfined): Promise<{ spec: VmSpec; guard: OpenedFileGuard }> {
    try {
      return await confinedOnThisHost(confined, this.dataDir, spec);
    } catch (err) {
      this.startFailures.set(name, err instanceof ArdesiaError ? err.code : 'VM_START_FAILED');
      await this.manager.define([specOnAgentHost(spec)], () => 'controller');
      await vmSetDesired(this.store, name, { desired: 'stopped', lastStopReason: `start failed: ${(err as Error).message}` });
      throw err;
    }
  }

  /** The restore template a clone starts from, checked and its RAM held here; a failure is the start's, with its reason. */
  private async templateFor(name: string, from: VmRestoreFrom): Promise<TemplateToLoad> {
    try {
      return await this.templates.load(from).catch((err: Error) => {
        // A template file that is not its manifest's is a damaged template (rebuilt), not a damaged image.
        throw err instanceof ArdesiaError && err.code === 'IMAGE_CORRUPT' ? new ArdesiaError('VM_STATE_INVALID', err.message) : err;
      });
    } catch (err) {
      await vmSetDesired(this.store, name, { desired: 'stopped', lastStopReason: `start failed: ${(err as Error).message}` });
      throw err;
    }
  }

  /** Copies and made disks no VM of this host needs any more are removed (after each pass). */
  private async collectLocal(): Promise<void> {
    if (!this.localImages) return;
    const held = [...this.desired.values()].filter((d) => d.desired !== 'absent');
    const files = new Set(held.flatMap((d) => [...(d.images ?? []).map((i) => i.path), ...(d.local?.boot ?? [])]));
    const vms = new Set([...held.map((d) => d.name), ...(await this.manager.list()).filter((v) => v.state !== 'stopped').map((v) => v.name)]);
    // A copy's whole chain: its backings are kept with it (each version's checks list its chain).
    await this.localImages.collect(files, vms);
  }

  /** A start's image files checked on this host before QEMU opens them (their first use here, or changed since). */
  private checkedFirst(images: readonly ImageFileCheck[] | undefined): { beforeLaunch?: () => Promise<void> } {
    return images && images.length > 0 ? { beforeLaunch: () => this.imageChecks.verify(images) } : {};
  }

  /**
   * Live migration, destination: the VM defined here and started listening for its state, `connect` feeding it. Once it
   * runs here it is desired running at `generation` (the controller's move), so no pass takes it for a stranger.
   */
  async migrateIn(spec: VmSpec, generation: number, images: readonly ImageFileCheck[], connect: (socketPath: string) => Promise<void>, carried: MigrationCarried = {}): Promise<void> {
    const name = spec.name;
    const sanlock = (carried.leases ?? []).length > 0 ? this.sanlockFor(`the home lease vm ${name} holds`) : undefined;
    // A QEMU of it that left by migration a moment ago is quit by a pass after its absent order: one is run first.
    await (this.hostReady ? this.drive() : this.passes);
    if (this.manager.runtimeOf(name)) throw new ArdesiaError('VM_RUNNING', `vm ${name} already runs on this host`);
    this.arriving.add(name);
    try {
      await this.passes;
      await this.manager.define([specOnAgentHost(spec)], () => 'controller');
      const migrateIn = liveIncoming(name, connect, carried, sanlock, this.log);
      await this.manager.start(name, undefined, undefined, undefined, { migrateIn, ...this.checkedFirst(images) });
      this.departed.delete(name);
      this.desired.set(name, { name, spec, desired: 'running', generation });
      this.applied.set(name, generation);
      appliedWrite(this.appliedPath, this.applied);
      this.arrivals.set(name, generation);
      appliedWrite(this.arrivalsPath, this.arrivals);
    } catch (err) {
      // Nothing kept: the QEMU that failed to load is gone (launch), and its definition goes too unless wanted here.
      if (!this.desired.has(name)) await this.manager.undefine(name).catch(() => undefined);
      throw err;
    } finally {
      this.arriving.delete(name);
    }
  }

  /** Live migration, source: the VM's state into `sink`; once there, its QEMU waits paused, never started again below
   *  `generation` (the controller's move quits it; migrateResume if the destination failed). A failure leaves it running. */
  async migrateOut(name: string, generation: number, to: string, sink: Duplex, leases: readonly MigratingLease[] = []): Promise<MigrationFigures> {
    const runtime = this.manager.runtimeOf(name);
    if (!runtime || runtime.state !== 'running') throw new ArdesiaError('VM_NOT_RUNNING', `vm ${name} does not run on this host`);
    const sanlock = leases.length > 0 ? this.sanlockFor(`the home lease vm ${name} holds`) : undefined;
    // Before the state leaves: from then on, a pass must not take the paused VM for one to start or stop.
    this.departed.set(name, generation);
    const figures = await migrateOutGivingLeases(runtime, sink, leases, sanlock, this.log).catch((err: unknown) => {
      this.departed.delete(name);
      throw err;
    });
    this.log.info({ vm: name, to, ...figures }, `vm ${name} migrated to host ${to} in ${figures.ms} ms (${figures.bytes} bytes, the guest stopped ${figures.downtimeMs ?? '?'} ms)`);
    return figures;
  }

  /** The destination failed after the state left: the VM, paused here, takes back the leases it gave and runs on here
   *  (`ifStayed`: only if its state never left, contract/agent.ts VmMigrateResume). Whether it runs on here now. */
  async migrateResume(name: string, leases: readonly MigratingLease[] = [], ifStayed = false): Promise<boolean> {
    const runtime = this.manager.runtimeOf(name);
    if (!runtime) throw new ArdesiaError('VM_NOT_RUNNING', `vm ${name} does not run on this host: nothing to resume`);
    const outcome = await resumeTakingLeasesBack(runtime, leases, leases.length > 0 ? this.sanlockFor(`the home lease vm ${name} held`) : undefined, ifStayed);
    if (outcome !== 'left') this.departed.delete(name);
    this.log[outcome === 'stayed' ? 'info' : 'warn']({ vm: name }, resumeSaid(name, outcome));
    return outcome !== 'left';
  }

  /** A state saved on the controller's host, for a start placed here: the VM defined here (its reports then say it has
   *  the state, and an order to remove it removes both) and the state checked into its states/. A refusal or a cut
   *  stream leaves nothing of it here. */
  async stateTake(spec: VmSpec, body: Readable): Promise<void> {
    const name = spec.name;
    await this.passes;
    const known = this.desired.has(name);
    await this.manager.define([specOnAgentHost(spec)], () => 'controller');
    // Held as stopped (nothing to carry out) until the controller's start: no pass takes it for a VM not wanted here.
    if (!known) this.desired.set(name, { name, spec, desired: 'stopped', generation: this.applied.get(name) ?? 0 });
    try {
      await this.manager.savedStates.take(name, body);
    } catch (err) {
      body.destroy();
      if (!known) {
        this.desired.delete(name);
        await this.manager.undefine(name).catch(() => undefined);
      }
      throw err;
    }
  }

  /** Pause, unpause, reset, a save to disk and its discard, logs and screendumps, as the controller's VM manager does
   *  them on its own host. */
  get ops(): VmOps {
    return this.manager;
  }

  /** The running QEMU of a VM on this host (its console's streams attach to it), or undefined. */
  runtimeOf(name: string): VmRuntime | undefined {
    return this.manager.runtimeOf(name);
  }

  /** --fence-after: every running VM stopped by force with the reason, after the passes running; their names. */
  fence(reason: string): Promise<string[]> {
    const run = this.passes.then(async () => {
      const running = (await this.manager.list()).filter((v) => v.state !== 'stopped').map((v) => v.name);
      for (const name of running) {
        await this.manager.stop(name, { force: true, waitMs: KILL_WAIT_MS, reason }).catch((err: Error) => this.log.error({ err, vm: name }, `vm ${name}: the fence's stop failed: ${err.message}`));
      }
      return running;
    });
    this.passes = run.then(() => undefined, (err) => this.log.error({ err }, 'the fence failed'));
    return run;
  }

  /** The VMs of this host found stopped (their QEMU gone while the agent was away: the host lost power, QEMU died), as a
   *  partial report: facts the controller may act on before this host joins the lockspace (a session there ends at
   *  once); what runs is reported whole only once the host is as desired. */
  async observedStopped(): Promise<Extract<AgentMessage, { type: 'vm-observed' }>> {
    const all = await this.observed();
    return { ...all, full: false, vms: all.vms.filter((v) => v.state === 'stopped') };
  }

  /** Every VM on the host as the agent sees it now. */
  async observed(): Promise<Extract<AgentMessage, { type: 'vm-observed' }>> {
    // A QEMU gone whose exit is not yet in the store (its start time still there) is reported stopping: `stopped` comes with its reason.
    const exiting = new Set((await vmList(this.store)).filter((r) => r.startedAt !== null).map((r) => r.name));
    const vms: VmObserved[] = (await this.manager.list()).map((v) => ({
      name: v.name,
      state: v.state === 'stopped' && exiting.has(v.name) ? 'stopping' : v.state,
      pid: v.pid,
      accel: v.accel,
      startedAt: v.startedAt,
      generation: this.applied.get(v.name) ?? 0,
      exitReason: v.lastStopReason?.slice(0, 2000) ?? null,
      ...(v.state === 'stopped' && this.startFailures.has(v.name) ? { startFailedCode: this.startFailures.get(v.name)! } : {}),
      ...restoreMsOf(this.manager.runtimeOf(v.name)),
      ...(v.state === 'stopped' && this.manager.savedStates.has(v.name) ? { savedState: true as const } : {}),
    }));
    return { type: 'vm-observed', full: true, vms };
  }

  /** The agent stops: its QEMUs keep running (found again at its next start). */
  async close(): Promise<void> {
    await this.passes;
    this.templates.close();
    await this.manager.shutdown(false);
    await this.store.destroy();
  }
}

function appliedRead(path: string): Map<string, number> {
  try {
    return new Map(Object.entries(JSON.parse(readFileSync(path, 'utf8')) as Record<string, number>).filter(([, g]) => Number.isInteger(g)));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    return new Map();
  }
}

/** Written whole (temp file, then rename): a crash leaves the last or the new set, never half. */
function appliedWrite(path: string, applied: ReadonlyMap<string, number>): void {
  writeFileSync(`${path}.tmp`, `${JSON.stringify(Object.fromEntries(applied))}\n`, { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
}

/** A running clone's restore time, for its report. */
function restoreMsOf(runtime: Pick<VmRuntime, 'restoreMs'> | undefined): { restoreMs?: number } {
  return runtime?.restoreMs === undefined ? {} : { restoreMs: Math.round(runtime.restoreMs) };
}
