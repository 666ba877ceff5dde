// What the image, desktop and home services share: the data folder, the store, the VM manager, the log.
import type { Logger } from 'pino';
import type { VmManager } from '../daemon/vm-manager.js';
import { KeyedLock } from '../lib/keyed-lock.js';
import type { Store } from '../store/db.js';
import { dataPaths, type DataPaths } from '../storage/index.js';

export interface ServiceDeps {
  dataDir: string;
  store: Store;
  vms: VmManager;
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
  get vms(): VmManager {
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
