// The daemon's VM service: definitions in the store, one VmRuntime per running QEMU, vmctl's verbs; the
// reconciliation that finds VMs again after a restart is vm-reconcile.ts.
import { ArdesiaError } from '../contract/errors.js';
import { type StartCaller, type VmSpec, type VmSpecInput, type VmStatus } from '../contract/vm.js';
import { decideAccel, TCG_WARNING } from '../hypervisor/host/index.js';
import { buildQemuLaunch, DEBIAN_FIRMWARE, type QemuLaunch } from '../hypervisor/qemu/argv.js';
import type { OpenedFileGuard } from '../hypervisor/qemu/process.js';
import { consoleLogTail } from '../hypervisor/console-log.js';
import { type LiveIncoming, VmRuntime } from '../hypervisor/vm-runtime.js';
import { launchVariant } from './vm-launch-variant.js';
import { specForStart } from './vm-start-spec.js';
import { placeStart } from './vm-start-placement.js';
import { KeyedLock } from '../lib/keyed-lock.js';
import { withTimeout } from '../lib/with-timeout.js';
import { VmNetwork } from '../network/vm-network.js';
import { freeTcpPort } from '../gateway/free-port.js';
import { spiceUsesTls } from '../hypervisor/qemu/spice-args.js';
import { spiceCredentialsEnsure } from '../tls/certs.js';
import type { Store } from '../store/db.js';
import { type NamePage, type Paged, pageMap, pageOf } from '../store/paging.js';
import { type VmRecord, vmDelete, vmGet, vmInsert, vmList, vmPlacements, vmSetDesired, vmUpdateSpec } from '../store/vms.js';
import { unprivilegedAccount } from '../lib/unprivileged-account.js';
import { backingChains, handRuntimeFolder, specForAccount, spiceCredentialsForAccount } from './qemu-confinement.js';
import { accountForStart, releaseVmUid } from './vm-uids.js';
import { reconcileVms, shutdownVms, type VmsReconciled } from './vm-reconcile.js';
import { bootKindOf, checkSpecFiles, prepareVmFolders, removeRuntimeFolder, vmFiles } from './vm-files.js';
import { isConfined, OwnerConfinement } from './owner-start.js';
import { failpointPause } from '../lib/failpoint.js';
import { savedStateFiles, savedStateRead, savedStateRemove } from './vm-saved-state.js';
import { VmStates } from './vm-states.js';
import { type RemoteVmDriver, remoteRuntimeView } from './remote-vm.js';
import { restoreFromOf } from './vm-template-state.js';
import { sharedRamRole } from '../hypervisor/saved-state/shared-ram.js';
import { VM_COMMAND_DATA_MAX_BYTES, type VmConfined } from '../contract/agent.js';
import type { StartOptions, StateToResume, VmManagerOptions } from './vm-manager-options.js';
import { monitorFailed, RUNTIME_OPS, type RuntimeOp, screendumpPng, vmSeen, vmStatusView } from './vm-status.js';

/** Why a VM on a template's memory cannot leave its host while it runs (VM_NOT_MIGRATABLE). */
const CLONE_BOUND = "it runs on its pool's restore template's memory, which is on this host";
const TEMPLATE_BOUND = "it is a pool's restore template being built";

/** A paused QEMU left behind by a live migration quits at once (QMP quit); this bounds the wait for it. */
const HAND_OFF_EXIT_MS = 10_000;

export class VmManager {
  private readonly runtimes = new Map<string, VmRuntime>();
  /** VMs handed off to another host by live migration: their QEMU's exit here is not their stop. */
  private readonly quietExits = new Set<string>();
  private readonly lock = new KeyedLock();
  /** Whose caps a running VM counts against: the owner who started it (their vm.conf user otherwise). */
  private readonly startedBy = new Map<string, string>();
  /** Running VMs that cannot leave this host while they run, and why (a live migration is refused with it). */
  private readonly boundHere = new Map<string, string>();
  private readonly owners: OwnerConfinement;
  /** vm send / receive, stop --to-disk (vm-states.ts). */
  readonly savedStates: VmStates;
  /** Taps, bridges, MAC locks and local-interface DHCP of running VMs. */
  readonly network: VmNetwork;

