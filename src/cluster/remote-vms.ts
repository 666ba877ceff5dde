// The controller's side of VMs on remote hosts: each desired change takes the next generation and is sent over the host's
// agent link (the whole set again at every connect, agent-links.ts); the agent's reports are kept with the VM, and a
// VM that stopped by itself is recorded stopped with its reason, as the controller's own VMs are.
import type { Logger } from 'pino';
import { type AgentMessage, VM_COMMAND_DATA_MAX_BYTES, type VmDesired, type VmMoveIntent, type VmObserved, type VmConfined } from '../contract/agent.js';
import { ArdesiaError, type ErrorCode } from '../contract/errors.js';
import type { VmSpec } from '../contract/vm.js';
import type { Store } from '../store/db.js';
import { type VmRecord, vmDelete, vmGet, vmListMoving, vmListOnHosts, vmNextGeneration, vmSetDesired, vmSetObserved } from '../store/vms.js';
import type { VmRuntime } from '../hypervisor/vm-runtime.js';
import type { RemoteStartOptions, RemoteVmDriver } from '../vms/remote-vm.js';
import type { AgentLinks, AgentVmChannel } from './agent-links.js';
import type { ImageChecksOf, LocalFilesOf } from './image-checks.js';
import { storageOf } from './host-repo.js';
import type { RemoteDesktopVms } from './remote-desktop-vms.js';
import type { RemoteStates } from './remote-states.js';

/** How long `vm start` waits for the agent's report that the VM runs (or why it did not start). */
export const REMOTE_START_REPORT_WITHIN_MS = 60_000;
/** The same on a host without shared storage: its agent may first copy the image files over the link (gigabytes). */
export const LOCAL_STORAGE_START_REPORT_WITHIN_MS = 30 * 60_000;
/** A pause, reset or read answered by the agent within this (a screendump under TCG is the slowest). */
const OPERATE_ANSWER_MS = 30_000;
/** After a pause or unpause, how long its state may take to show in the agent's report. */
const OPERATE_REPORT_WITHIN_MS = 10_000;
/** A save to disk writes the guest's whole RAM on the VM's host (a TCG guest of a few GiB: a minute or more). */
const SAVE_ANSWER_MS = 600_000;
/** The agent reports the VM stopped with its state right after it answers. */
const SAVE_REPORT_WITHIN_MS = 30_000;

interface Waiter {
  name: string;
  done: (o: VmObserved) => boolean;
  resolve: (o: VmObserved | undefined) => void;
}

export class RemoteVms implements RemoteVmDriver, AgentVmChannel {
  private readonly waiters = new Set<Waiter>();
  private readonly exitListeners: ((name: string, reason: string) => void)[] = [];
  private readonly lateStartListeners: ((name: string) => void)[] = [];
  /** Starts whose agent had not reported them within the start's wait: their first report of running is announced. */
  private readonly lateStarts = new Set<string>();
  private commands: Pick<RemoteDesktopVms, 'command' | 'commandData'> | undefined;
  private statesAttached: RemoteStates | undefined;
  private confinement: ((principal: string) => VmConfined) | undefined;
  /** VMs under live migration (vm-migrations.ts): both hosts' reports of them wait until the move is recorded. */
  private readonly moving = new Set<string>();
  /** What follows a move found finished but unrecorded (vm-migrations.ts); the VMs whose unrecorded move is being settled now. */
  private arrivalHandler: ((rec: VmRecord & { host: string }, to: string, o: VmObserved) => Promise<void>) | undefined;
  private readonly movesBeingSettled = new Set<string>();
  /** What follows a move a controller stopped in whose destination does not have the VM (vm-migrations.ts). */
  private unfinishedHandler: ((rec: VmRecord & { host: string; moving: VmMoveIntent }) => Promise<void>) | undefined;
  /** Each host's last full report to this controller: a move's destination must have reported before it is judged. */
  private readonly fullReports = new Map<string, ReadonlyMap<string, VmObserved>>();
  private localRuntimeOf: ((name: string) => Pick<VmRuntime, 'state' | 'pid' | 'accel' | 'startedAt'> | undefined) | undefined;

