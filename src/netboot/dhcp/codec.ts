// DHCP packet codec (RFC 2131 header, RFC 2132 options, RFC 3396 long options, RFC 4578 PXE
// options, iPXE's option 175). Pure: bytes in, a typed packet or a DhcpDecodeError out.
import { formatMac, ipFromBytes, ipToBytes, ZERO_ADDRESS } from '../../contract/ipv4.js';

export const BOOTP_HEADER_BYTES = 236;
export const MAGIC_COOKIE = 0x63825363;
/** Larger than any DHCP message on a 9000-byte jumbo frame; anything bigger is hostile. */
export const MAX_DHCP_PACKET_BYTES = 9000;
/** RFC 2131 §2: a client must accept 576-byte messages; BOOTP relays expect at least 300. */
export const MIN_REPLY_BYTES = 300;

export const BOOTREQUEST = 1;
export const BOOTREPLY = 2;
export const BROADCAST_FLAG = 0x8000;

export const MessageType = { DISCOVER: 1, OFFER: 2, REQUEST: 3, DECLINE: 4, ACK: 5, NAK: 6, RELEASE: 7, INFORM: 8 } as const;
export type MessageTypeName = keyof typeof MessageType;

export const Opt = {
  PAD: 0, SUBNET_MASK: 1, ROUTER: 3, DNS: 6, HOSTNAME: 12, DOMAIN: 15, BROADCAST: 28, VENDOR: 43,
  REQUESTED_IP: 50, LEASE_TIME: 51, OVERLOAD: 52, MESSAGE_TYPE: 53, SERVER_ID: 54, PARAM_LIST: 55,
  MESSAGE: 56, MAX_SIZE: 57, RENEWAL_T1: 58, REBINDING_T2: 59, VENDOR_CLASS: 60, CLIENT_ID: 61,
  TFTP_SERVER: 66, BOOTFILE: 67, USER_CLASS: 77, RELAY_AGENT: 82, CLIENT_ARCH: 93, CLIENT_NDI: 94,
  CLIENT_MACHINE_ID: 97, IPXE_ENCAP: 175, END: 255,
} as const;

export type DhcpDecodeReason =
  | 'oversized' | 'truncated' | 'bad-op' | 'bad-hlen' | 'bad-cookie' | 'truncated-option' | 'bad-option';

export class DhcpDecodeError extends Error {
  constructor(readonly reason: DhcpDecodeReason, detail: string) {
    super(`DHCP decode: ${reason}: ${detail}`);
    this.name = 'DhcpDecodeError';
  }
}

export interface ClientNdi { type: number; major: number; minor: number }

/** The options Ardesia acts on, typed; every option is also in `raw` (RFC 3396 concatenated). */
export interface DhcpOptions {
  messageType?: number;
  requestedIp?: string;
  serverId?: string;
  leaseSeconds?: number;
  parameterRequestList?: number[];
  maxMessageSize?: number;
  vendorClass?: string;
  clientId?: Buffer;
  hostname?: string;
  userClass?: string[];
  clientArch?: number[];
  clientNdi?: ClientNdi;
  clientMachineId?: Buffer;
  /** Option 43 split into sub-options when it parses as TLVs (PXE vendor options), else absent. */
  vendorSubOptions?: Map<number, Buffer>;
  /** Option 175 (iPXE's encapsulated options): its presence alone marks an iPXE client. */
  ipxe?: Map<number, Buffer>;
  raw: Map<number, Buffer>;
}

export interface DhcpPacket {
  op: number;
  htype: number;
  hlen: number;
  hops: number;
  xid: number;
  secs: number;
  flags: number;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  chaddr: Buffer;
  /** Client hardware address as `aa:bb:cc:dd:ee:ff` (the first hlen bytes). */
  mac: string;
  sname: string;
  file: string;
  options: DhcpOptions;
}

function cString(buf: Buffer): string {
  const end = buf.indexOf(0);
  return buf.subarray(0, end < 0 ? buf.length : end).toString('latin1');
}

/** Reads one options area into `into`, appending repeated codes (RFC 3396). Stops at END. */
function readOptionArea(area: Buffer, into: Map<number, Buffer[]>, where: string): void {
  let i = 0;
  while (i < area.length) {
    const code = area[i]!;
    if (code === Opt.PAD) { i++; continue; }
    if (code === Opt.END) return;
    if (i + 1 >= area.length) throw new DhcpDecodeError('truncated-option', `option ${code} has no length byte in ${where}`);
    const len = area[i + 1]!;
    if (i + 2 + len > area.length) throw new DhcpDecodeError('truncated-option', `option ${code} needs ${len} bytes in ${where}`);
    const parts = into.get(code) ?? [];
    parts.push(area.subarray(i + 2, i + 2 + len));
    into.set(code, parts);
    i += 2 + len;
  }
}