  constructor(private readonly opts: VmManagerOptions) {
    this.network = new VmNetwork((event) => opts.log.debug(event, 'local interface DHCP'));
    this.owners = new OwnerConfinement(opts.ownerPolicy, opts.dataDir);
    this.savedStates = new VmStates(this, opts.store, opts.dataDir, this.lock, opts.remote);
  }

  private get runDir(): string {
    return this.opts.runDir ?? this.opts.dataDir;
  }

  private get db(): Store {
    return this.opts.store;
  }

  // ── definitions ────────────────────────────────────────────────────────────

  /** Defines or redefines VMs (vm.conf load). A running VM keeps its spec until its next start. */
  async define(specs: VmSpec[], source: (name: string) => string): Promise<{ added: string[]; updated: string[] }> {
    const added: string[] = [];
    const updated: string[] = [];
    for (const spec of specs) {
      const existing = await vmGet(this.db, spec.name);
      if (existing) {
        await vmUpdateSpec(this.db, spec, source(spec.name));
        updated.push(spec.name);
      } else {
        await vmInsert(this.db, { spec, source: source(spec.name), transient: false });
        added.push(spec.name);
      }
    }
    return { added, updated };
  }

  async undefine(name: string): Promise<void> {
    await this.lock.run(name, async () => {
      const rec = await this.record(name);
      if (this.runtimes.has(name) || this.runsRemotely(rec)) throw new ArdesiaError('VM_RUNNING', `vm ${name} is running`);
      await vmDelete(this.db, name);
      await savedStateRemove(savedStateFiles(this.opts.dataDir, name)); // a state of a VM no more would resume into a new one of its name
      if (this.opts.remote?.isRemote(rec.host)) this.opts.remote.forget({ ...rec, host: rec.host });
    });
  }

  async record(name: string): Promise<VmRecord> {
    const rec = await vmGet(this.db, name);
    if (!rec) throw new ArdesiaError('VM_NOT_FOUND', `vm ${name} is not defined`);
    return rec;
  }

  async get(name: string): Promise<VmStatus> {
    return this.statusOf(await this.record(name));
  }

  async list(): Promise<VmStatus[]> {
    return (await this.listPage()).items;
  }

  /** Every VM, or one page of them by name. */
  async listPage(page?: NamePage): Promise<Paged<VmStatus>> {
    return pageMap(pageOf(await vmList(this.db, page), page, (r) => r.name), (r) => this.statusOf(r));
  }

  /** Every defined VM's (or these VMs') state in one query (lists of desktops read it without a query per row), as `vm
   *  status` has it: one on an agent's host as its agent last reported it. */
  async states(names?: readonly string[]): Promise<Map<string, VmStatus['state']>> {
    const remote = this.opts.remote;
    return new Map((await vmPlacements(this.db, names)).map((r) => [r.name, vmSeen(r, this.runtimes.get(r.name), remote?.isRemote(r.host) === true).state]));
  }

  /** The host of a VM that runs under a remote agent now (as its agent last reported), or undefined. */
  async remoteHostOf(name: string): Promise<string | undefined> {
    const rec = await this.record(name);
    return this.runsRemotely(rec) ? (rec.host ?? undefined) : undefined;
  }

  private runsRemotely(rec: VmRecord): boolean {
    return !this.runtimes.has(rec.name) && this.opts.remote?.isRemote(rec.host) === true && remoteRuntimeView(rec).running;
  }

  private statusOf(rec: VmRecord): VmStatus {
    const remote = this.opts.remote;
    const onAnotherHost = remote?.isRemote(rec.host) === true;
    const savedOn = onAnotherHost ? (rec.observed?.savedState ? rec.host : null) : this.savedStates.has(rec.name) ? (remote?.localHost ?? rec.host ?? 'this host') : null;
    return vmStatusView(rec, this.runtimes.get(rec.name), onAnotherHost, savedOn);
  }

  // ── vmctl verbs ────────────────────────────────────────────────────────────