  constructor(
    private readonly db: Store,
    private readonly links: AgentLinks,
    readonly localHost: string,
    private readonly log: Logger,
    /** The image files a start rests on, for its host to check before their first use there. */
    readonly imageChecksOf: ImageChecksOf,
    /** How a VM's files are had on a host without shared storage. */
    private readonly localFilesOf: LocalFilesOf,
  ) {
    links.attachVms(this);
  }

  /** Each VM's exit as its agent reports it (a pool desktop's lifecycle follows it). */
  onExit(listener: (name: string, reason: string) => void): void {
    this.exitListeners.push(listener);
  }

  /** Each VM whose start its agent reported running only after the start's wait (a host slow to start it). */
  onLateStart(listener: (name: string) => void): void {
    this.lateStartListeners.push(listener);
  }

  isRemote(host: string | null): host is string {
    return host !== null && host !== this.localHost;
  }

  requireLinked(host: string): void {
    if (!this.links.isLinked(host)) throw this.notLinked(host);
  }

  private notLinked(host: string): ArdesiaError {
    return new ArdesiaError('AGENT_NOT_LINKED', `host ${host}'s agent is not connected to this controller: nothing was started (neither there nor here)`);
  }

  async start(name: string, spec: VmSpec, host: string, { restoreFrom, beforeSend, confined }: RemoteStartOptions = {}): Promise<void> {
    const generation = await this.nextGeneration(name);
    // Recorded with the generation: every desired set until it runs carries the template (a link lost meanwhile). Desired
    // running again: a report at the generation before, read between the placement's record and this one (or during
    // beforeSend), was no stop.
    await vmSetDesired(this.db, name, { generation, restoreFrom: restoreFrom ?? null, desired: 'running', lastStopReason: null });
    this.lateStarts.delete(name);
    await beforeSend?.();
    const images = await this.imageChecksOf(spec);
    const local = await this.localStorage(host);
    const vm: VmDesired = { name, spec, desired: 'running', generation, images, ...(restoreFrom ? { restoreFrom } : {}), ...(confined ? { confined } : {}) };
    if (!this.sendNow(host, local ? await this.withLocalFiles(vm) : vm)) throw this.notLinked(host);
    const within = local ? LOCAL_STORAGE_START_REPORT_WITHIN_MS : REMOTE_START_REPORT_WITHIN_MS;
    const seen = await this.waitFor(name, (o) => o.generation >= generation && o.state !== 'starting', within);
    if (!seen) {
      this.lateStarts.add(name);
      this.log.warn({ vm: name, host }, `the agent of ${host} has not reported vm ${name} within ${within / 1000} s; it stays desired running`);
    }
    else if (seen.state === 'stopped') throw new ArdesiaError(remoteStartFailure(seen.startFailedCode), `vm ${name} did not start on host ${host}: ${seen.exitReason ?? 'no reason reported'}`);
  }

  async stop(rec: VmRecord & { host: string }, opts: { force?: boolean; waitMs?: number }): Promise<{ stopped: boolean; reason?: string }> {
    if (!rec.observed || rec.observed.state === 'stopped') throw new ArdesiaError('VM_NOT_RUNNING', `vm ${rec.name} is not running (on host ${rec.host})`);
    const generation = await this.nextGeneration(rec.name);
    await vmSetDesired(this.db, rec.name, { desired: 'stopped', generation });
    if (!(await this.send(rec.host, { name: rec.name, spec: rec.spec, desired: 'stopped', generation, ...(opts.force ? { force: true } : {}) }))) {
      throw new ArdesiaError('AGENT_NOT_LINKED', `host ${rec.host}'s agent is not connected: the stop of vm ${rec.name} is recorded and carried out when it reconnects`);
    }
    const waitMs = opts.force ? Math.max(opts.waitMs ?? 0, 10_000) : opts.waitMs;
    if (!waitMs) return { stopped: false };
    const seen = await this.waitFor(rec.name, (o) => o.generation >= generation && o.state === 'stopped', waitMs);
    if (!seen) throw new ArdesiaError('VM_STOP_TIMEOUT', `vm ${rec.name} on host ${rec.host} did not power off within ${Math.round(waitMs / 1000)} s`);
    return { stopped: true, ...(seen.exitReason ? { reason: seen.exitReason } : {}) };
  }