function exactLength(code: number, value: Buffer, len: number): Buffer {
  if (value.length !== len) throw new DhcpDecodeError('bad-option', `option ${code} must be ${len} bytes, got ${value.length}`);
  return value;
}

/** Parses a buffer of (code, length, value) sub-options, or returns undefined if it is not one. */
export function parseSubOptions(buf: Buffer): Map<number, Buffer> | undefined {
  const out = new Map<number, Buffer>();
  let i = 0;
  while (i < buf.length) {
    const code = buf[i]!;
    if (code === Opt.PAD) { i++; continue; }
    if (code === Opt.END) return out;
    if (i + 1 >= buf.length || i + 2 + buf[i + 1]! > buf.length) return undefined;
    out.set(code, buf.subarray(i + 2, i + 2 + buf[i + 1]!));
    i += 2 + buf[i + 1]!;
  }
  return out;
}

/** RFC 3004 user class: length-prefixed strings; iPXE sends plain "iPXE", which is taken whole. */
export function parseUserClass(buf: Buffer): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < buf.length) {
    const len = buf[i]!;
    if (len === 0 || i + 1 + len > buf.length) return [buf.toString('latin1')];
    out.push(buf.subarray(i + 1, i + 1 + len).toString('latin1'));
    i += 1 + len;
  }
  return out;
}

function typedOptions(raw: Map<number, Buffer>): DhcpOptions {
  const o: DhcpOptions = { raw };
  const get = (code: number) => raw.get(code);
  let v: Buffer | undefined;
  if ((v = get(Opt.MESSAGE_TYPE))) o.messageType = exactLength(Opt.MESSAGE_TYPE, v, 1)[0];
  if ((v = get(Opt.REQUESTED_IP))) o.requestedIp = ipFromBytes(exactLength(Opt.REQUESTED_IP, v, 4), 0);
  if ((v = get(Opt.SERVER_ID))) o.serverId = ipFromBytes(exactLength(Opt.SERVER_ID, v, 4), 0);
  if ((v = get(Opt.LEASE_TIME))) o.leaseSeconds = exactLength(Opt.LEASE_TIME, v, 4).readUInt32BE(0);
  if ((v = get(Opt.PARAM_LIST))) o.parameterRequestList = [...v];
  if ((v = get(Opt.MAX_SIZE))) o.maxMessageSize = exactLength(Opt.MAX_SIZE, v, 2).readUInt16BE(0);
  if ((v = get(Opt.VENDOR_CLASS))) o.vendorClass = v.toString('latin1');
  if ((v = get(Opt.CLIENT_ID))) o.clientId = v;
  if ((v = get(Opt.HOSTNAME))) o.hostname = v.toString('latin1');
  if ((v = get(Opt.USER_CLASS))) o.userClass = parseUserClass(v);
  if ((v = get(Opt.CLIENT_ARCH))) {
    if (v.length === 0 || v.length % 2 !== 0) throw new DhcpDecodeError('bad-option', `option 93 must be a list of 16-bit types, got ${v.length} bytes`);
    o.clientArch = Array.from({ length: v.length / 2 }, (_, k) => v!.readUInt16BE(k * 2));
  }
  if ((v = get(Opt.CLIENT_NDI))) {
    const ndi = exactLength(Opt.CLIENT_NDI, v, 3);
    o.clientNdi = { type: ndi[0]!, major: ndi[1]!, minor: ndi[2]! };
  }
  if ((v = get(Opt.CLIENT_MACHINE_ID))) {
    if (v.length !== 17 || v[0] !== 0) throw new DhcpDecodeError('bad-option', 'option 97 must be type 0 and a 16-byte GUID');
    o.clientMachineId = v.subarray(1);
  }
  if ((v = get(Opt.VENDOR))) o.vendorSubOptions = parseSubOptions(v);
  if ((v = get(Opt.IPXE_ENCAP))) o.ipxe = parseSubOptions(v) ?? new Map();
  return o;
}

