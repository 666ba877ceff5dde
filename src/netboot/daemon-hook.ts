// The daemon's netboot (serve --netboot FILE, or set through the API: control.ts): started beside the daemon's HTTP
// listener (whose port iPXE's script URL uses unless the configuration names one); its events go to the daemon's log.
import type { Logger } from 'pino';
import type { Store } from '../store/db.js';
import type { ThinClientService } from '../thinclients/inventory.js';
import { X509Certificate } from 'node:crypto';
import type { NetbootConfig } from './config.js';
import { readOsManifests } from './http/manifest.js';
import { osTrustNotice, type PortalTls } from './os-trust.js';
import { THIN_CLIENT_ARCHES } from '../thinclients/os/plan.js';
import { startNetboot, type NetbootHandle } from './service.js';

export interface DaemonNetbootDeps {
  store: Store;
  dataDir: string;
  log: Logger;
  thinClients: ThinClientService;
  /** The daemon's HTTP URL (from --listen), if any. */
  url: string | undefined;
  /** The PEM of the CA that signed the certificate served (DATA_DIR/tls/ca.crt); undefined for plain HTTP or --tls-cert. */
  servedCaPem?: string;
}

/** Starts netboot with a checked configuration (src/netboot/control.ts decides which one). */
export async function startDaemonNetbootWith(config: NetbootConfig, deps: DaemonNetbootDeps): Promise<NetbootHandle> {
  const httpPort = deps.url ? Number(new URL(deps.url).port) : undefined;
  const log = deps.log.child({ svc: 'netboot' });
  await reportOsTrust(deps, log);
  return startNetboot(config, {
    store: deps.store, dataDir: deps.dataDir, thinClients: deps.thinClients, httpPort,
    log: (event) => log.info(event, String(event.event)),
  });
}

/** One line per built OS: whether its kiosk can verify the portal this daemon serves (a stale CA means a rebuild). */
async function reportOsTrust(deps: DaemonNetbootDeps, log: Logger): Promise<void> {
  const https = deps.url?.startsWith('https:') ?? false;
  const tls: PortalTls = !https ? { scheme: 'http' } : { scheme: 'https', caSha256: deps.servedCaPem ? new X509Certificate(deps.servedCaPem).fingerprint256 : undefined };
  // A broken manifest is reported by the boot routes when a client asks; here it is only not compared.
  const manifests = await readOsManifests(deps.dataDir).catch((): Awaited<ReturnType<typeof readOsManifests>> => ({}));
  for (const arch of THIN_CLIENT_ARCHES) {
    const manifest = manifests[arch];
    if (!manifest) continue;
    const notice = osTrustNotice(arch, manifest.portalCa, tls);
    const event = { event: 'thinclient-os-trust', arch, ok: notice.level === 'ok', osCa: manifest.portalCa?.sha256 ?? null };
    if (notice.level === 'ok') log.info(event, notice.message);
    else log.warn(event, notice.message);
  }
}
