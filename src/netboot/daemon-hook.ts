// `ardesia serve --netboot FILE`: starts netboot beside the daemon's HTTP listener (whose port
// iPXE's script URL uses unless the file names one); its events go to the daemon's log.
import type { Logger } from 'pino';
import type { Store } from '../store/db.js';
import type { ThinClientService } from '../thinclients/inventory.js';
import { loadNetbootConfig } from './config.js';
import { startNetboot, type NetbootHandle } from './service.js';

export interface DaemonNetbootDeps {
  store: Store;
  dataDir: string;
  log: Logger;
  thinClients: ThinClientService;
  /** The daemon's HTTP URL (from --listen), if any. */
  url: string | undefined;
}

export async function startDaemonNetboot(path: string | undefined, deps: DaemonNetbootDeps): Promise<NetbootHandle | undefined> {
  if (!path) return undefined;
  const config = loadNetbootConfig(path);
  const httpPort = deps.url ? Number(new URL(deps.url).port) : undefined;
  const log = deps.log.child({ svc: 'netboot' });
  return startNetboot(config, {
    store: deps.store, dataDir: deps.dataDir, thinClients: deps.thinClients, httpPort,
    log: (event) => log.info(event, String(event.event)),
  });
}
