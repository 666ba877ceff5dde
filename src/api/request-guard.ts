// Request guards, pure: the client's address (X-Forwarded-For believed only from a configured trusted proxy) and
// the Origin check that stops another site's page from acting with a user's session cookie (CSRF, WebSocket hijack).
import { isIP } from 'node:net';
import { SESSION_COOKIE, cookiesParse } from '../auth/cookies.js';

/** Trusted proxies: exact addresses and IPv4 CIDR ranges, parsed once at start-up. */
export interface TrustedProxies {
  exact: ReadonlySet<string>;
  ranges: ReadonlyArray<{ base: number; mask: number }>;
}

export const NO_TRUSTED_PROXIES: TrustedProxies = { exact: new Set(), ranges: [] };

const v4ToInt = (a: string): number => a.split('.').reduce((n, octet) => (n << 8) + Number(octet), 0) >>> 0;
/** `::ffff:10.0.0.1` (an IPv4 peer on a dual-stack socket) is 10.0.0.1. */
const plainAddress = (a: string): string => (a.toLowerCase().startsWith('::ffff:') && isIP(a.slice(7)) === 4 ? a.slice(7) : a.toLowerCase());

/** Parses `--trusted-proxy` values (addresses or IPv4 CIDRs); throws a message naming the bad entry. */
export function trustedProxiesParse(entries: readonly string[]): TrustedProxies {
  const exact = new Set<string>();
  const ranges: Array<{ base: number; mask: number }> = [];
  for (const raw of entries.flatMap((e) => e.split(',')).map((e) => e.trim()).filter(Boolean)) {
    const cidr = /^(\d+\.\d+\.\d+\.\d+)\/(\d{1,2})$/.exec(raw);
    if (cidr && isIP(cidr[1]!) === 4 && Number(cidr[2]) <= 32) {
      const bits = Number(cidr[2]);
      const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
      ranges.push({ base: (v4ToInt(cidr[1]!) & mask) >>> 0, mask });
    } else if (isIP(raw)) exact.add(plainAddress(raw));
    else throw new Error(`${raw} is not an IP address or an IPv4 CIDR (like 10.0.0.5 or 10.0.0.0/24)`);
  }
  return { exact, ranges };
}

export function isTrustedProxy(address: string, trusted: TrustedProxies): boolean {
  const a = plainAddress(address);
  if (trusted.exact.has(a)) return true;
  if (isIP(a) !== 4) return false;
  const n = v4ToInt(a);
  return trusted.ranges.some((r) => ((n & r.mask) >>> 0) === r.base);
}

/**
 * The client's address: the TCP peer, unless the peer is a trusted proxy; then X-Forwarded-For is walked from the
 * right, past trusted proxies, to the first address that is not one. 'local' for the unix socket.
 */
export function clientAddress(peer: string | undefined, forwardedFor: string | string[] | undefined, trusted: TrustedProxies): string {
  if (!peer) return 'local';
  let current = plainAddress(peer);
  if (!isTrustedProxy(current, trusted) || forwardedFor === undefined) return current;
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',').map((h) => h.trim()).filter(Boolean);
  while (hops.length && isTrustedProxy(current, trusted)) {
    const hop = hops.pop()!;
    if (!isIP(plainAddress(hop))) return current; // a garbled hop: stop at the last address we can vouch for
    current = plainAddress(hop);
  }
  return current;
}

export interface OriginInput {
  method: string;
  headers: { origin?: string; host?: string; authorization?: string; cookie?: string; 'x-forwarded-host'?: string | string[] };
  /** A WebSocket upgrade (checked whatever its method). */
  upgrade: boolean;
  /** The peer is a trusted proxy: X-Forwarded-Host names the host the browser used. */
  viaTrustedProxy: boolean;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The request authenticates with the session cookie (no bearer token wins over it). */
export const usesSessionCookie = (h: OriginInput['headers']): boolean => h.authorization === undefined && cookiesParse(h.cookie)[SESSION_COOKIE] !== undefined;

/**
 * Why this request is refused for its Origin, or undefined. State-changing requests and WebSocket upgrades:
 * an Origin that is not this server's is refused; no Origin at all is refused when the session cookie is the
 * credential (browsers always send one there; scripts use bearer tokens and need none).
 */
export function originProblem(input: OriginInput): string | undefined {
  if (!input.upgrade && SAFE_METHODS.has(input.method.toUpperCase())) return undefined;
  const { origin } = input.headers;
  const what = input.upgrade ? 'WebSocket' : `${input.method} request`;
  if (origin === undefined) return usesSessionCookie(input.headers) ? `a ${what} with the session cookie must carry an Origin header` : undefined;
  const forwarded = input.viaTrustedProxy ? input.headers['x-forwarded-host'] : undefined;
  const host = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim() || input.headers.host;
  let originHost: string;
  try {
    originHost = new URL(origin).host;
  } catch {
    return `a ${what} from origin ${origin.slice(0, 100)} is refused: it is not this server's`;
  }
  if (!host || originHost.toLowerCase() !== host.toLowerCase()) return `a ${what} from origin ${origin.slice(0, 100)} is refused: it is not this server's (${host ?? 'no Host'})`;
  return undefined;
}
