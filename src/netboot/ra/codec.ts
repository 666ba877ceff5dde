// IPv6 router advertisements for the thin-client links (pure): the one Ardesia sends says "no default
// router, no prefixes, no DHCPv6" — all a PXE client's IPv6 autoconfiguration needs to finish at once —
// and the status lines of native/ra-responder.c, which sends it.

export const ICMPV6_ROUTER_ADVERTISEMENT = 134;
const ND_OPT_SOURCE_LINKADDR = 1;
const RA_HEADER_BYTES = 16;
const FLAG_MANAGED = 0x80;
const FLAG_OTHER = 0x40;

export interface RouterAdvertisement {
  /** M: addresses from DHCPv6. */
  managed: boolean;
  /** O: other settings from DHCPv6. */
  other: boolean;
  /** 0: not a default router (RFC 4861 4.2), so no host ever routes through us. */
  routerLifetimeSeconds: number;
  /** Our interface's MAC, as the source link-layer address option (spares the solicitor a neighbour solicitation). */
  sourceMac?: string;
}

/** Ardesia's advertisement: nothing to configure over IPv6, use DHCPv4. */
export const NO_IPV6_ADVERTISEMENT: Omit<RouterAdvertisement, 'sourceMac'> = { managed: false, other: false, routerLifetimeSeconds: 0 };

function macBytes(mac: string): Buffer {
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(mac)) throw new RangeError(`not a MAC address: ${mac}`);
  return Buffer.from(mac.split(':').map((b) => Number.parseInt(b, 16)));
}

/** The ICMPv6 message from its type on; the checksum stays 0 (the kernel computes it for raw ICMPv6 sockets). */
export function encodeRouterAdvertisement(ra: RouterAdvertisement): Buffer {
  if (!Number.isInteger(ra.routerLifetimeSeconds) || ra.routerLifetimeSeconds < 0 || ra.routerLifetimeSeconds > 9000) {
    throw new RangeError(`router lifetime must be 0–9000 s (RFC 4861), not ${ra.routerLifetimeSeconds}`);
  }
  const header = Buffer.alloc(RA_HEADER_BYTES);
  header[0] = ICMPV6_ROUTER_ADVERTISEMENT;
  header[4] = 0; // current hop limit: unspecified, hosts keep theirs
  header[5] = (ra.managed ? FLAG_MANAGED : 0) | (ra.other ? FLAG_OTHER : 0);
  header.writeUInt16BE(ra.routerLifetimeSeconds, 6);
  // reachable time and retrans timer (bytes 8–15) stay 0: unspecified.
  if (!ra.sourceMac) return header;
  const option = Buffer.concat([Buffer.from([ND_OPT_SOURCE_LINKADDR, 1]), macBytes(ra.sourceMac)]);
  return Buffer.concat([header, option]);
}

export type ResponderLine =
  | { kind: 'ready'; ifindex: number; uid: number }
  | { kind: 'answered'; solicitor: string; delivery: 'unicast' | 'multicast' }
  | { kind: 'dropped'; solicitor: string; why: string }
  | { kind: 'other-router'; router: string }
  | { kind: 'failed'; why: string }
  | { kind: 'unknown'; line: string };

/** One status line of native/ra-responder.c (see its header). */
export function parseResponderLine(line: string): ResponderLine {
  const [word = '', ...rest] = line.trim().split(' ');
  const tail = rest.join(' ');
  if (word === 'ready' && rest.length === 2 && rest.every((r) => /^\d+$/.test(r))) return { kind: 'ready', ifindex: Number(rest[0]), uid: Number(rest[1]) };
  if (word === 'answered' && rest.length === 2 && (rest[1] === 'unicast' || rest[1] === 'multicast')) return { kind: 'answered', solicitor: rest[0]!, delivery: rest[1] };
  if (word === 'dropped' && rest.length >= 2) return { kind: 'dropped', solicitor: rest[0]!, why: rest.slice(1).join(' ') };
  if (word === 'other-router' && rest.length === 1) return { kind: 'other-router', router: rest[0]! };
  if (word === 'failed' && tail) return { kind: 'failed', why: tail };
  return { kind: 'unknown', line };
}
