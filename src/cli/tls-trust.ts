// How the CLI trusts an https:// daemon: a CA file (chain and host name checked), or a pinned SHA-256
// fingerprint of the server's certificate (`ardesia login --fingerprint`), or else the system's CAs. Never none.
// The check ends before the first byte of the request (token, password) is written.
import type { Socket } from 'node:net';
import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { isIP } from 'node:net';
import { ArdesiaError } from '../contract/errors.js';
import { fingerprintEquals } from '../tls/fingerprint.js';

export interface ServerTrust {
  /** PEM of the CA(s) that may sign the server's certificate. */
  caPem?: string;
  /** Where caPem came from (for messages). */
  caPath?: string;
  /** The SHA-256 fingerprint the server's certificate must have. */
  fingerprint?: string;
}

/** Node's verification failures: the certificate, not the network. */
const UNTRUSTED_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_SIGNATURE_FAILURE', 'CERT_UNTRUSTED',
]);

function untrusted(where: string, trust: ServerTrust, why: string): ArdesiaError {
  const against = trust.fingerprint ? `the pinned fingerprint ${trust.fingerprint}` : trust.caPath ? `the CA in ${trust.caPath}` : "this system's trusted CAs";
  const hint = trust.fingerprint || trust.caPath
    ? undefined
    : "Ardesia's own certificate is trusted by pinning it: `ardesia --url URL login --fingerprint FP` with the fingerprint the daemon printed at start (or `ardesia tls show` on the server), or --ca DATA_DIR/tls/ca.crt copied from the server.";
  return new ArdesiaError('TLS_SERVER_UNTRUSTED', `the server at ${where} is not trusted: ${why} (checked against ${against}); nothing was sent`, undefined, hint);
}

type Callback = (err: Error | null, socket?: Socket) => void;

/** A `createConnection` for http.request / ws: calls back with the TLS socket only once the server is verified. */
export function verifiedTlsConnect(trust: ServerTrust): (opts: ConnectionOptions & { hostname?: string }, cb: Callback) => undefined {
  return (opts, cb) => {
    const host = opts.hostname ?? opts.host ?? 'localhost';
    const bare = host.replace(/^\[|\]$/g, '');
    const where = `${host}:${opts.port}`;
    const socket: TLSSocket = connect({
      host: bare,
      port: opts.port,
      servername: isIP(bare) ? undefined : bare,
      ALPNProtocols: ['http/1.1'],
      ...(trust.caPem ? { ca: trust.caPem } : {}),
      // With a pin, the pin is the identity: the chain is not consulted, the fingerprint below is.
      rejectUnauthorized: trust.fingerprint === undefined,
    });
    let done = false;
    const finish = (err: Error | null) => {
      if (done) return;
      done = true;
      if (err) {
        socket.destroy();
        cb(err);
      } else cb(null, socket);
    };
    socket.once('secureConnect', () => {
      if (trust.fingerprint) {
        const got = socket.getPeerCertificate().fingerprint256;
        if (!got || !fingerprintEquals(got, trust.fingerprint)) return finish(untrusted(where, trust, `its certificate's fingerprint is ${got ?? 'absent'}`));
      }
      finish(null);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code && UNTRUSTED_CODES.has(err.code)) return finish(untrusted(where, trust, `${err.message} (${err.code})`));
      finish(err);
    });
    return undefined;
  };
}
