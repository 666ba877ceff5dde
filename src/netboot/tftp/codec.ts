// TFTP packet codec (RFC 1350) with option extension (RFC 2347) and the blksize, tsize and
// timeout options (RFC 2348, 2349). Pure: bytes in, a typed packet or a TftpDecodeError out.

export const TftpOp = { RRQ: 1, WRQ: 2, DATA: 3, ACK: 4, ERROR: 5, OACK: 6 } as const;

export const TftpErrorCode = {
  NOT_DEFINED: 0, FILE_NOT_FOUND: 1, ACCESS_VIOLATION: 2, DISK_FULL: 3, ILLEGAL_OPERATION: 4,
  UNKNOWN_TID: 5, FILE_EXISTS: 6, NO_SUCH_USER: 7, OPTION_REFUSED: 8,
} as const;

/** RFC 1350 requests fit in one 512-byte packet; RFC 2347 keeps option requests within it too. */
export const MAX_REQUEST_BYTES = 512;
export const MAX_FILENAME_BYTES = 255;
export const DEFAULT_BLKSIZE = 512;
export const MIN_BLKSIZE = 8;
export const MAX_BLKSIZE = 65464;
/** Largest datagram a TFTP peer may send: a DATA packet of the largest block size. */
export const MAX_TFTP_PACKET_BYTES = MAX_BLKSIZE + 4;

export interface TftpRequest { op: 'rrq' | 'wrq'; filename: string; mode: string; options: Record<string, string> }

export type TftpPacket =
  | (TftpRequest & { op: 'rrq' })
  | (TftpRequest & { op: 'wrq' })
  | { op: 'data'; block: number; data: Buffer }
  | { op: 'ack'; block: number }
  | { op: 'error'; code: number; message: string }
  | { op: 'oack'; options: Record<string, string> };

export type TftpDecodeReason = 'oversized' | 'truncated' | 'unknown-opcode' | 'unterminated-string' | 'bad-request';

export class TftpDecodeError extends Error {
  constructor(readonly reason: TftpDecodeReason, detail: string) {
    super(`TFTP decode: ${reason}: ${detail}`);
    this.name = 'TftpDecodeError';
  }
}

/** NUL-terminated strings from `offset` to the end; every string must be terminated. */
function strings(buf: Buffer, offset: number): string[] {
  const out: string[] = [];
  let at = offset;
  while (at < buf.length) {
    const end = buf.indexOf(0, at);
    if (end < 0) throw new TftpDecodeError('unterminated-string', `string at byte ${at} has no NUL`);
    out.push(buf.subarray(at, end).toString('latin1'));
    at = end + 1;
  }
  return out;
}

function decodeRequest<Op extends 'rrq' | 'wrq'>(op: Op, buf: Buffer): TftpRequest & { op: Op } {
  if (buf.length > MAX_REQUEST_BYTES) throw new TftpDecodeError('oversized', `request of ${buf.length} bytes`);
  const parts = strings(buf, 2);
  if (parts.length < 2 || parts.length % 2 !== 0) throw new TftpDecodeError('bad-request', `${parts.length} strings, want filename, mode and option pairs`);
  const [filename, mode, ...rest] = parts as [string, string, ...string[]];
  const options: Record<string, string> = {};
  for (let i = 0; i < rest.length; i += 2) options[rest[i]!.toLowerCase()] = rest[i + 1]!;
  return { op, filename, mode: mode.toLowerCase(), options };
}

