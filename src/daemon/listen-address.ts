// serve --listen: the address parsed, the certificate it serves (none for plain HTTP), and the TCP listener started
// in front of the API (Fastify listens once, on the unix socket; this listener hands it its requests and upgrades).
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { ArdesiaError } from '../contract/errors.js';
import { givenCertificate, type ServerCertificate, serverCertificateEnsure } from '../tls/certs.js';
import type { ListenTlsPlan } from '../tls/listen-plan.js';
import { type Listener, listenerStart, type ListenerTarget } from './listener.js';

export interface ListenAt {
  host: string;
  port: number;
  plan: ListenTlsPlan;
}

export function splitHostPort(listen: string): [string, number] {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(listen);
  if (!m) throw new ArdesiaError('BAD_REQUEST', `--listen wants ADDR:PORT (like 127.0.0.1:8080), not ${listen}`);
  return [m[1] ?? m[2]!, Number(m[3])];
}

/** The HTTPS certificate --listen serves, or undefined for plain HTTP (and without --listen). */
export async function listenCertificate(dataDir: string, listenAt: ListenAt | undefined): Promise<ServerCertificate | undefined> {
  const plan = listenAt?.plan;
  if (!listenAt || !plan || plan.scheme === 'http') return undefined;
  return plan.cert === 'given' ? givenCertificate(plan.certPath, plan.keyPath) : serverCertificateEnsure(dataDir, listenAt.host);
}

/** The TCP listener, with what its clients need said in the log (an insecure plain HTTP port; the fingerprint to pin). */
export async function listenOn(listenAt: ListenAt, cert: ServerCertificate | undefined, target: ListenerTarget, log: Logger): Promise<Listener> {
  const tcp = await listenerStart({ host: listenAt.host, port: listenAt.port, tls: cert ? { cert: readFileSync(cert.certPath), key: readFileSync(cert.keyPath) } : undefined }, target);
  const url = tcp.url;
  if (listenAt.plan.scheme === 'http' && listenAt.plan.insecure) {
    log.warn({ url }, `INSECURE: --insecure-http serves plain HTTP on ${url}, off loopback: passwords, session cookies and tokens cross the network in clear, and anyone between may read or change them. Drop --insecure-http to serve HTTPS.`);
  }
  if (cert) log.info({ url, tlsFingerprint: cert.fingerprint, certificate: cert.certPath, ca: cert.caPath, issued: cert.issued }, `HTTPS certificate SHA-256 fingerprint ${cert.fingerprint} (clients: ardesia --url ${url} login --fingerprint ${cert.fingerprint})`);
  return tcp;
}