  async waitStopped(rec: VmRecord & { host: string }, timeoutMs: number): Promise<string> {
    const seen = await this.waitFor(rec.name, (o) => o.state === 'stopped', timeoutMs);
    if (!seen) throw new ArdesiaError('VM_WAIT_TIMEOUT', `vm ${rec.name} still runs on host ${rec.host} after ${Math.round(timeoutMs / 1000)} s`);
    return seen.exitReason ?? 'stopped';
  }

  forget(rec: VmRecord & { host: string }): void {
    // Not linked: the next link's full set lacks the VM, which is the same message.
    this.sendNow(rec.host, { name: rec.name, spec: rec.spec, desired: 'absent', generation: vmNextGeneration(rec.generation) });
  }

  /** The host's whole desired set: every VM recorded there. */
  async desiredSet(host: string): Promise<VmDesired[]> {
    const rows = await vmListOnHosts(this.db, [host]);
    // A VM desired running may be started by this set (its agent had not yet carried it out): its files come along.
    const local = await this.localStorage(host);
    return Promise.all(
      rows.map(async (r) => {
        const running = r.desired === 'running' ? { images: await this.imageChecksOf(r.spec), ...(r.restoreFrom ? { restoreFrom: r.restoreFrom } : {}), ...(r.confinedBy ? { confined: this.confinedOf(r.confinedBy) } : {}) } : {};
        const vm: VmDesired = { name: r.name, spec: r.spec, desired: r.desired, generation: r.generation, ...running };
        return local ? this.withLocalFiles(vm) : vm;
      }),
    );
  }

  async observed(host: string, report: Extract<AgentMessage, { type: 'vm-observed' }>): Promise<void> {
    const reported = new Set<string>();
    for (const o of report.vms) {
      reported.add(o.name);
      const rec = await vmGet(this.db, o.name);
      // A VM removed meanwhile: the agent drops it when the next desired set lacks it.
      if (!rec || this.moving.has(o.name)) continue;
      if (rec.host === host) await this.record({ ...rec, host }, o);
      else this.reportedElsewhere(rec, host, o);
    }
    if (report.full) {
      this.fullReports.set(host, new Map(report.vms.map((o) => [o.name, o])));
      await this.unfinishedMovesCheck(host);
      for (const rec of (await vmListOnHosts(this.db, [host])).filter((r) => r.observed !== null && !reported.has(r.name) && !this.moving.has(r.name))) {
        await vmSetObserved(this.db, rec.name, null);
        // Its agent has no trace of it (the host restarted before it was judged down): gone, as after an exit.
        if (rec.observed!.state !== 'stopped') this.exited(rec.name, `not on host ${host} any more: its agent, back, does not have it`);
      }
    }
  }

  private async record(rec: VmRecord & { host: string }, o: VmObserved): Promise<void> {
    await vmSetObserved(this.db, rec.name, o);
    if (o.state === 'stopped' && rec.observed !== null && rec.observed.state !== 'stopped') {
      this.exited(rec.name, o.exitReason ?? 'stopped');
    }
    // A QEMU gone whose exit its agent has not recorded yet is reported `stopping` without a start time: that is no new
    // start time (cleared, its stop that follows would not be recorded as one).
    if (o.state !== 'stopped' && o.startedAt !== null && o.startedAt !== rec.startedAt) await vmSetDesired(this.db, rec.name, { startedAt: o.startedAt });
    if (o.state === 'running' && this.lateStarts.delete(rec.name)) {
      for (const listener of this.lateStartListeners) listener(rec.name);
    }
    // Stopped after the agent applied the current generation (asked to, or by itself: the guest powered off, QEMU died):
    // recorded as a stop with its reason, once.
    const newStop = rec.desired === 'running' || (rec.startedAt !== null && rec.lastStopReason !== o.exitReason);
    if (o.state === 'stopped' && o.generation === rec.generation && newStop) {
      this.log.info({ vm: rec.name, host: rec.host, reason: o.exitReason }, `vm ${rec.name} on host ${rec.host} stopped: ${o.exitReason ?? 'no reason reported'}`);
      if (rec.transient) {
        await vmDelete(this.db, rec.name);
        this.forget(rec);
      } else await vmSetDesired(this.db, rec.name, { desired: 'stopped', lastStopReason: o.exitReason, startedAt: null });
    }
    for (const w of this.waiters) if (w.name === rec.name && w.done(o)) w.resolve(o);
  }

