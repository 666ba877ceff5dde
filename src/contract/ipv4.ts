// IPv4 and MAC helpers shared by the DHCP and TFTP code: dotted quads as strings at the edges,
// 32-bit unsigned integers for arithmetic (ranges, subnets).

export const ZERO_ADDRESS = '0.0.0.0';
export const LIMITED_BROADCAST = '255.255.255.255';

const QUAD = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export function isIpv4(text: string): boolean {
  const m = QUAD.exec(text);
  return m !== null && m.slice(1).every((part) => Number(part) <= 255);
}

export function ipToInt(ip: string): number {
  const m = QUAD.exec(ip);
  if (!m || !isIpv4(ip)) throw new RangeError(`not an IPv4 address: ${ip}`);
  return ((Number(m[1]) << 24) | (Number(m[2]) << 16) | (Number(m[3]) << 8) | Number(m[4])) >>> 0;
}

export function intToIp(value: number): string {
  const v = value >>> 0;
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

export function ipFromBytes(buf: Buffer, offset: number): string {
  return `${buf[offset]}.${buf[offset + 1]}.${buf[offset + 2]}.${buf[offset + 3]}`;
}

export function ipToBytes(ip: string): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(ipToInt(ip));
  return out;
}

export function sameSubnet(a: string, b: string, mask: string): boolean {
  const m = ipToInt(mask);
  return ((ipToInt(a) & m) >>> 0) === ((ipToInt(b) & m) >>> 0);
}

/** MAC as iPXE prints `${mac}`: lower-case hex pairs joined by colons. */
export function formatMac(bytes: Buffer): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

const MAC = /^([0-9a-f]{2}[:-]){5}[0-9a-f]{2}$/i;

export function normalizeMac(text: string): string {
  if (!MAC.test(text)) throw new RangeError(`not a MAC address: ${text}`);
  return text.toLowerCase().replace(/-/g, ':');
}

export function macToBytes(mac: string): Buffer {
  return Buffer.from(normalizeMac(mac).split(':').map((h) => parseInt(h, 16)));
}
