// One running QEMU guest: its process, QMP connection, serial console and observed state.
// Created by launching a new QEMU or by adopting one found in its runtime folder after a restart.
import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { ArdesiaError } from '../contract/errors.js';
import type { VmSpec, VmState } from '../contract/vm.js';
import { type VmEvent, vmTransition } from './lifecycle.js';
import { closeHandedFds, isOurQemu, killQuietly, openHandedFiles, type OpenedFileGuard, qemuStartError, ourQemuArgv, readPidfile, spawnQemu, writeLaunchFiles } from './qemu/process.js';
import { nameHandedFiles, type QemuLaunch, type RuntimePaths } from './qemu/argv.js';
import type { UnprivilegedAccount } from '../lib/unprivileged-account.js';
import { QmpClient } from './qmp/index.js';
import { SerialConsole } from './serial-console.js';
import { failpoint } from '../lib/failpoint.js';
import { type SavedStream, vmStateLoad, vmStateSave } from './saved-state/transfer.js';
import { clipboardAgentPlug, clipboardAgentUnplug, identicalOfRunning } from './saved-state/clipboard-agent.js';
import { liveMigrateOut, MIGRATE_IN_SOCKET, type MigrationFigures } from './saved-state/live-migration.js';

const QMP_CONNECT_TIMEOUT_MS = 10_000;
/** How long QEMU may take from spawn to its QMP greeting (its whole initialisation, under load). */
const QEMU_INIT_TIMEOUT_MS = 60_000;
/** Between attempts to reach the QMP socket QEMU has not created yet. */
const QMP_RETRY_MS = 5;
const PID_POLL_MS = 1000;

export interface QmpEventLike {
  event: string;
  data?: Record<string, unknown>;
}

export interface VmRuntimeEvents {
  state: [VmState];
  exited: [string];
  event: [QmpEventLike];
}

/** Human reasons for QEMU's SHUTDOWN reasons (QMP reference, ShutdownCause). */
const SHUTDOWN_REASONS: Record<string, string> = {
  'guest-shutdown': 'the guest powered off',
  'guest-reset': 'the guest rebooted (no-reboot)',
  'guest-panic': 'the guest panicked',
  'host-qmp-quit': 'stopped by force (QMP quit)',
  'host-qmp-system-reset': 'reset by the operator',
  'host-signal': 'QEMU was killed by a signal',
  'host-ui': 'closed from the display',
  'subsystem-reset': 'a device reset the machine',
  'snapshot-load': 'a snapshot was loaded',
};

export class VmRuntime extends EventEmitter<VmRuntimeEvents> {
  state: VmState = 'starting';
  readonly startedAt: string;
  private shutdownReason: string | undefined;
  /** The argv this machine is identical to: a save's or a migration's identity, and what a restore launches again. */
  readonly launchArgv: { binary: string; args: string[] };
  /** How long loading a saved state took (a restored start), in ms. */
  restoreMs: number | undefined;
  private exitReason: string | undefined;
  private pidTimer: NodeJS.Timeout | undefined;
  private readonly exitedPromise: Promise<string>;

  private constructor(
    readonly spec: VmSpec,
    readonly paths: RuntimePaths,
    readonly pid: number,
    readonly accel: 'kvm' | 'tcg',
    readonly qmp: QmpClient,
    readonly console: SerialConsole,
    startedAt: string,
    launchArgv: { binary: string; args: string[] },
  ) {
    super();
    this.launchArgv = launchArgv;
    this.startedAt = startedAt;
    this.exitedPromise = new Promise((resolve) => this.once('exited', resolve));
    qmp.on('event', (ev: QmpEventLike) => this.onQmpEvent(ev));
    qmp.on('disconnect', () => this.watchForExit());
    this.pidTimer = setInterval(() => this.checkPid(), PID_POLL_MS);
    this.pidTimer.unref();
  }

