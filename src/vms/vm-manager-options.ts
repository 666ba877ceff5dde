import type { OpenedFileGuard } from '../hypervisor/qemu/process.js';
// What the VM manager (vm-manager.ts) is given: its options, a start's options, and the placement it asks.
import type { Logger } from 'pino';
import type { VmSpec } from '../contract/vm.js';
import type { HostReport } from '../hypervisor/host/index.js';
import type { SavedStateManifest } from '../hypervisor/saved-state/manifest.js';
import type { LiveIncoming, VmRuntime } from '../hypervisor/vm-runtime.js';
import type { NatGuard } from '../network/nat-guard-host.js';
import type { Store } from '../store/db.js';
import type { OwnerPolicy } from './owner-policy.js';
import type { RemoteVmDriver } from './remote-vm.js';
import type { SavedStateFiles } from './vm-saved-state.js';
import type { TemplateToLoad } from './vm-template-state.js';
import type { VmUids } from './vm-uids.js';

/** A saved state a start resumes from (verified: its sha256 was just checked, as by a receive). */
export interface StateToResume {
  manifest: SavedStateManifest;
  files: SavedStateFiles;
  verified?: boolean;
}

export interface StartOptions {
  /** Boot afresh: a saved state of the VM is deleted first (it could not be resumed later: the disks change). */
  discardState?: boolean;
  /** The saved state's sha256 was checked just now (a receive): not read again. */
  stateVerified?: boolean;
  /** Start as a clone of a restore template (its state and overlay checked by sha256 by the caller, pool-templates.ts). */
  fromTemplate?: TemplateToLoad;
  /** Run as a restore template: guest RAM on this memfd (the daemon's /proc path to it), mapped shared. */
  templateRam?: string;
  /** Instead of the daemon's launchPrefix: one that also takes leases before QEMU runs (a desktop's home at launch). */
  launchPrefix?: string[];
  /** A live migration's destination (an agent's migrate-in): the state arrives on a stream, connected once QEMU listens. */
  migrateIn?: LiveIncoming;
  /** Runs just before QEMU on this host (an agent's check of the image files): its failure is the start's. */
  beforeLaunch?: () => Promise<void>;
  /** A VM owner's start placed on an agent's host: each file the launch opens checked by their rules (owner-start.ts). */
  fileGuard?: OpenedFileGuard;
}

export interface VmManagerOptions {
  dataDir: string;
  /** This host's own folder for VM runtime (sockets, pidfiles) and logs; default the data folder. */
  runDir?: string;
  store: Store;
  log: Logger;
  /** The host check runs once at start-up; VMs started before it ends wait for it. */
  hostReport: Promise<HostReport>;
  /** What VM owners who are not administrators may use (serve --owner-policy). */
  ownerPolicy: OwnerPolicy;
  /** Keeps guests on user-mode NAT off the host's own addresses (installed by the daemon at start). */
  natGuard: NatGuard;
  /** Chooses the host of each start (src/cluster): refuses with the reason when none can take the VM. */
  placer: VmPlacer;
  /** The own uids of running VMs (QEMU runs as one of them). */
  vmUids: VmUids;
  /** Run before setpriv in QEMU's launch chain (serve --home-leases sanlock: registers QEMU with sanlock); a function
   *  when it is known only later (an agent learns at its link whether the cluster uses home leases). */
  launchPrefix?: string[] | (() => string[] | undefined);
  /** VMs placed on other hosts run under their agents (the controller; absent in an agent, which runs its own host's). */
  remote?: RemoteVmDriver;
  /** Each QEMU this manager follows, from its start or adoption (an agent forwards the guests' events). */
  onRuntime?: (runtime: VmRuntime) => void;
}

/** What a start asks of placement. `localOnly`: it needs the controller's own host (a template being
 *  built); `sharedStorage`: what of it needs a host that mounts the shared data folder (a template's
 *  clone); `restoreFrom`: a template's clone, the QEMU the template was saved under (and its key, for the refusal);
 *  `stateOn`: the agent's host its saved state is on, the only host that can resume it. */
export interface VmPlacementAsk {
  localOnly: boolean;
  stateOn?: string;
  /** A state saved on the controller's host to resume: there if it can take it, else on a host whose QEMU loads it. */
  savedHere?: { qemuVersion: string; accel: 'kvm' | 'tcg'; vmAccel: 'auto' | 'kvm' | 'tcg' };
  sharedStorage?: string;
  restoreFrom?: { qemuVersion: string; accel: 'kvm' | 'tcg'; vmAccel: 'auto' | 'kvm' | 'tcg'; key: string };
}

/** Placement as the VM manager asks it: the host the VM is to run on, or an ArdesiaError saying what is short where
 *  (VM_TEMPLATE_HOST_UNFIT: a template's clone placed on another host whose QEMU cannot load the template). */
export interface VmPlacer {
  placeVm(name: string, spec: VmSpec, opts: VmPlacementAsk): Promise<string>;
}