  /**
   * Starts a defined VM, or defines a transient one from `adHoc` (vmctl start with flags only).
   * Nothing is left behind on failure: no runtime folder, no QEMU, no transient record. A caller who
   * is not an administrator is confined to their owner policy (owner-start.ts).
   */
  async start(name: string, adHoc?: Partial<VmSpecInput>, template?: string, caller?: StartCaller, opts: StartOptions = {}): Promise<VmStatus> {
    if (!isConfined(caller)) return this.lock.run(name, () => this.startLocked(name, adHoc, template, undefined, opts));
    this.owners.overridesCheck(name, adHoc);
    // One start at a time per owner: two VMs starting together must not both fit the same quota.
    return this.lock.run(`owner:${caller.name}`, () => this.lock.run(name, () => this.startLocked(name, adHoc, template, caller, opts)));
  }

  private async startLocked(name: string, adHoc?: Partial<VmSpecInput>, template?: string, caller?: StartCaller, opts: StartOptions = {}): Promise<VmStatus> {
    if (this.runtimes.has(name)) throw new ArdesiaError('VM_RUNNING', `vm ${name} is already running`);
    const before = await vmGet(this.db, name);
    if (before && this.runsRemotely(before)) throw new ArdesiaError('VM_RUNNING', `vm ${name} is already running on host ${before.host}`);
    const stateFiles = savedStateFiles(this.opts.dataDir, name);
    if (opts.discardState) await savedStateRemove(stateFiles);
    const saved = savedStateRead(stateFiles);
    const resume: StateToResume | undefined = saved && { manifest: saved, files: stateFiles, verified: opts.stateVerified };
    const stateOn = resume ? undefined : await this.savedStates.remoteStateHost(before, opts.discardState === true);
    if (resume && opts.fromTemplate) throw new ArdesiaError('VM_STATE_EXISTS', `vm ${name} has a saved state of its own: it cannot also start as a template's clone`);
    const { spec: defined, created } = await specForStart(this.db, name, adHoc, template);
    try {
      const spec = isConfined(caller) ? await this.owners.confine(caller.name, defined, await this.runningOf(caller.name)) : defined;
      if (isConfined(caller)) await failpointPause('owner-start-after-check');
      const remote = this.opts.remote;
      const host = await placeStart(this.db, this.opts.placer, remote, this.lock, { name, spec, before, resume, stateOn, confinedBy: isConfined(caller) ? caller.name : null, opts });
      if (remote?.isRemote(host)) {
        // A state saved here goes where the start was placed; once stored there, that copy is the one (this one is stale).
        const stateThere = resume && (async () => {
          await remote.states.push(host, spec, stateFiles, resume.manifest);
          await savedStateRemove(stateFiles);
        });
        const confined = isConfined(caller) ? this.owners.confinedWire(caller.name) : undefined;
        await remote.start(name, spec, host, { ...(opts.fromTemplate ? { restoreFrom: restoreFromOf(opts.fromTemplate) } : {}), ...(stateThere ? { beforeSend: stateThere } : {}), ...(confined ? { confined } : {}) });
        return this.statusOf(await this.record(name));
      }
      await opts.beforeLaunch?.();
      const runtime = await this.launch(spec, isConfined(caller) ? this.owners.openedFileGuard(caller.name, name) : opts.fileGuard, resume, opts);
      // Consumed: the guest runs on from it and its disks change, so it could never load again.
      if (resume) await savedStateRemove(stateFiles);
      if (caller) this.startedBy.set(name, caller.name);
      const bound = isConfined(caller) ? `it was started by ${caller.name} under the owner rules, its files checked for that user on this host` : opts.fromTemplate ? CLONE_BOUND : opts.templateRam ? TEMPLATE_BOUND : undefined;
      if (bound) this.boundHere.set(name, bound);
      await vmSetDesired(this.db, name, { startedAt: runtime.startedAt });
    } catch (err) {
      if (created) await vmDelete(this.db, name);
      else await vmSetDesired(this.db, name, { desired: 'stopped', lastStopReason: `start failed: ${(err as Error).message}` });
      throw err;
    }
    return this.statusOf(await this.record(name));
  }

  private chargedTo(spec: VmSpec): string | undefined {
    return this.startedBy.get(spec.name) ?? spec.owner?.user;
  }