  /**
   * Launches QEMU paused (-S) as `account` with its files handed as fds, waits for its QMP greeting (QEMU
   * greets once its initialisation is done; a disk lock or a bad device ends the process first, and its
   * own words come back from qemu.log), attaches the serial console, then lets the vCPUs run.
   */
  static async launch(spec: VmSpec, launch: QemuLaunch, paths: RuntimePaths, consoleLog: string, accel: 'kvm' | 'tcg', account: UnprivilegedAccount | undefined, guard?: OpenedFileGuard, incoming?: IncomingState): Promise<VmRuntime> {
    writeLaunchFiles(launch.files, account);
    const fds = openHandedFiles(spec.name, launch.handed, guard);
    let child: ChildProcess;
    try {
      child = spawnQemu(launch.binary, launch.args, paths.log, launch.handed, fds, account, launch.prefix);
    } finally {
      closeHandedFds(fds);
    }
    const exit = processExit(child);
    child.unref();
    const startFailed = async (): Promise<ArdesiaError> => qemuStartError(spec.name, nameHandedFiles(readLog(paths.log), launch.handed), await exit.promise);
    let qmp: QmpClient | undefined;
    const pid = child.pid;
    try {
      if (pid === undefined) throw await startFailed();
      qmp = await connectWhileAlive(paths.qmp, exit, startFailed);
      failpoint('vm-start-after-spawn');
      const console = new SerialConsole(paths.serial, consoleLog);
      await console.connect();
      const vm = new VmRuntime(spec, paths, pid, accel, qmp, console, new Date().toISOString(), { binary: launch.binary, args: incoming?.identicalArgs ?? launch.args });
      if (incoming) {
        const loading = Date.now();
        // QEMU 7.2 exits when loading fails: its own words then come from qemu.log.
        const live = incoming.live;
        const uri = live ? `unix:${join(paths.dir, MIGRATE_IN_SOCKET)}` : `fd:${incoming.fd}`;
        const listening = live && (() => live.connect(join(paths.dir, MIGRATE_IN_SOCKET)));
        await live?.beforeLoad?.(vm);
        await vmStateLoad(qmp, uri, { ignoreShared: incoming.sharedRam, listening, lateBlockActivate: live?.beforeResume !== undefined }).catch(async (err: Error) => {
          const why = exit.how !== undefined || (await Promise.race([exit.promise, sleep(1000).then(() => undefined)])) !== undefined ? (await startFailed()).message : err.message;
          if (live) throw new ArdesiaError('VM_MIGRATION_FAILED', `vm ${spec.name}: the migration did not arrive: ${why}`);
          throw new ArdesiaError('VM_STATE_RESTORE_FAILED', `vm ${spec.name}: its saved state did not load: ${why}`);
        });
        vm.restoreMs = Date.now() - loading;
        if (incoming.clipboardAgent) await clipboardAgentPlug(qmp);
        await live?.beforeResume?.(vm);
      }
      await qmp.cont();
      vm.apply('launched');
      return vm;
    } catch (err) {
      void qmp?.close();
      if (pid !== undefined) killQuietly(pid);
      throw err instanceof ArdesiaError ? err : new ArdesiaError('VM_START_FAILED', `vm ${spec.name}: ${(err as Error).message}`);
    }
  }

  /** Re-attaches to a QEMU left running by an earlier daemon; undefined when it is gone. */
  static async adopt(spec: VmSpec, paths: RuntimePaths, consoleLog: string, startedAt: string | null): Promise<VmRuntime | undefined> {
    const pid = readPidfile(paths.pidfile);
    // Its argv as the kernel has it; one launched to receive a state stands in for the argv it was identical to.
    const argv = pid === undefined ? undefined : ourQemuArgv(pid, paths.qmp);
    if (pid === undefined || argv === undefined) return undefined;
    const qmp = await QmpClient.connect(paths.qmp, { timeoutMs: QMP_CONNECT_TIMEOUT_MS });
    const console = new SerialConsole(paths.serial, consoleLog);
    await console.connect().catch(() => undefined); // a console client may hold it; QEMU allows one
    // The accelerator this QEMU really runs with, rather than what a new start would choose.
    const accel = (await qmp.queryKvm()).enabled ? 'kvm' : 'tcg';
    const vm = new VmRuntime(spec, paths, pid, accel, qmp, console, startedAt ?? new Date().toISOString(), { binary: argv.binary, args: identicalOfRunning(argv.args, spec.display?.spice !== undefined) });
    const status = await qmp.queryStatus();
    if (status.status === 'prelaunch') {
      // The daemon died half-way through a start: finish it, the operator asked for it.
      await qmp.cont();
      vm.apply('launched');
    } else {
      vm.state = status.running ? 'running' : 'paused';
    }
    return vm;
  }

