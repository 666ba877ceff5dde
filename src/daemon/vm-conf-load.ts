// vm.conf into the daemon: its VMs defined (or forgotten, on reload), their owners' token files made, enabled ones started.
import type { Logger } from 'pino';
import type { ConfigLoadResult } from '../api/route.js';
import { ensureUserToken } from '../auth/tokens.js';
import { loadVmConfFile } from '../hypervisor/vmconf/index.js';
import type { Store } from '../store/db.js';
import { vmDelete, vmList } from '../store/vms.js';
import { ownerFolderEnsure } from '../vms/owner-files.js';
import type { VmManager } from '../vms/vm-manager.js';

/** How a vm.conf is loaded. */
export interface LoadMode {
  reload: boolean;
  /** true at daemon start: every enabled VM not running; false: only newly defined ones. */
  startAllEnabled: boolean;
  except?: Set<string>;
}

/** Defines the file's VMs; on reload, forgets stopped VMs of that file that are gone from it; starts its enabled VMs as `mode` says. */
export async function loadConfig(store: Store, manager: VmManager, dataDir: string, path: string, mode: LoadMode, log: Logger): Promise<ConfigLoadResult> {
  const conf = loadVmConfFile(path);
  const sourceOf = (name: string) => conf.sourceOf?.[name] ?? path;
  const { added, updated } = await manager.define(conf.vms, sourceOf);
  const removed: string[] = [];
  if (mode.reload) {
    const names = new Set(conf.vms.map((v) => v.name));
    for (const rec of await vmList(store)) {
      const fromThisFile = conf.sources.some((src) => rec.source === src || rec.source.startsWith(`${src}:`));
      if (fromThisFile && !names.has(rec.name) && !manager.runtimeOf(rec.name)) {
        await vmDelete(store, rec.name);
        removed.push(rec.name);
      }
    }
  }
  for (const owner of new Set(conf.vms.map((v) => v.owner?.user).filter((u): u is string => !!u))) {
    if (!(await ensureUserToken(store, dataDir, owner))) log.warn({ owner }, `vm owner ${owner} is not a local user; no token file made`);
    else ownerFolderEnsure(dataDir, owner);
  }
  const started: string[] = [];
  const toStart = conf.vms.filter(
    (v) => v.enabled && !manager.runtimeOf(v.name) && !mode.except?.has(v.name) && (mode.startAllEnabled || added.includes(v.name)),
  );
  for (const spec of toStart) {
    try {
      await manager.start(spec.name);
      started.push(spec.name);
    } catch (err) {
      log.error({ err, vm: spec.name }, `vm ${spec.name} (enabled) did not start`);
    }
  }
  return { path, added, updated, removed, started };
}