  /** The VMs an owner's caps count, wherever they run: here, and on agents' hosts (by whose start they run under). */
  private async runningOf(owner: string): Promise<VmSpec[]> {
    const here = [...this.runtimes.values()].filter((rt) => this.chargedTo(rt.spec) === owner).map((rt) => rt.spec);
    const elsewhere = this.opts.remote ? (await vmList(this.db)).filter((r) => this.runsRemotely(r) && (r.confinedBy ?? r.spec.owner?.user) === owner).map((r) => r.spec) : [];
    return [...here, ...elsewhere];
  }

  /** What an agent's host checks a VM owner's start by (the desired set sent at each link carries it). */
  ownerConfined(principal: string): VmConfined {
    return this.owners.confinedWire(principal);
  }

  private async launch(spec: VmSpec, guard?: OpenedFileGuard, resume?: StateToResume, { fromTemplate, templateRam, launchPrefix, migrateIn }: StartOptions = {}): Promise<VmRuntime> {
    checkSpecFiles(spec);
    const bootKind = await bootKindOf(spec);
    const report = await this.opts.hostReport;
    const accel = decideAccel(spec.accel, report);
    const files = vmFiles(this.runDir, spec.name);
    const disks = new Set(spec.disks.filter((d) => !d.readonly).map((d) => d.path));
    for (const other of this.runtimes.values()) {
      const shared = other.spec.disks.find((d) => disks.has(d.path));
      if (shared) throw new ArdesiaError('VM_DISK_IN_USE', `vm ${spec.name}: disk ${shared.path} is in use by vm ${other.spec.name}`);
    }
    const account = await accountForStart(spec, unprivilegedAccount(), this.opts.vmUids, this.opts.natGuard);
    const qemuAccount = this.opts.natGuard.accountFor(spec, account); // throws only for host access, which an allow-list VM cannot have
    prepareVmFolders(files);
    try {
      handRuntimeFolder(this.runDir, files, account);
      await this.network.attach(spec);
      const spice = spec.display?.spice;
      const spicePort = spice && spice.port === undefined ? await freeTcpPort(spice.listen) : undefined;
      const spiceX509Dir = spiceCredentialsForAccount(spice && spiceUsesTls(spice) ? await spiceCredentialsEnsure(this.opts.dataDir) : undefined, files.runtime.dir, account);
      const launchSpec = specForAccount(spec, files.runtime.dir, account, guard);
      const chains = await backingChains(spec);
      const built: QemuLaunch = { ...buildQemuLaunch(launchSpec, { paths: files.runtime, accel, firmware: DEBIAN_FIRMWARE, bootKind, spicePort, spiceX509Dir, chains }), prefix: launchPrefix ?? (typeof this.opts.launchPrefix === 'function' ? this.opts.launchPrefix() : this.opts.launchPrefix) };
      const { launch, incoming } = await launchVariant(spec, built, { runtimeDir: files.runtime.dir, accel, qemuVersion: report.qemu.version ?? 'unknown', chains, resume, fromTemplate, migrateIn, templateRam });
      const runtime = await VmRuntime.launch(spec, launch, files.runtime, files.consoleLog, accel, qemuAccount, guard, incoming);
      this.track(runtime);
      if (accel === 'tcg') this.opts.log.warn({ vm: spec.name }, `vm ${spec.name} runs under TCG: ${TCG_WARNING}`);
      this.opts.log.info({ vm: spec.name, pid: runtime.pid, accel, restoreMs: runtime.restoreMs }, `vm ${spec.name} ${resume ? 'resumed from its saved state' : fromTemplate ? `restored from template ${fromTemplate.manifest.key}` : migrateIn ? 'arrived by live migration' : 'started'}`);
      return runtime;
    } catch (err) {
      await this.network.detach(spec.name);
      removeRuntimeFolder(files);
      await releaseVmUid(spec.name, this.opts.vmUids, this.opts.natGuard);
      throw err;
    }
  }

