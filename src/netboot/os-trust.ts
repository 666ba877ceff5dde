// Does each built thin-client OS trust the portal the daemon serves? Compared at every `serve --netboot` start, so an
// administrator whose certificate changed (or who turned HTTPS on) is told to rebuild the OS before kiosks fail.
import type { ThinClientArch } from '../thinclients/os/plan.js';

/** What the daemon serves: HTTPS with the data folder's CA (its SHA-256), HTTPS with the administrator's certificate, or plain HTTP. */
export type PortalTls = { scheme: 'https'; caSha256: string } | { scheme: 'https'; caSha256: undefined } | { scheme: 'http' };

export interface OsTrustNotice {
  arch: ThinClientArch;
  level: 'ok' | 'warn';
  message: string;
}

const REBUILD = (arch: ThinClientArch) => `ardesia thinclient build --arch ${arch}`;

/** One notice per built OS; `portalCa` is the manifest's (null or absent: built without a CA). */
export function osTrustNotice(arch: ThinClientArch, portalCa: { sha256: string } | null | undefined, tls: PortalTls): OsTrustNotice {
  const built = portalCa?.sha256;
  if (tls.scheme === 'http') {
    if (!built) return { arch, level: 'warn', message: `the portal is plain HTTP: passwords typed on ${arch} thin clients cross the network in clear` };
    return { arch, level: 'warn', message: `the ${arch} thin-client OS verifies the portal with CA ${built}, but the daemon serves plain HTTP: its kiosks stop with "portal-not-https"; serve HTTPS (no --insecure-http)` };
  }
  if (!built) return { arch, level: 'warn', message: `the ${arch} thin-client OS carries no CA, so its kiosk cannot open the HTTPS portal: rebuild it (${REBUILD(arch)}) to bake in the daemon's CA` };
  if (tls.caSha256 === undefined) return { arch, level: 'ok', message: `the ${arch} thin-client OS verifies the portal with CA ${built}; it must be the CA that signed --tls-cert (else rebuild with ${REBUILD(arch)} --portal-ca FILE)` };
  if (built !== tls.caSha256) return { arch, level: 'warn', message: `the ${arch} thin-client OS trusts CA ${built} but the daemon's CA is now ${tls.caSha256}: its kiosks will refuse the portal; rebuild it (${REBUILD(arch)})` };
  return { arch, level: 'ok', message: `the ${arch} thin-client OS verifies the portal with the daemon's CA ${built}` };
}
