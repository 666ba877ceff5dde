// RFC 6455 for the display socket, pure: the opening handshake (checks and the 101 answer) and the
// frames — a resumable reader of the browser's masked frames and the server's unmasked ones. The
// gateway owns the upgrade with these, so the socket goes to the native relay (native/display-relay.c,
// the same rules in C) or the Node pipe (proxy.ts) without a WebSocket library holding it first.
import { createHash } from 'node:crypto';

const ACCEPT_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** A close frame's body holds a 2-byte code and at most 123 bytes of reason. */
export const CLOSE_REASON_MAX_BYTES = 123;
const CONTROL_MAX_BYTES = 125;
/** How long a sent close frame waits for the browser's reply before the socket is dropped (as the relay). */
export const CLOSE_WAIT_MS = 5_000;

export const Opcode = { continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;

/** Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key + GUID)). */
export function websocketAccept(key: string): string {
  return createHash('sha1').update(key + ACCEPT_GUID).digest('base64');
}

export interface UpgradeRequest {
  method: string | undefined;
  headers: Record<string, string | string[] | undefined>;
}

const header = (req: UpgradeRequest, name: string): string => {
  const value = req.headers[name];
  return (Array.isArray(value) ? value.join(',') : value ?? '').trim();
};
const tokens = (value: string) => value.split(',').map((t) => t.trim().toLowerCase()).filter(Boolean);

/** Why this is not a WebSocket opening handshake we can answer, or undefined when it is. */
export function upgradeProblem(req: UpgradeRequest): string | undefined {
  if (req.method !== 'GET') return `a WebSocket opens with GET, not ${req.method}`;
  if (!tokens(header(req, 'upgrade')).includes('websocket')) return 'the request does not ask for Upgrade: websocket';
  if (!tokens(header(req, 'connection')).includes('upgrade')) return 'the request does not ask for Connection: Upgrade';
  if (header(req, 'sec-websocket-version') !== '13') return 'only WebSocket version 13 (RFC 6455) is spoken here';
  const key = header(req, 'sec-websocket-key');
  if (!/^[A-Za-z0-9+/]{22}==$/.test(key)) return 'Sec-WebSocket-Key must be 16 bytes in base64';
  return undefined;
}

/** The 101 answer: "binary" is the display's subprotocol (noVNC offers it); no extension is accepted. */
export function upgradeResponse(req: UpgradeRequest): string {
  const lines = ['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${websocketAccept(header(req, 'sec-websocket-key'))}`];
  if (header(req, 'sec-websocket-protocol').split(',').some((p) => p.trim() === 'binary')) lines.push('Sec-WebSocket-Protocol: binary');
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** The header of an unmasked server frame (FIN set) carrying `length` payload bytes. */
export function frameHeader(opcode: number, length: number): Buffer {
  if (length < 126) return Buffer.from([0x80 | opcode, length]);
  if (length < 65_536) return Buffer.from([0x80 | opcode, 126, length >> 8, length & 0xff]);
  const head = Buffer.alloc(10);
  head[0] = 0x80 | opcode;
  head[1] = 127;
  head.writeBigUInt64BE(BigInt(length), 2);
  return head;
}

/** A reason cut to what a close frame holds, without a broken UTF-8 sequence at the cut. */
export function closeReasonCut(reason: string): Buffer {
  const bytes = Buffer.from(reason);
  if (bytes.length <= CLOSE_REASON_MAX_BYTES) return bytes;
  return Buffer.from(bytes.subarray(0, CLOSE_REASON_MAX_BYTES).toString('utf8').replace(/\uFFFD+$/, ''));
}

/** A whole server close frame; no code gives an empty body (the echo of a close that had none). */
export function closeFrame(code?: number, reason = ''): Buffer {
  if (code === undefined) return frameHeader(Opcode.close, 0);
  const text = closeReasonCut(reason);
  const body = Buffer.alloc(2 + text.length);
  body.writeUInt16BE(code, 0);
  text.copy(body, 2);
  return Buffer.concat([frameHeader(Opcode.close, body.length), body]);
}

/** What the browser's bytes meant; `data` payloads come as they arrive, before their frame is complete. */
export type BrowserFrameEvent =
  | { kind: 'data'; bytes: Buffer }
  | { kind: 'ping'; payload: Buffer }
  | { kind: 'pong' }
  | { kind: 'close'; code?: number; reason: string }
  | { kind: 'text' }
  | { kind: 'violation'; why: string };

/**
 * Reads a browser's frames at any byte boundary (one byte per feed works). A protocol violation ends the
 * reader (later bytes yield nothing): unmasked frames, reserved bits, unknown opcodes, continuations
 * without a start, a new message inside a fragmented one, fragmented or long control frames, a 1-byte
 * close body. A text message yields `text` once, its payload is dropped (the display is binary).
 */
export class BrowserFrameReader {
  private head = Buffer.alloc(0);
  private payloadLeft = 0;
  private opcode = 0;
  private fin = false;
  private readonly mask = Buffer.alloc(4);
  private maskAt = 0;
  private control: Buffer[] = [];
  private inMessage = false;
  private inText = false;
  private broken = false;
  private inPayload = false;

  feed(chunk: Buffer): BrowserFrameEvent[] {
    const out: BrowserFrameEvent[] = [];
    let at = 0;
    while (at < chunk.length && !this.broken) {
      if (!this.inPayload) {
        at = this.readHead(chunk, at, out);
        continue;
      }
      const n = Math.min(this.payloadLeft, chunk.length - at);
      const bytes = Buffer.from(chunk.subarray(at, at + n));
      for (let i = 0; i < n; i++) bytes[i]! ^= this.mask[(this.maskAt + i) & 3]!;
      this.maskAt = (this.maskAt + n) & 3;
      this.payloadLeft -= n;
      at += n;
      if (this.opcode >= Opcode.close) this.control.push(bytes);
      else if (!this.inText && n > 0) out.push({ kind: 'data', bytes });
      if (this.payloadLeft === 0) this.frameDone(out);
    }
    return out;
  }

  /** Collects a frame header; when complete, checks it and starts its payload. Returns the new offset. */
  private readHead(chunk: Buffer, at: number, out: BrowserFrameEvent[]): number {
    const need = (h: Buffer) => {
      if (h.length < 2) return 2;
      if ((h[1]! & 0x80) === 0) return 2; // unmasked: refused on these two bytes, whatever follows
      const len7 = h[1]! & 0x7f;
      return 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + 4;
    };
    while (this.head.length < need(this.head) && at < chunk.length) {
      const take = Math.min(need(this.head) - this.head.length, chunk.length - at);
      this.head = Buffer.concat([this.head, chunk.subarray(at, at + take)]);
      at += take;
    }
    if (this.head.length < need(this.head)) return at;
    const h = this.head;
    this.head = Buffer.alloc(0);
    const problem = this.startFrame(h, out);
    if (problem) {
      this.broken = true;
      out.push({ kind: 'violation', why: problem });
    }
    return at;
  }

  private startFrame(h: Buffer, out: BrowserFrameEvent[]): string | undefined {
    if ((h[0]! & 0x70) !== 0) return 'reserved bits set (no extension was agreed)';
    if ((h[1]! & 0x80) === 0) return 'an unmasked frame from the browser';
    const opcode = h[0]! & 0x0f;
    const fin = (h[0]! & 0x80) !== 0;
    const len7 = h[1]! & 0x7f;
    let length = len7;
    if (len7 === 126) length = h.readUInt16BE(2);
    else if (len7 === 127) {
      const big = h.readBigUInt64BE(2);
      if (big > BigInt(Number.MAX_SAFE_INTEGER)) return 'a frame length beyond 2^53';
      length = Number(big);
    }
    if (opcode >= Opcode.close) {
      if (opcode > Opcode.pong) return `unknown opcode ${opcode}`;
      if (!fin) return 'a fragmented control frame';
      if (length > CONTROL_MAX_BYTES) return 'a control frame longer than 125 bytes';
      if (opcode === Opcode.close && length === 1) return 'a close frame with a 1-byte body';
    } else {
      if (opcode > Opcode.binary) return `unknown opcode ${opcode}`;
      if ((opcode === Opcode.continuation) !== this.inMessage) return opcode === Opcode.continuation ? 'a continuation without a message' : 'a new message inside a fragmented one';
      if (opcode === Opcode.text) {
        this.inText = true;
        out.push({ kind: 'text' });
      }
      this.inMessage = !fin;
    }
    h.copy(this.mask, 0, h.length - 4);
    this.maskAt = 0;
    this.opcode = opcode;
    this.fin = fin;
    this.payloadLeft = length;
    this.control = [];
    this.inPayload = true;
    if (length === 0) this.frameDone(out);
    return undefined;
  }

  private frameDone(out: BrowserFrameEvent[]): void {
    this.inPayload = false;
    if (this.opcode < Opcode.close) {
      if (this.fin) this.inText = false;
      return;
    }
    const payload = Buffer.concat(this.control);
    if (this.opcode === Opcode.ping) out.push({ kind: 'ping', payload });
    else if (this.opcode === Opcode.pong) out.push({ kind: 'pong' });
    else out.push(payload.length >= 2 ? { kind: 'close', code: payload.readUInt16BE(0), reason: payload.subarray(2).toString('utf8') } : { kind: 'close', reason: '' });
  }
}