  /** A VM reported by a host its record does not name. Running there at a generation above the record's, it arrived by a
   *  live migration this controller did not record (it stopped between the destination's resume and the record): the
   *  move is followed (onUnrecordedArrival). Anything else is no copy the cluster gave that host: ordered absent there (a
   *  full set alone does not quit an arrival its agent holds unconfirmed). */
  private reportedElsewhere(rec: VmRecord, host: string, o: VmObserved): void {
    const arrived = (o.state === 'running' || o.state === 'paused') && o.generation > rec.generation && rec.host !== null;
    if (arrived && this.arrivalHandler) return this.followArrival({ ...rec, host: rec.host! }, host, o);
    this.sendNow(host, { name: rec.name, spec: rec.spec, desired: 'absent', generation: Math.max(o.generation, rec.generation) });
  }

  private followArrival(rec: VmRecord & { host: string }, to: string, o: VmObserved): void {
    if (!this.arrivalHandler || this.movesBeingSettled.has(rec.name)) return;
    this.movesBeingSettled.add(rec.name);
    void this.arrivalHandler(rec, to, o)
      .catch((err: Error) => this.log.error({ err, vm: rec.name, host: to }, `vm ${rec.name}: following its unrecorded move to host ${to} failed: ${err.message}`))
      .finally(() => this.movesBeingSettled.delete(rec.name));
  }

  /**
   * Moves recorded as under way that no migration of this controller carries (a controller stopped in them), whose
   * source or destination just reported: once the destination has reported to this controller without the VM running
   * at the move's generation, the move failed, and the source is told to run it on (onUnfinishedMove). A destination
   * that has it is followed by reportedElsewhere instead; one not yet back is waited for. A move onto this controller's
   * own host is judged by its QEMU there (found again at the restart) when the source reports: resumed, the move is
   * followed; not there or never resumed, it failed.
   */
  private async unfinishedMovesCheck(host: string): Promise<void> {
    for (const rec of await vmListMoving(this.db)) {
      const intent = rec.moving!;
      if (rec.host === null || this.moving.has(rec.name) || (intent.to !== host && rec.host !== host)) continue;
      if (!this.unfinishedHandler || this.movesBeingSettled.has(rec.name)) continue;
      const toHere = !this.isRemote(intent.to);
      if (!toHere && !this.fullReports.has(intent.to)) continue;
      const o = toHere ? this.localArrival(rec.name, intent.generation) : this.fullReports.get(intent.to)!.get(rec.name);
      if (toHere && o?.state === 'running') {
        this.followArrival({ ...rec, host: rec.host }, intent.to, o);
        continue;
      }
      if (!toHere && o && (o.state === 'running' || o.state === 'paused') && o.generation >= intent.generation) continue;
      this.movesBeingSettled.add(rec.name);
      void this.unfinishedHandler({ ...rec, host: rec.host, moving: intent })
        .catch((err: Error) => this.log.warn({ err: err.message, vm: rec.name, host: rec.host }, `vm ${rec.name}: resuming it on host ${rec.host} after its unfinished move to host ${intent.to} failed (tried again at that host's next report): ${err.message}`))
        .finally(() => this.movesBeingSettled.delete(rec.name));
    }
  }

  /** A VM's QEMU on this controller's own host as an agent would report it after a move there at `generation`. */
  private localArrival(name: string, generation: number): VmObserved | undefined {
    const rt = this.localRuntimeOf?.(name);
    if (!rt) return undefined;
    return { name, state: rt.state === 'running' ? 'running' : 'paused', pid: rt.pid, accel: rt.accel, startedAt: rt.startedAt, generation, exitReason: null };
  }

  /** The controller's own VM manager's QEMUs: no agent reports them, a move onto that host is judged by them. */
  attachLocalRuntimes(runtimeOf: (name: string) => Pick<VmRuntime, 'state' | 'pid' | 'accel' | 'startedAt'> | undefined): void {
    this.localRuntimeOf = runtimeOf;
  }

