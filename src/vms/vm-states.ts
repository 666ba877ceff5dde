// vmctl's send and receive, and `vm stop --to-disk`: a VM's state saved to states/NAME/ (QEMU quits), sent
// as a stream, received from one, and resumed by the VM's next start (vm-manager.ts, StateToResume).
import { existsSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { ArdesiaError } from '../contract/errors.js';
import type { StartCaller, VmStatus } from '../contract/vm.js';
import { canSaveState } from '../hypervisor/lifecycle.js';
import { qemuVersionText, SAVED_STATE_FORMAT, type SavedStateManifest, stateSeal } from '../hypervisor/saved-state/manifest.js';
import type { VmRuntime } from '../hypervisor/vm-runtime.js';
import type { RemoteVmDriver } from './remote-vm.js';
import { hasClipboardAgent } from '../hypervisor/saved-state/clipboard-agent.js';
import type { KeyedLock } from '../lib/keyed-lock.js';
import { withTimeout } from '../lib/with-timeout.js';
import type { Store } from '../store/db.js';
import { type VmRecord, vmSetDesired } from '../store/vms.js';
import { diskIdentities, launchIdentity, savedStateCommit, savedStateFiles, savedStateFolder, savedStateRead, savedStateReceive, savedStateRemove, savedStateSendStream, stateSealKey } from './vm-saved-state.js';

/** How long QEMU may take to exit after `quit` once its state is saved. */
const QUIT_AFTER_SAVE_MS = 30_000;

/** What VmStates needs of the VM manager. */
export interface VmStatesHost {
  record(name: string): Promise<VmRecord>;
  running(name: string): VmRuntime;
  runtimeOf(name: string): VmRuntime | undefined;
  start(name: string, adHoc: undefined, template: undefined, caller: StartCaller | undefined, opts: { stateVerified: boolean }): Promise<VmStatus>;
  /** The host of a VM that runs under a remote agent now, or undefined. */
  remoteHostOf(name: string): Promise<string | undefined>;
}

export interface SavedToDisk {
  manifest: SavedStateManifest;
  /** stop → state written → QEMU gone, in ms. */
  saveMs: number;
  reason: string;
}

export const SAVED_TO_DISK_REASON = 'its state was saved (`ardesia vm start` resumes it, unless it was sent with `vm send`)';

export class VmStates {
  constructor(
    private readonly vms: VmStatesHost,
    private readonly store: Store,
    private readonly dataDir: string,
    private readonly lock: KeyedLock,
    private readonly remote?: RemoteVmDriver,
  ) {}

  /** vm stop --to-disk wherever the VM runs: on this host (states/NAME/ here), or by the agent of the host it runs on (in
   *  that host's data folder: its next start goes there and resumes it). */
  async save(name: string): Promise<{ reason: string }> {
    const rec = await this.vms.record(name);
    const host = await this.vms.remoteHostOf(name);
    if (host === undefined) return { reason: (await this.stopToDisk(name)).reason };
    if (rec.transient) throw transientRefusal(name);
    await this.remote!.saveState({ ...rec, host });
    return { reason: `its state was saved on host ${host} (\`ardesia vm start\` resumes it there)` };
  }

  /** The agent's host a start must go to, to resume the state saved there (the VM's last report says it has one); with
   *  `discard`, none: the state there is deleted first (or, its agent not linked, when that host's agent is back and
   *  finds the VM placed elsewhere). */
  async remoteStateHost(rec: VmRecord | undefined, discard: boolean): Promise<string | undefined> {
    const host = rec?.observed?.savedState === true && this.remote?.isRemote(rec.host) ? rec.host : undefined;
    if (host === undefined || !discard) return host;
    await this.remote!.discardState({ ...rec!, host }).catch((err: unknown) => {
      if (!(err instanceof ArdesiaError && err.code === 'AGENT_NOT_LINKED')) throw err;
    });
    return undefined;
  }

  /** Whether the VM has a state saved on this host (an agent reports it for its stopped VMs, at every report): its
   *  manifest is there. Not parsed here: a damaged one is still a state, refused by the start that reads it. */
  has(name: string): boolean {
    return existsSync(savedStateFiles(this.dataDir, name).manifest);
  }

  /** The state saved on this host deleted (vm start --discard-state through an agent); refused while the VM runs. */
  discard(name: string): Promise<void> {
    return this.lock.run(name, async () => {
      if (this.vms.runtimeOf(name)) throw new ArdesiaError('VM_RUNNING', `vm ${name} is running: its saved state was consumed by its start`);
      await savedStateRemove(savedStateFiles(this.dataDir, name));
    });
  }

  /** vm stop --to-disk of a VM of this host (save() sends one on an agent's host to its agent): the running VM's state
   *  saved to states/NAME/, then QEMU quits; the next start resumes it. */
  stopToDisk(name: string): Promise<SavedToDisk> {
    return this.lock.run(name, () => this.stopToDiskLocked(name));
  }

  private async stopToDiskLocked(name: string): Promise<SavedToDisk> {
    const rec = await this.vms.record(name);
    const rt = this.vms.running(name);
    if (!canSaveState(rt.state)) throw new ArdesiaError('VM_BUSY', `vm ${name} is ${rt.state}: only a running or paused VM's state can be saved`);
    if (rec.transient) throw transientRefusal(name);
    const files = savedStateFiles(this.dataDir, name);
    await savedStateRemove(files); // an unfinished save (no manifest) of an earlier run
    await savedStateFolder(files);
    const started = Date.now();
    try {
      const argv = rt.launchArgv;
      const qemuVersion = qemuVersionText(await rt.qmp.queryVersion());
      const saved = await rt.saveState(files.stream, { clipboardAgent: hasClipboardAgent(argv.args) });
      await vmSetDesired(this.store, name, { desired: 'stopped' });
      await rt.forceStop(SAVED_TO_DISK_REASON);
      if ((await withTimeout(rt.waitExit(), QUIT_AFTER_SAVE_MS)) === undefined) throw new ArdesiaError('VM_STATE_SAVE_FAILED', `vm ${name}: QEMU did not exit after its state was saved`);
      // Hashed once QEMU is gone: nothing writes the disks any more.
      const disks = await diskIdentities(rt.spec);
      const manifest: SavedStateManifest = {
        format: SAVED_STATE_FORMAT,
        vm: name,
        savedAt: new Date().toISOString(),
        ...launchIdentity(rt.spec, argv, rt.paths.dir, rt.accel, qemuVersion, disks),
        state: { bytes: saved.bytes, sha256: saved.sha256 },
      };
      manifest.seal = stateSeal(manifest, stateSealKey(this.dataDir));
      await savedStateCommit(files, manifest);
      return { manifest, saveMs: Date.now() - started, reason: SAVED_TO_DISK_REASON };
    } catch (err) {
      await savedStateRemove(files);
      throw err;
    }
  }

  /**
   * vm send: the VM's state as a stream (header + QEMU's stream). A running VM is saved and stopped first; a
   * stopped one sends the state it has. Once all of it was read the state is deleted: it lives on in the receiver. A VM
   * on an agent's host (or whose state is saved there) is sent from there by its agent, through this controller.
   */
  async send(name: string): Promise<Readable> {
    const rec = await this.vms.record(name);
    const host = (await this.vms.remoteHostOf(name)) ?? (await this.remoteStateHost(rec, false));
    if (host !== undefined) {
      if (rec.transient) throw transientRefusal(name);
      return this.remote!.states.send(host, name);
    }
    const { body, delivered } = await this.sendOut(name);
    body.once('end', () => void delivered());
    return body;
  }

  /** The state of a VM of this host to send (a running one saved and stopped first); `delivered` deletes it, for the
   *  sender to call once the receiver has all of it (an agent's state-send: once the controller answered its close). */
  async sendOut(name: string): Promise<{ body: Readable; delivered: () => Promise<void> }> {
    if (this.vms.runtimeOf(name)) await this.stopToDisk(name);
    return this.lock.run(name, async () => {
      const files = savedStateFiles(this.dataDir, name);
      const manifest = savedStateRead(files);
      if (!manifest) throw new ArdesiaError('VM_NOT_RUNNING', `vm ${name} is not running and has no saved state to send`);
      return { body: savedStateSendStream(files, manifest), delivered: () => this.lock.run(name, () => savedStateRemove(files)) };
    });
  }

  /**
   * vm receive: the stream is checked (header, length, sha256) into states/NAME/, then the VM is started from it
   * (the launch and disks checked against its manifest first; placed on another host, the state goes there first).
   * Any refusal or failure leaves nothing behind.
   */
  async receive(name: string, body: Readable, caller?: StartCaller): Promise<VmStatus> {
    const files = savedStateFiles(this.dataDir, name);
    await this.lock.run(name, async () => {
      await this.vms.record(name);
      await this.storeLocked(name, body, caller && !caller.admin ? stateSealKey(this.dataDir) : undefined);
    });
    try {
      return await this.vms.start(name, undefined, undefined, caller, { stateVerified: true });
    } catch (err) {
      await savedStateRemove(files);
      throw err;
    }
  }

  /** A state streamed to this host for the VM (an agent's state-receive: a state saved on the controller's host, for a
   *  start placed here), checked as vm receive checks it; its next start here resumes it. */
  take(name: string, body: Readable): Promise<void> {
    return this.lock.run(name, () => this.storeLocked(name, body));
  }

  private async storeLocked(name: string, body: Readable, sealKey?: Buffer): Promise<void> {
    const files = savedStateFiles(this.dataDir, name);
    if (this.vms.runtimeOf(name)) throw new ArdesiaError('VM_RUNNING', `vm ${name} is running: stop it before receiving a state into it`);
    if (savedStateRead(files)) throw new ArdesiaError('VM_STATE_EXISTS', `vm ${name} already has a saved state`);
    await savedStateRemove(files);
    await savedStateReceive(files, body, name, sealKey);
  }
}

/** A transient VM is forgotten when QEMU exits: its state would belong to no VM. */
function transientRefusal(name: string): ArdesiaError {
  return new ArdesiaError('VM_STATE_SAVE_FAILED', `vm ${name} was started ad hoc and is forgotten when it stops: define it (vm.conf, or POST /v1/vms) to save its state`);
}