/** Decodes a DHCP/BOOTP message. Throws only DhcpDecodeError. */
export function decodeDhcp(buf: Buffer): DhcpPacket {
  if (buf.length > MAX_DHCP_PACKET_BYTES) throw new DhcpDecodeError('oversized', `${buf.length} bytes`);
  if (buf.length < BOOTP_HEADER_BYTES + 4) throw new DhcpDecodeError('truncated', `${buf.length} bytes, header needs ${BOOTP_HEADER_BYTES + 4}`);
  const op = buf[0]!;
  if (op !== BOOTREQUEST && op !== BOOTREPLY) throw new DhcpDecodeError('bad-op', `op ${op}`);
  const hlen = buf[2]!;
  if (hlen === 0 || hlen > 16) throw new DhcpDecodeError('bad-hlen', `hlen ${hlen}`);
  if (buf.readUInt32BE(BOOTP_HEADER_BYTES) !== MAGIC_COOKIE) throw new DhcpDecodeError('bad-cookie', 'no DHCP magic cookie');
  const snameField = buf.subarray(44, 108);
  const fileField = buf.subarray(108, 236);
  const parts = new Map<number, Buffer[]>();
  readOptionArea(buf.subarray(BOOTP_HEADER_BYTES + 4), parts, 'options');
  const overload = parts.get(Opt.OVERLOAD)?.[0]?.[0] ?? 0;
  // RFC 2131 §4.1: with option 52, options continue in `file` first, then `sname`.
  if (overload & 1) readOptionArea(fileField, parts, 'file');
  if (overload & 2) readOptionArea(snameField, parts, 'sname');
  const raw = new Map<number, Buffer>([...parts].map(([code, bufs]) => [code, Buffer.concat(bufs)]));
  const options = typedOptions(raw);
  const chaddr = Buffer.from(buf.subarray(28, 28 + hlen));
  return {
    op, htype: buf[1]!, hlen, hops: buf[3]!, xid: buf.readUInt32BE(4), secs: buf.readUInt16BE(8), flags: buf.readUInt16BE(10),
    ciaddr: ipFromBytes(buf, 12), yiaddr: ipFromBytes(buf, 16), siaddr: ipFromBytes(buf, 20), giaddr: ipFromBytes(buf, 24),
    chaddr, mac: formatMac(chaddr),
    sname: overload & 2 ? '' : cString(snameField),
    file: overload & 1 ? '' : cString(fileField),
    options,
  };
}

/** What a sender fills in; option values are already encoded (see `optionValue`). */
export interface DhcpMessage {
  op: number;
  xid: number;
  chaddr: Buffer;
  htype?: number;
  hops?: number;
  secs?: number;
  flags?: number;
  ciaddr?: string;
  yiaddr?: string;
  siaddr?: string;
  giaddr?: string;
  sname?: string;
  file?: string;
  /** In order; values longer than 255 bytes are split into several instances (RFC 3396). */
  options: Array<[number, Buffer]>;
}

export const optionValue = {
  u8: (n: number) => Buffer.from([n]),
  u16: (n: number) => { const b = Buffer.alloc(2); b.writeUInt16BE(n); return b; },
  u32: (n: number) => { const b = Buffer.alloc(4); b.writeUInt32BE(n >>> 0); return b; },
  ip: (ip: string) => ipToBytes(ip),
  ips: (ips: string[]) => Buffer.concat(ips.map(ipToBytes)),
  text: (s: string) => Buffer.from(s, 'latin1'),
  subOptions: (subs: Array<[number, Buffer]>) =>
    Buffer.concat([...subs.flatMap(([code, v]) => [Buffer.from([code, v.length]), v]), Buffer.from([Opt.END])]),
};

function writeField(out: Buffer, offset: number, size: number, text: string | undefined): void {
  const bytes = Buffer.from(text ?? '', 'latin1');
  if (bytes.length >= size) throw new RangeError(`field of ${bytes.length} bytes does not fit in ${size - 1}`);
  bytes.copy(out, offset);
}

export function encodeDhcp(msg: DhcpMessage): Buffer {
  const header = Buffer.alloc(BOOTP_HEADER_BYTES + 4);
  header[0] = msg.op;
  header[1] = msg.htype ?? 1;
  header[2] = Math.min(msg.chaddr.length, 16);
  header[3] = msg.hops ?? 0;
  header.writeUInt32BE(msg.xid >>> 0, 4);
  header.writeUInt16BE(msg.secs ?? 0, 8);
  header.writeUInt16BE(msg.flags ?? 0, 10);
  ipToBytes(msg.ciaddr ?? ZERO_ADDRESS).copy(header, 12);
  ipToBytes(msg.yiaddr ?? ZERO_ADDRESS).copy(header, 16);
  ipToBytes(msg.siaddr ?? ZERO_ADDRESS).copy(header, 20);
  ipToBytes(msg.giaddr ?? ZERO_ADDRESS).copy(header, 24);
  msg.chaddr.copy(header, 28, 0, 16);
  writeField(header, 44, 64, msg.sname);
  writeField(header, 108, 128, msg.file);
  header.writeUInt32BE(MAGIC_COOKIE, BOOTP_HEADER_BYTES);
  const chunks: Buffer[] = [header];
  for (const [code, value] of msg.options) {
    for (let at = 0; at === 0 || at < value.length; at += 255) {
      const piece = value.subarray(at, at + 255);
      chunks.push(Buffer.from([code, piece.length]), piece);
    }
  }
  chunks.push(Buffer.from([Opt.END]));
  const body = Buffer.concat(chunks);
  return body.length >= MIN_REPLY_BYTES ? body : Buffer.concat([body, Buffer.alloc(MIN_REPLY_BYTES - body.length)]);
}

export function messageTypeName(type: number | undefined): MessageTypeName | 'UNKNOWN' {
  const entry = Object.entries(MessageType).find(([, v]) => v === type);
  return (entry?.[0] as MessageTypeName | undefined) ?? 'UNKNOWN';
}