  private track(runtime: VmRuntime): void {
    const name = runtime.spec.name;
    this.runtimes.set(name, runtime);
    // A QEMU found again after a restart: its argv says whether it runs on a template's memory on this host.
    const role = sharedRamRole(runtime.launchArgv.args);
    if (role && !this.boundHere.has(name)) this.boundHere.set(name, role === 'clone' ? CLONE_BOUND : TEMPLATE_BOUND);
    this.opts.onRuntime?.(runtime);
    runtime.on('exited', (reason) => {
      this.runtimes.delete(name);
      this.startedBy.delete(name);
      this.boundHere.delete(name);
      removeRuntimeFolder(vmFiles(this.runDir, name));
      void this.network.detach(name).catch((err) => this.opts.log.error({ err, vm: name }, 'removing the VM\'s taps failed'));
      void releaseVmUid(name, this.opts.vmUids, this.opts.natGuard).catch((err) => this.opts.log.error({ err, vm: name }, 'removing the VM\'s allow-list from the NAT guard failed'));
      this.opts.log.info({ vm: name, reason }, `vm ${name} stopped: ${reason}`);
      void this.afterExit(name, reason).catch((err) => this.opts.log.error({ err, vm: name }, 'recording the stop failed'));
    });
  }

  private async afterExit(name: string, reason: string): Promise<void> {
    if (this.quietExits.delete(name)) return; // it runs on another host now
    const rec = await vmGet(this.db, name);
    if (!rec) return;
    if (rec.transient) await vmDelete(this.db, name);
    else await vmSetDesired(this.db, name, { desired: 'stopped', lastStopReason: reason, startedAt: null });
  }

  /** Why the running VM `name` cannot move to another host while it runs; undefined when it can. */
  boundHereWhy(name: string): string | undefined {
    return this.boundHere.get(name);
  }

  /** A live migration's destination on this host (the controller's own, vm-migrations.ts): the VM launched listening
   *  for its state; the caller records it here once it runs. */
  arriveHere(spec: VmSpec, migrateIn: LiveIncoming): Promise<VmRuntime> {
    return this.lock.run(spec.name, async () => {
      if (this.runtimes.has(spec.name)) throw new ArdesiaError('VM_RUNNING', `vm ${spec.name} is already running on this host`);
      return this.launch(spec, undefined, undefined, { migrateIn });
    });
  }

  /** After a live migration away from this host (its record names the new host already): the paused QEMU left here
   *  is quit and forgotten, its exit not recorded as the VM's stop. */
  async handOff(name: string, reason: string): Promise<void> {
    const rt = this.runtimes.get(name);
    if (!rt) return;
    this.quietExits.add(name);
    await rt.forceStop(reason).catch(() => undefined);
    await withTimeout(rt.waitExit(), HAND_OFF_EXIT_MS);
  }

  running(name: string): VmRuntime {
    const rt = this.runtimes.get(name);
    if (!rt) throw new ArdesiaError('VM_NOT_RUNNING', `vm ${name} is not running`);
    return rt;
  }

  /** ACPI power button (vmctl stop), or QEMU quit with force; with waitMs, until QEMU is gone. */
  /** `reason`: what a forced stop records (default: stopped by force). */
  async stop(name: string, opts: { force?: boolean; waitMs?: number; reason?: string }): Promise<{ stopped: boolean; reason?: string }> {
    const rec = await this.record(name);
    if (this.opts.remote?.isRemote(rec.host) && !this.runtimes.has(name)) return this.opts.remote.stop({ ...rec, host: rec.host }, opts);
    const rt = this.running(name);
    await vmSetDesired(this.db, name, { desired: 'stopped' });
    if (opts.force) await rt.forceStop(opts.reason);
    else await rt.powerdown();
    const waitMs = opts.force ? Math.max(opts.waitMs ?? 0, 10_000) : opts.waitMs;
    if (!waitMs) return { stopped: rt.exited };
    const reason = await withTimeout(rt.waitExit(), waitMs);
    if (reason === undefined) {
      rt.stopAbandoned();
      throw new ArdesiaError('VM_STOP_TIMEOUT', `vm ${name} did not power off within ${Math.round(waitMs / 1000)} s after the power button`);
    }
    return { stopped: true, reason };
  }

  pause(name: string): Promise<VmStatus> {
    return this.operate(name, 'pause');
  }

