// What the image, desktop and home services share: the data folder, the store, the VM manager, the log.
import type { Logger } from 'pino';
import type { StartCaller, VmSpec, VmSpecInput, VmStatus } from '../contract/vm.js';
import type { TemplateToLoad } from '../hypervisor/saved-state/template.js';
import type { VmRuntime } from '../hypervisor/vm-runtime.js';
import { KeyedLock } from '../lib/keyed-lock.js';
import type { Store } from '../store/db.js';
import { dataPaths, type DataPaths } from '../storage/index.js';

/** The VM operations the image, desktop and home services use; the daemon passes its VmManager (src/vms),
 *  which sits below the network and netboot code, so the services name only what they call. */
export interface VmControl {
  define(specs: VmSpec[], source: (name: string) => string): Promise<{ added: string[]; updated: string[] }>;
  undefine(name: string): Promise<void>;
  get(name: string): Promise<VmStatus>;
  /** Every defined VM's state, in one store query. */
  states(names?: readonly string[]): Promise<Map<string, VmStatus['state']>>;
  start(name: string, adHoc?: Partial<VmSpecInput>, template?: string, caller?: StartCaller, opts?: { fromTemplate?: TemplateToLoad; templateRam?: string; launchPrefix?: string[] }): Promise<VmStatus>;
  stop(name: string, opts: { force?: boolean; waitMs?: number }): Promise<{ stopped: boolean; reason?: string }>;
  consoleLog(name: string, maxBytes: number): Promise<Buffer>;
  runtimeOf(name: string): VmRuntime | undefined;
}

export interface ServiceDeps {
  dataDir: string;
  store: Store;
  vms: VmControl;
  log: Logger;
}

export class ServiceContext {
  readonly paths: DataPaths;
  /** One mutation at a time per image / desktop / home ("image:x", "desktop:y", "home:z"). */
  readonly lock = new KeyedLock();
  constructor(readonly deps: ServiceDeps) {
    this.paths = dataPaths(deps.dataDir);
  }
  get db(): Store {
    return this.deps.store;
  }
  get vms(): VmControl {
    return this.deps.vms;
  }
}

/** A VM's observed state, 'absent' when it is not defined. */
export async function vmState(ctx: ServiceContext, vm: string): Promise<string> {
  return ctx.vms.get(vm).then(
    (s) => s.state,
    () => 'absent',
  );
}

/** Whether the VM runs, on this host or (as its agent last reported) on another. */
export async function vmRunning(ctx: ServiceContext, name: string): Promise<boolean> {
  if (ctx.vms.runtimeOf(name)) return true;
  const state = await vmState(ctx, name);
  return state !== 'stopped' && state !== 'absent';
}