  /** How a move a controller stopped in, whose destination does not have the VM, is ended (vm-migrations.ts). */
  onUnfinishedMove(handler: (rec: VmRecord & { host: string; moving: VmMoveIntent }) => Promise<void>): void {
    this.unfinishedHandler = handler;
  }

  /** How a move found finished but unrecorded is followed (vm-migrations.ts). */
  onUnrecordedArrival(handler: (rec: VmRecord & { host: string }, to: string, o: VmObserved) => Promise<void>): void {
    this.arrivalHandler = handler;
  }

  /** That move recorded, with the destination's report, if the record is still as it was found (no other change since);
   *  whether it was. */
  async movedFound(found: VmRecord & { host: string }, to: string, o: VmObserved): Promise<boolean> {
    const rec = await vmGet(this.db, found.name);
    if (!rec || rec.host !== found.host || rec.generation !== found.generation || o.generation <= rec.generation) return false;
    await this.moved({ ...rec, host: found.host }, to, o.generation);
    const now = await vmGet(this.db, rec.name);
    // The controller's own host reports nothing: its VM manager has the QEMU.
    if (now && this.isRemote(to)) await this.record({ ...now, host: to }, o);
    return true;
  }

  /** The channel for steps on a VM (remote-desktop-vms.ts, which holds the answers by id). */
  attachCommands(commands: Pick<RemoteDesktopVms, 'command' | 'commandData'>): void {
    this.commands = commands;
  }

  async operate(rec: VmRecord & { host: string }, op: 'pause' | 'unpause' | 'reset'): Promise<void> {
    const shown = op === 'pause' ? 'paused' : op === 'unpause' ? 'running' : undefined;
    const seen = shown && this.waitFor(rec.name, (o) => o.state === shown, OPERATE_REPORT_WITHIN_MS);
    await this.channel().command(rec.host, rec.name, { op }, OPERATE_ANSWER_MS);
    await seen;
  }

  async saveState(rec: VmRecord & { host: string }): Promise<void> {
    const seen = this.waitFor(rec.name, (o) => o.state === 'stopped' && o.savedState === true, SAVE_REPORT_WITHIN_MS);
    await this.channel().command(rec.host, rec.name, { op: 'state-save' }, SAVE_ANSWER_MS);
    if (!(await seen)) throw new ArdesiaError('VM_STATE_SAVE_FAILED', `vm ${rec.name}: its agent on host ${rec.host} saved its state but has not reported it stopped with the state since`);
  }

  /** What a VM owner's start is checked by on an agent's host (the VM manager's owner rules), for the desired sets. */
  attachConfinement(confinedOf: (principal: string) => VmConfined): void {
    this.confinement = confinedOf;
  }

  private confinedOf(principal: string): VmConfined {
    if (!this.confinement) throw new Error('a VM owner\'s start sent before the owner rules were attached');
    return this.confinement(principal);
  }

  /** Saved states streamed to and from agents' hosts (remote-states.ts). */
  attachStates(states: RemoteStates): void {
    this.statesAttached = states;
  }

  get states(): RemoteStates {
    if (!this.statesAttached) throw new Error('saved states streamed before their channel was attached');
    return this.statesAttached;
  }

  async discardState(rec: VmRecord & { host: string }): Promise<void> {
    await this.channel().command(rec.host, rec.name, { op: 'state-discard' }, OPERATE_ANSWER_MS);
  }

  async read(rec: VmRecord & { host: string }, op: 'console-log' | 'qemu-log' | 'screendump', maxBytes: number): Promise<Buffer> {
    return this.channel().commandData(rec.host, rec.name, { op, maxBytes: Math.min(maxBytes, VM_COMMAND_DATA_MAX_BYTES) }, OPERATE_ANSWER_MS);
  }

  /** A one-time SPICE password set on the VM's QEMU by its agent. */
  async spiceLogin(host: string, vm: string): Promise<string> {
    return (await this.channel().commandData(host, vm, { op: 'spice-login' }, OPERATE_ANSWER_MS)).toString('utf8');
  }

  private channel(): Pick<RemoteDesktopVms, 'command' | 'commandData'> {
    if (!this.commands) throw new Error('remote VM commands used before their channel was attached');
    return this.commands;
  }