  private apply(event: VmEvent): void {
    const next = vmTransition(this.state, event);
    if (next === undefined) return; // an event that does not move this state (logged by the caller's view)
    if (next !== this.state) {
      this.state = next;
      this.emit('state', next);
    }
  }

  private onQmpEvent(ev: QmpEventLike): void {
    this.emit('event', ev);
    if (ev.event === 'STOP') this.apply('paused');
    else if (ev.event === 'RESUME') this.apply('resumed');
    else if (ev.event === 'SHUTDOWN') {
      const reason = String(ev.data?.reason ?? '');
      // The reason the daemon gave before its own quit (a saved state, an operator's force) is the one to keep.
      this.shutdownReason ??= SHUTDOWN_REASONS[reason] ?? reason;
    } else if (ev.event === 'GUEST_PANICKED') this.shutdownReason = 'the guest panicked';
  }

  private watchForExit(): void {
    this.checkPid();
  }

  private checkPid(): void {
    if (this.exitReason !== undefined) return;
    if (!isOurQemu(this.pid, this.paths.qmp)) this.onExit('QEMU exited');
  }

  private onExit(how: string): void {
    if (this.exitReason !== undefined) return;
    this.exitReason = this.shutdownReason ?? `${how} unexpectedly${lastLogLine(this.paths.log)}`;
    if (this.pidTimer) clearInterval(this.pidTimer);
    this.qmp.close();
    this.console.close();
    this.apply('exited');
    this.emit('exited', this.exitReason);
  }

  get exited(): boolean {
    return this.exitReason !== undefined;
  }

  waitExit(): Promise<string> {
    return this.exitedPromise;
  }

  async powerdown(): Promise<void> {
    this.apply('stop');
    await this.qmp.systemPowerdown();
  }

  stopAbandoned(): void {
    this.apply('stop-abandoned');
  }

  async forceStop(reason = 'stopped by force'): Promise<void> {
    this.apply('stop');
    this.shutdownReason ??= reason;
    try {
      await this.qmp.quit();
    } catch {
      killQuietly(this.pid);
    }
  }

  /**
   * Saves the VM's state to `file` (vm send, stop --to-disk); the VM is left paused with its disks handed over:
   * the caller quits it. A failed save leaves it as it was (resumed if it ran).
   */
  async saveState(file: string, opts: { clipboardAgent: boolean; ignoreShared?: boolean }): Promise<SavedStream> {
    const wasRunning = this.state === 'running';
    this.apply('save');
    try {
      if (opts.clipboardAgent) await clipboardAgentUnplug(this.qmp);
      return await vmStateSave(this.spec.name, this.qmp, this.paths.dir, file, { ignoreShared: opts.ignoreShared });
    } catch (err) {
      if (opts.clipboardAgent) await clipboardAgentPlug(this.qmp, true);
      this.apply('save-failed');
      if (wasRunning) await this.unpause().catch(() => undefined);
      throw err instanceof ArdesiaError ? err : new ArdesiaError('VM_STATE_SAVE_FAILED', `vm ${this.spec.name}: its state could not be saved: ${(err as Error).message}`);
    }
  }

  /**
   * Live migration (live-migration.ts): once it completed, the VM is paused here with its disks handed over, until the
   * destination says it runs (then this QEMU is quit) or that it failed (then resumeHere). A failed migration leaves
   * the VM running here as it was.
   */
  async migrateOut(sink: Duplex, opts: { clipboardAgent: boolean }): Promise<MigrationFigures> {
    if (opts.clipboardAgent) await clipboardAgentUnplug(this.qmp, true);
    try {
      return await liveMigrateOut(this.spec.name, this.qmp, this.paths.dir, sink);
    } catch (err) {
      if (opts.clipboardAgent) await clipboardAgentPlug(this.qmp, true);
      throw err;
    }
  }

  /** Whether this QEMU's state left by a completed migration (QEMU's `postmigrate`: paused, its disks handed over). */
  async migratedAway(): Promise<boolean> {
    return (await this.qmp.queryStatus()).status === 'postmigrate';
  }

