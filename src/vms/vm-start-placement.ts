// Where a `vm start` runs: placed by the cluster's placement under one lock with the record of the intent (desired
// running on that host), so two starts at once never both fit the same free memory and a daemon killed mid-start finds
// the start to finish.
import { ArdesiaError } from '../contract/errors.js';
import type { VmSpec } from '../contract/vm.js';
import type { KeyedLock } from '../lib/keyed-lock.js';
import type { Store } from '../store/db.js';
import { type VmRecord, vmSetDesired } from '../store/vms.js';
import type { RemoteVmDriver } from './remote-vm.js';
import type { StateToResume, StartOptions, VmPlacer } from './vm-manager-options.js';

export interface StartPlacementAsk {
  name: string;
  spec: VmSpec;
  /** The VM's record before this start (its last host is told to forget it when the start goes elsewhere). */
  before: VmRecord | undefined;
  /** A state saved on this host to resume, or the agent's host whose saved state it must resume on. */
  resume: StateToResume | undefined;
  stateOn: string | undefined;
  /** The VM owner whose rules the start runs under, or null (an administrator's). */
  confinedBy: string | null;
  opts: Pick<StartOptions, 'templateRam' | 'fromTemplate'>;
}

export async function placeStart(db: Store, placer: VmPlacer, remote: RemoteVmDriver | undefined, lock: KeyedLock, ask: StartPlacementAsk): Promise<string> {
  const { name, spec, before, resume, stateOn, opts } = ask;
  return lock.run('cluster:placement', async () => {
    // A template being built stays on this host. An owner's start goes anywhere: the host it lands on checks its files by
    // the owner's rules again (VmConfined). A saved state resumes here when this host can take it, else it goes to a host
    // whose QEMU can load it. A template's clone goes to any host that mounts the shared folder its files are on.
    const localOnly = opts.templateRam !== undefined;
    const sharedStorage = opts.fromTemplate ? `a clone of restore template ${opts.fromTemplate.manifest.key} (its files)` : undefined;
    const template = opts.fromTemplate?.manifest;
    const restoreFrom = template && { qemuVersion: template.qemuVersion, accel: template.accel, vmAccel: spec.accel, key: template.key };
    const savedHere = resume && { qemuVersion: resume.manifest.qemuVersion, accel: resume.manifest.accel, vmAccel: spec.accel };
    const placed = await placer.placeVm(name, spec, { localOnly, ...(stateOn ? { stateOn } : {}), ...(savedHere ? { savedHere } : {}), ...(sharedStorage ? { sharedStorage } : {}), ...(restoreFrom ? { restoreFrom } : {}) });
    if (remote?.isRemote(placed)) {
      if (localOnly) throw new ArdesiaError('VM_REMOTE_NOT_SUPPORTED', `vm ${name} was placed on host ${placed}, but this start runs on the controller's own host only`);
      remote.requireLinked(placed);
    }
    await vmSetDesired(db, name, { desired: 'running', lastStopReason: null, host: placed, hostLoss: null, restoreFrom: null, confinedBy: ask.confinedBy });
    if (before && before.host !== placed && remote?.isRemote(before.host)) remote.forget({ ...before, host: before.host });
    return placed;
  });
}
