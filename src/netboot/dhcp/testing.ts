// Packet builders for tests and tools: requests as PXE ROMs, iPXE and plain clients send them,
// assembled byte by byte (not through encodeDhcp) so the decoder is checked independently.
import { macToBytes } from '../../contract/ipv4.js';
import { BOOTREQUEST, MAGIC_COOKIE, MessageType, Opt } from './codec.js';

export interface RawRequestSpec {
  mac?: string;
  xid?: number;
  flags?: number;
  ciaddr?: [number, number, number, number];
  giaddr?: [number, number, number, number];
  /** Raw option bytes after the magic cookie (code, len, value…), END appended. */
  options: number[];
  file?: number[];
  sname?: number[];
}

export function rawRequest(spec: RawRequestSpec): Buffer {
  const buf = Buffer.alloc(240);
  buf[0] = BOOTREQUEST;
  buf[1] = 1;
  buf[2] = 6;
  buf.writeUInt32BE(spec.xid ?? 0x12345678, 4);
  buf.writeUInt16BE(spec.flags ?? 0, 10);
  Buffer.from(spec.ciaddr ?? [0, 0, 0, 0]).copy(buf, 12);
  Buffer.from(spec.giaddr ?? [0, 0, 0, 0]).copy(buf, 24);
  macToBytes(spec.mac ?? '52:54:00:12:34:56').copy(buf, 28);
  if (spec.sname) Buffer.from(spec.sname).copy(buf, 44);
  if (spec.file) Buffer.from(spec.file).copy(buf, 108);
  buf.writeUInt32BE(MAGIC_COOKIE, 236);
  return Buffer.concat([buf, Buffer.from(spec.options), Buffer.from([Opt.END])]);
}

const text = (s: string) => [...Buffer.from(s, 'latin1')];
const opt = (code: number, bytes: number[]) => [code, bytes.length, ...bytes];

export const VENDOR_CLASS_BIOS = 'PXEClient:Arch:00000:UNDI:002001';
export const EXAMPLE_UUID = Array.from({ length: 16 }, (_, i) => 0xa0 + i);

/** The options iPXE 1.0 (dhcp.c) puts in a DISCOVER: 53, 57, 93, 94, 60, 77, 175, 61, 97, 55. */
export function ipxeDiscoverOptions(arch = 0): number[] {
  return [
    ...opt(Opt.MESSAGE_TYPE, [MessageType.DISCOVER]),
    ...opt(Opt.MAX_SIZE, [0x05, 0xc0]),
    ...opt(Opt.CLIENT_ARCH, [arch >> 8, arch & 255]),
    ...opt(Opt.CLIENT_NDI, [1, 2, 1]),
    ...opt(Opt.VENDOR_CLASS, text(`PXEClient:Arch:${String(arch).padStart(5, '0')}:UNDI:002001`)),
    ...opt(Opt.USER_CLASS, text('iPXE')),
    ...opt(Opt.PARAM_LIST, [1, 3, 6, 7, 12, 15, 17, 26, 43, 60, 66, 67, 119, 128, 129, 130, 131, 132, 133, 134, 135, 175, 203]),
    ...opt(Opt.IPXE_ENCAP, [...opt(0xb1, [1, 0x10, 0xec, 0x81, 0x39]), ...opt(0x13, [1]), ...opt(0x11, [1])]),
    ...opt(Opt.CLIENT_ID, [1, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56]),
    ...opt(Opt.CLIENT_MACHINE_ID, [0, ...EXAMPLE_UUID]),
  ];
}

/** A PXE ROM (not iPXE) DISCOVER: 53, 57, 55, 93, 94, 97, 60 — what Intel/legacy ROMs send. */
export function pxeRomDiscoverOptions(arch = 0, type: number = MessageType.DISCOVER): number[] {
  return [
    ...opt(Opt.MESSAGE_TYPE, [type]),
    ...opt(Opt.MAX_SIZE, [0x04, 0xec]),
    ...opt(Opt.PARAM_LIST, [1, 2, 3, 5, 6, 11, 12, 13, 15, 16, 17, 18, 43, 54, 60, 66, 67, 128, 129, 130, 131, 132, 133, 134, 135]),
    ...opt(Opt.CLIENT_ARCH, [arch >> 8, arch & 255]),
    ...opt(Opt.CLIENT_NDI, [1, 2, 1]),
    ...opt(Opt.CLIENT_MACHINE_ID, [0, ...EXAMPLE_UUID]),
    ...opt(Opt.VENDOR_CLASS, text(`PXEClient:Arch:${String(arch).padStart(5, '0')}:UNDI:002001`)),
  ];
}

/** A plain client (like udhcpc) DISCOVER or REQUEST; extra raw options appended. */
export function plainOptions(type: number, extra: number[] = []): number[] {
  return [...opt(Opt.MESSAGE_TYPE, [type]), ...opt(Opt.PARAM_LIST, [1, 3, 6, 12, 15, 28, 42]), ...extra];
}

export const rawOption = opt;
export const ipBytes = (ip: string) => ip.split('.').map(Number);
