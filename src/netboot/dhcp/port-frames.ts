// Pure parts of the daemon's one DHCP port (src/netboot/dhcp/port.ts): the frames spoken with
// native/dhcp-port.c over its stdio (see its header), and which responder a received datagram belongs to.
import { ipFromBytes, ipToBytes, LIMITED_BROADCAST, ZERO_ADDRESS } from '../../contract/ipv4.js';

const HEADER = 3;
const RECEIVED_HEAD = 14;
const FRAME_BODY_MAX = 0xffff;

export interface Received {
  kind: 'received';
  ifindex: number;
  source: { address: string; port: number };
  /** The IP header's destination: 255.255.255.255 for a client without an address, else a unicast one. */
  destination: string;
  datagram: Buffer;
}

export type PortFrame = Received | { kind: 'status'; text: string } | { kind: 'unknown'; type: number };

/** Resumable: bytes may arrive split anywhere; push() returns the frames completed so far. */
export class PortFrameDecoder {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): PortFrame[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const frames: PortFrame[] = [];
    while (this.pending.length >= HEADER) {
      const length = this.pending.readUInt16BE(1);
      if (this.pending.length < HEADER + length) break;
      frames.push(decodeBody(this.pending[0]!, this.pending.subarray(HEADER, HEADER + length)));
      this.pending = this.pending.subarray(HEADER + length);
    }
    return frames;
  }
}

function decodeBody(type: number, body: Buffer): PortFrame {
  if (type === 0x53) return { kind: 'status', text: body.toString('utf8') };
  if (type !== 0x52 || body.length < RECEIVED_HEAD) return { kind: 'unknown', type };
  return {
    kind: 'received',
    ifindex: body.readUInt32BE(0),
    source: { address: ipFromBytes(body, 4), port: body.readUInt16BE(8) },
    destination: ipFromBytes(body, 10),
    datagram: Buffer.from(body.subarray(RECEIVED_HEAD)),
  };
}

export interface Transmit {
  /** 0 lets the routing table choose (a unicast reply); a broadcast needs the link's index. */
  ifindex: number;
  source: string;
  to: { address: string; port: number };
  datagram: Buffer;
}

export function encodeTransmit(t: Transmit): Buffer {
  const bodyLength = 14 + t.datagram.length;
  if (bodyLength > FRAME_BODY_MAX) throw new RangeError(`a DHCP datagram of ${t.datagram.length} bytes does not fit a frame`);
  const head = Buffer.alloc(HEADER + 14);
  head[0] = 0x54;
  head.writeUInt16BE(bodyLength, 1);
  head.writeUInt32BE(t.ifindex, 3);
  ipToBytes(t.source).copy(head, 7);
  ipToBytes(t.to.address).copy(head, 11);
  head.writeUInt16BE(t.to.port, 15);
  return Buffer.concat([head, t.datagram]);
}

/** The interface a broadcast reply must leave by; unicast replies follow the routing table. */
export function transmitIfindex(to: string, responderIfindex: number): number {
  return to === LIMITED_BROADCAST ? responderIfindex : 0;
}

export interface RouteTarget {
  ifindex: number;
  /** The responder's server address on that link. */
  address: string;
}

/**
 * Whose datagram is this? A broadcast belongs to the responder of the link it came in on, and to no one
 * when that link has none. A unicast belongs to the responder it is addressed to, if it came in on that
 * responder's link or on a link without a responder (a relay agent routed it); never to a responder of
 * another link: a VM on a local tap unicasting to the netboot address is not a thin client.
 */
export function dhcpRoute<T extends RouteTarget>(responders: readonly T[], ifindex: number, destination: string): T | undefined {
  const onLink = responders.find((r) => r.ifindex === ifindex);
  if (destination === LIMITED_BROADCAST || destination === ZERO_ADDRESS) return onLink;
  if (onLink) return onLink.address === destination ? onLink : undefined;
  return responders.find((r) => r.address === destination);
}