export function decodeTftp(buf: Buffer): TftpPacket {
  if (buf.length > MAX_TFTP_PACKET_BYTES) throw new TftpDecodeError('oversized', `${buf.length} bytes`);
  if (buf.length < 4) throw new TftpDecodeError('truncated', `${buf.length} bytes`);
  const opcode = buf.readUInt16BE(0);
  switch (opcode) {
    case TftpOp.RRQ: return decodeRequest('rrq', buf);
    case TftpOp.WRQ: return decodeRequest('wrq', buf);
    case TftpOp.DATA: return { op: 'data', block: buf.readUInt16BE(2), data: buf.subarray(4) };
    case TftpOp.ACK:
      if (buf.length !== 4) throw new TftpDecodeError('bad-request', `ACK of ${buf.length} bytes`);
      return { op: 'ack', block: buf.readUInt16BE(2) };
    case TftpOp.ERROR: {
      const end = buf.indexOf(0, 4);
      return { op: 'error', code: buf.readUInt16BE(2), message: buf.subarray(4, end < 0 ? buf.length : end).toString('latin1') };
    }
    case TftpOp.OACK: {
      const parts = strings(buf, 2);
      if (parts.length % 2 !== 0) throw new TftpDecodeError('bad-request', 'OACK with an option but no value');
      const options: Record<string, string> = {};
      for (let i = 0; i < parts.length; i += 2) options[parts[i]!.toLowerCase()] = parts[i + 1]!;
      return { op: 'oack', options };
    }
    default:
      throw new TftpDecodeError('unknown-opcode', `opcode ${opcode}`);
  }
}

function opcode(op: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(op);
  return b;
}

const zstrings = (parts: string[]) => Buffer.concat(parts.map((p) => Buffer.from(`${p}\0`, 'latin1')));

export function encodeRequest(op: 'rrq' | 'wrq', filename: string, mode: string, options: Record<string, string> = {}): Buffer {
  return Buffer.concat([opcode(op === 'rrq' ? TftpOp.RRQ : TftpOp.WRQ), zstrings([filename, mode, ...Object.entries(options).flat()])]);
}

export function encodeAck(block: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt16BE(TftpOp.ACK, 0);
  b.writeUInt16BE(block & 0xffff, 2);
  return b;
}

/** Writes the 4-byte DATA header at the start of `into`. */
export function dataHeader(block: number, into: Buffer = Buffer.alloc(4)): Buffer {
  into.writeUInt16BE(TftpOp.DATA, 0);
  into.writeUInt16BE(block & 0xffff, 2);
  return into;
}

export function encodeData(block: number, data: Buffer): Buffer {
  return Buffer.concat([dataHeader(block), data]);
}

export function encodeError(code: number, message: string): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt16BE(TftpOp.ERROR, 0);
  b.writeUInt16BE(code, 2);
  return Buffer.concat([b, Buffer.from(`${message.slice(0, 200)}\0`, 'latin1')]);
}

export function encodeOack(options: Record<string, string>): Buffer {
  return Buffer.concat([opcode(TftpOp.OACK), zstrings(Object.entries(options).flat())]);
}

export interface NegotiatedOptions {
  /** What goes into the OACK; empty means no OACK (plain RFC 1350 transfer). */
  accepted: Record<string, string>;
  blksize: number;
  timeoutMs: number;
}

export const DEFAULT_TIMEOUT_MS = 1000;
/**
 * The longest `timeout` option accepted (RFC 2349 allows 255 s): a client that never ACKs holds a
 * transfer for timeout × (1 + resends), so a longer one is not acknowledged and the default applies.
 */
export const MAX_TIMEOUT_SECONDS = 10;

/** RFC 2347–2349: accept what we can, clamp blksize to our limit, ignore what we do not know. */
export function negotiateOptions(requested: Record<string, string>, fileSize: number, maxBlksize: number, defaultTimeoutMs = DEFAULT_TIMEOUT_MS): NegotiatedOptions {
  const accepted: Record<string, string> = {};
  let blksize = DEFAULT_BLKSIZE;
  let timeoutMs = defaultTimeoutMs;
  const wantBlk = requested.blksize !== undefined && /^\d{1,6}$/.test(requested.blksize) ? Number(requested.blksize) : undefined;
  if (wantBlk !== undefined && wantBlk >= MIN_BLKSIZE) {
    blksize = Math.min(wantBlk, maxBlksize, MAX_BLKSIZE);
    accepted.blksize = String(blksize);
  }
  const wantTimeout = requested.timeout !== undefined && /^\d{1,3}$/.test(requested.timeout) ? Number(requested.timeout) : undefined;
  if (wantTimeout !== undefined && wantTimeout >= 1 && wantTimeout <= MAX_TIMEOUT_SECONDS) {
    timeoutMs = wantTimeout * 1000;
    accepted.timeout = String(wantTimeout);
  }
  if (requested.tsize === '0') accepted.tsize = String(fileSize);
  return { accepted, blksize, timeoutMs };
}