  /** The destination failed after the state left: the VM runs on here (QEMU takes its disks back at `cont`). */
  async resumeHere(opts: { clipboardAgent: boolean }): Promise<void> {
    if (opts.clipboardAgent) await clipboardAgentPlug(this.qmp, true);
    await this.unpause();
  }

  async pause(): Promise<void> {
    await this.qmp.stop();
    this.apply('paused');
  }

  async unpause(): Promise<void> {
    await this.qmp.cont();
    this.apply('resumed');
  }

  async reset(): Promise<void> {
    await this.qmp.systemReset();
  }

  /** Drops the connections without touching QEMU (daemon shutdown: VMs keep running). */
  detach(): void {
    if (this.pidTimer) clearInterval(this.pidTimer);
    this.qmp.removeAllListeners('disconnect');
    this.qmp.close();
    this.console.close();
  }
}

/** A live migration's destination: its stream, and what the VM carries beyond its launch (a desktop's home). */
export interface LiveIncoming {
  connect(socketPath: string): Promise<void>;
  /** Before the state loads: the disks the source had hot-plugged, plugged here too (QEMU opens them inactive). */
  beforeLoad?(vm: VmRuntime): Promise<void>;
  /** Once the state is in, before the guest runs: the disks are opened for writing only at the resume (QEMU's
   *  late-block-activate), so a home's lease is taken here first. Its failure quits this QEMU, unresumed. */
  beforeResume?(vm: VmRuntime): Promise<void>;
}

/** A state for a QEMU started with `-incoming defer`: a saved one's inherited descriptor number, or a live migration's
 *  stream, connected once QEMU listens on its runtime folder's MIGRATE_IN_SOCKET. */
export interface IncomingState {
  fd?: number;
  live?: LiveIncoming;
  /** QEMU's own clipboard agent blocks migration: left out of the launch, plugged in once the state is loaded. */
  clipboardAgent: boolean;
  /** The guest RAM is a template's shared memfd mapped privately: the state holds only the devices (shared-ram.ts). */
  sharedRam?: boolean;
  /** The argv the restored machine is identical to (the launch's, before the agent was left out and -incoming added). */
  identicalArgs: string[];
}

interface ProcessExit {
  /** How it ended, once it has. */
  how?: string;
  promise: Promise<string>;
}

function processExit(child: ChildProcess): ProcessExit {
  const exit: ProcessExit = { promise: Promise.resolve('') };
  exit.promise = new Promise((resolve) => {
    const end = (how: string) => resolve((exit.how ??= how));
    child.once('error', (err) => end(`could not run ${child.spawnfile}: ${err.message}`));
    child.once('exit', (code, signal) => end(signal ? `killed by ${signal}` : `exit code ${code}`));
  });
  return exit;
}

/** QMP once QEMU greets on it; while QEMU is starting its socket may not exist yet. QEMU ending first is a start failure. */
async function connectWhileAlive(path: string, exit: ProcessExit, startFailed: () => Promise<ArdesiaError>): Promise<QmpClient> {
  const deadline = Date.now() + QEMU_INIT_TIMEOUT_MS;
  for (;;) {
    if (exit.how !== undefined) throw await startFailed();
    if (!existsSync(path)) {
      if (Date.now() >= deadline) throw new ArdesiaError('VM_START_FAILED', `QEMU made no QMP socket within ${QEMU_INIT_TIMEOUT_MS / 1000} s`);
      await sleep(QMP_RETRY_MS);
      continue;
    }
    try {
      return await QmpClient.connect(path, { timeoutMs: Math.max(deadline - Date.now(), 1) });
    } catch (err) {
      // QEMU ending closes the socket; its exit is reported just after, so wait a moment for it.
      const ended = await Promise.race([exit.promise, sleep(1000).then(() => undefined)]);
      if (ended !== undefined) throw await startFailed();
      if (Date.now() >= deadline) throw err;
      await sleep(QMP_RETRY_MS);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function readLog(path: string): string {
  try {
    return readFileSync(path, 'utf8').slice(-8192);
  } catch {
    return '';
  }
}

function lastLogLine(path: string): string {
  const line = readLog(path).trim().split('\n').pop()?.trim();
  return line ? ` (${line})` : '';
}
