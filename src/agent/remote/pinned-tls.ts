// TLS to the controller pinned to the certificate fingerprint the join token carries: the handshake is finished and
// the fingerprint checked before any byte of HTTP (and so before any token or credential) is written.
import { connect, type TLSSocket } from 'node:tls';
import { ArdesiaError } from '../../contract/errors.js';
import { fingerprintParse } from '../../tls/fingerprint.js';

export const CONNECT_TIMEOUT_MS = 15_000;

export async function pinnedConnect(url: URL, fingerprint: string): Promise<TLSSocket> {
  const pinned = fingerprintParse(fingerprint);
  const port = Number(url.port || 443);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return new Promise<TLSSocket>((resolve, reject) => {
    // The chain is not judged by a CA here: the pinned leaf fingerprint is the whole trust, as with `login --fingerprint`.
    const socket = connect({ host, port, servername: /^[\d.:]+$/.test(host) ? undefined : host, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] });
    const timer = setTimeout(() => socket.destroy(new Error(`no TLS handshake with ${url.host} within ${CONNECT_TIMEOUT_MS / 1000} s`)), CONNECT_TIMEOUT_MS);
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const seen = socket.getPeerCertificate().fingerprint256;
      if (!seen || fingerprintParse(seen) !== pinned) {
        socket.destroy();
        reject(new ArdesiaError('AGENT_CONTROLLER_MISMATCH', `${url.host} presented a certificate with SHA-256 ${seen ?? '(none)'}, not the controller's ${pinned} the token pins: refusing to connect`));
        return;
      }
      socket.removeAllListeners('error');
      resolve(socket);
    });
  });
}