  unpause(name: string): Promise<VmStatus> {
    return this.operate(name, 'unpause');
  }

  reset(name: string): Promise<VmStatus> {
    return this.operate(name, 'reset');
  }

  /** vmctl pause, unpause, reset: by its agent, or QMP here when its state allows it (RUNTIME_OPS). */
  private async operate(name: string, op: RuntimeOp): Promise<VmStatus> {
    if (await this.onAgent(name, (remote, rec) => remote.operate(rec, op).then(() => true))) return this.get(name);
    const rt = this.running(name);
    const { allowed, refusal } = RUNTIME_OPS[op];
    if (!allowed(rt.state)) throw new ArdesiaError('VM_BUSY', `vm ${name} is ${rt.state}${refusal}`);
    await rt[op]().catch(monitorFailed(name, op));
    return this.get(name);
  }

  /** vmctl wait: until the VM stops; the stop reason. */
  async wait(name: string, timeoutMs: number): Promise<string> {
    const rec = await this.record(name);
    const rt = this.runtimes.get(name);
    if (!rt && this.opts.remote?.isRemote(rec.host) && this.runsRemotely(rec)) return this.opts.remote.waitStopped({ ...rec, host: rec.host }, timeoutMs);
    if (!rt) return rec.lastStopReason ?? 'not running';
    const reason = await withTimeout(rt.waitExit(), timeoutMs);
    if (reason === undefined) throw new ArdesiaError('VM_WAIT_TIMEOUT', `vm ${name} still runs after ${Math.round(timeoutMs / 1000)} s`);
    return reason;
  }

  async consoleLog(name: string, maxBytes: number): Promise<Buffer> {
    const remote = await this.onAgent(name, (remote, rec) => remote.read(rec, 'console-log', maxBytes));
    if (remote) return remote;
    return consoleLogTail(vmFiles(this.runDir, name).consoleLog, maxBytes);
  }

  async qemuLog(name: string, maxBytes: number): Promise<Buffer> {
    const remote = await this.onAgent(name, (remote, rec) => remote.read(rec, 'qemu-log', maxBytes));
    if (remote) return remote;
    return consoleLogTail(vmFiles(this.runDir, name).runtime.log, maxBytes);
  }

  /** A PNG of the VM's screen now (QMP screendump into the VM's runtime folder, read back, removed). */
  async screendump(name: string): Promise<Buffer> {
    const remote = await this.onAgent(name, (remote, rec) => remote.read(rec, 'screendump', VM_COMMAND_DATA_MAX_BYTES));
    if (remote) return remote;
    const rt = this.runtimeOf(name);
    if (!rt) throw new ArdesiaError('VM_NOT_RUNNING', `vm ${name} is not running`);
    return screendumpPng(rt);
  }

  /** A VM on an agent's host: `step` done through its agent, and its answer (undefined: the VM is this host's). */
  private async onAgent<T>(name: string, step: (remote: RemoteVmDriver, rec: VmRecord & { host: string }) => Promise<T>): Promise<T | undefined> {
    const rec = await this.record(name);
    const remote = this.opts.remote;
    if (!remote?.isRemote(rec.host) || this.runtimes.has(name)) return undefined;
    remote.requireLinked(rec.host);
    return step(remote, { ...rec, host: rec.host });
  }

  runtimeOf(name: string): VmRuntime | undefined {
    return this.runtimes.get(name);
  }

  // ── reconciliation (vm-reconcile.ts) ──────────────────────────────────────

  /** After a (re)start: adopt live QEMUs, record the ones that died meanwhile, kill orphans. */
  reconcile(): Promise<VmsReconciled> {
    return reconcileVms({ ...this.opts, runDir: this.runDir, network: this.network, track: (runtime) => this.track(runtime) });
  }

  /** How many VMs this daemon runs now. */
  get runningCount(): number {
    return this.runtimes.size;
  }

  /** Daemon shutdown: VMs keep running unless `stopVms`; connections are dropped. */
  async shutdown(stopVms = false): Promise<void> {
    await shutdownVms({ store: this.db, runDir: this.runDir, network: this.network }, this.runtimes, stopVms);
    this.runtimes.clear();
    this.network.close();
  }
}