  /** Whether a migration of this controller is carrying the VM now. */
  isMoving(name: string): boolean {
    return this.moving.has(name);
  }

  /** Reports of the VM are held while `move` runs (a live migration): the source's QEMU quits once the destination has it. */
  async whileMoving<T>(name: string, move: () => Promise<T>): Promise<T> {
    if (this.moving.has(name)) throw new ArdesiaError('VM_BUSY', `vm ${name} is already being migrated`);
    this.moving.add(name);
    try {
      return await move();
    } finally {
      this.moving.delete(name);
    }
  }

  /** A live migration done: the VM is recorded on `to` at `generation` (running there, as its agent already has it)
   *  and absent from `from`. */
  async moved(rec: VmRecord & { host: string }, to: string, generation: number): Promise<void> {
    await vmSetDesired(this.db, rec.name, { host: to, generation, desired: 'running', moving: null });
    await vmSetObserved(this.db, rec.name, null);
    // From now on its reports are its new host's (the old host's are passed over: the record names the new one).
    this.moving.delete(rec.name);
    await this.send(to, { name: rec.name, spec: rec.spec, desired: 'running', generation });
    await this.send(rec.host, { name: rec.name, spec: rec.spec, desired: 'absent', generation });
  }

  /** The VM's next report as running with a pid (after a move: its new host's), or undefined after `timeoutMs`. */
  nextRunningReport(name: string, timeoutMs: number): Promise<VmObserved | undefined> {
    return this.waitFor(name, (o) => o.state === 'running' && o.pid !== null, timeoutMs);
  }

  private exited(name: string, reason: string): void {
    for (const listener of this.exitListeners) listener(name, reason);
  }

  private async nextGeneration(name: string): Promise<number> {
    const rec = await vmGet(this.db, name);
    if (!rec) throw new ArdesiaError('VM_NOT_FOUND', `vm ${name} is not defined`);
    return vmNextGeneration(rec.generation);
  }

  private async send(host: string, vm: VmDesired): Promise<boolean> {
    return this.sendNow(host, (await this.localStorage(host)) ? await this.withLocalFiles(vm) : vm);
  }

  /** As it is (an absent VM's order needs no files). */
  private sendNow(host: string, vm: VmDesired): boolean {
    return this.links.sendTo(host, { type: 'vm-desired', full: false, vms: [vm] });
  }

  /** Whether the host keeps files of its own (agent --storage local), as its last hello said. */
  private async localStorage(host: string): Promise<boolean> {
    const row = await this.db.selectFrom('hosts').select('agent_report').where('name', '=', host).executeTakeFirst();
    return row !== undefined && storageOf(row) === 'local';
  }

  /** For a host without shared storage, every state of a VM it holds says what its files are (absent aside): the host
   *  keeps its copies of image files while any VM it holds rests on them, a stopped one too (started again soon). */
  private async withLocalFiles(vm: VmDesired): Promise<VmDesired> {
    if (vm.desired === 'absent') return vm;
    return { ...vm, images: vm.images ?? (await this.imageChecksOf(vm.spec)), local: await this.localFilesOf(vm.spec) };
  }

  private waitFor(name: string, done: (o: VmObserved) => boolean, timeoutMs: number): Promise<VmObserved | undefined> {
    return new Promise((resolve) => {
      const waiter: Waiter = {
        name,
        done,
        resolve: (o) => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve(o);
        },
      };
      const timer = setTimeout(() => waiter.resolve(undefined), timeoutMs);
      this.waiters.add(waiter);
    });
  }
}

/** Failed starts on an agent's host answered with their own code: a clone's template (or a saved state) that would not
 *  load says so (its pool rebuilds it and boots the desktop), and a VM owner's file refused there says what to change. */
const REMOTE_START_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['VM_STATE_INVALID', 'VM_STATE_MISMATCH', 'VM_STATE_RESTORE_FAILED', 'OWNER_PATH_FORBIDDEN']);

/** The code a failed start on an agent's host answers with: its own (REMOTE_START_CODES), else a failed start. */
export function remoteStartFailure(code: ErrorCode | undefined): ErrorCode {
  return code !== undefined && REMOTE_START_CODES.has(code) ? code : 'VM_START_FAILED';
}
