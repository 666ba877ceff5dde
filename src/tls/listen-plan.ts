// How `ardesia serve --listen` speaks: HTTPS off loopback (a certificate Ardesia makes, or the administrator's),
// plain HTTP on loopback unless TLS is asked for, plain HTTP off loopback only when the administrator insists.
import { isIP } from 'node:net';
import { ArdesiaError } from '../contract/errors.js';

export interface ListenTlsFlags {
  /** HTTPS with the certificate Ardesia makes, even on loopback. */
  tls?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  /** Plain HTTP off loopback: passwords and tokens cross the network in clear. */
  insecureHttp?: boolean;
}

export type ListenTlsPlan =
  | { scheme: 'https'; cert: 'ardesia' }
  | { scheme: 'https'; cert: 'given'; certPath: string; keyPath: string }
  | { scheme: 'http'; insecure: boolean };

/** 127.0.0.0/8, ::1 (also IPv4-mapped) and the name localhost: nothing leaves the machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost') return true;
  const v4 = h.startsWith('::ffff:') && isIP(h.slice(7)) === 4 ? h.slice(7) : h;
  if (isIP(v4) === 4) return v4.split('.')[0] === '127';
  // The URL parser writes every IPv6 address in its shortest form: [::1] for loopback, however spelled.
  return isIP(h) === 6 && new URL(`http://[${h}]/`).hostname === '[::1]';
}

export function listenTlsPlan(host: string, flags: ListenTlsFlags): ListenTlsPlan {
  const given = flags.tlsCert !== undefined || flags.tlsKey !== undefined;
  if (given && (flags.tlsCert === undefined || flags.tlsKey === undefined)) {
    throw new ArdesiaError('TLS_CONFIG_INVALID', `--tls-cert and --tls-key go together; only --${flags.tlsCert === undefined ? 'tls-key' : 'tls-cert'} was given`);
  }
  if (flags.insecureHttp && (given || flags.tls)) {
    throw new ArdesiaError('TLS_CONFIG_INVALID', `--insecure-http asks for plain HTTP, and ${given ? '--tls-cert/--tls-key' : '--tls'} for HTTPS: choose one`);
  }
  if (given) return { scheme: 'https', cert: 'given', certPath: flags.tlsCert!, keyPath: flags.tlsKey! };
  if (flags.tls) return { scheme: 'https', cert: 'ardesia' };
  if (isLoopbackHost(host)) return { scheme: 'http', insecure: false };
  return flags.insecureHttp ? { scheme: 'http', insecure: true } : { scheme: 'https', cert: 'ardesia' };
}
