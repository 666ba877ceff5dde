// Which bytes of a browser's RFB stream are a person's input. noVNC sends FramebufferUpdateRequests all the
// time, so "a message arrived" says nothing about idleness; key, pointer, clipboard and QEMU extended key
// messages do. A streaming parser of the client→server direction (RFC 6143 + QEMU's extensions), resumable
// at every byte, allocating nothing per message. Anything it does not understand counts as input from then
// on: a wrong "idle" would disconnect a person at work, a wrong "active" only keeps a session open.

const PROTOCOL_VERSION_BYTES = 12;
const VNC_AUTH_RESPONSE_BYTES = 16;
const SECURITY_NONE = 1;
const SECURITY_VNC_AUTH = 2;
/** The longest header any message needs before its payload length is known (ClientFence: 9). */
const MAX_HEAD_BYTES = 12;

type Phase = 'version' | 'security' | 'vnc-auth' | 'client-init' | 'messages' | 'opaque';

/** What a message's first bytes say: read more header, or its payload length and whether it is input. */
export type FrameShape = { needHead: number } | { payload: number; input: boolean } | 'unknown';

/** The shape of a client message from its first `len` bytes (len ≥ 1; head[0] is the type). Pure. */
export function clientMessageShape(head: Buffer, len: number): FrameShape {
  switch (head[0]) {
    case 0: return { payload: 19, input: false }; // SetPixelFormat
    case 2: return len < 4 ? { needHead: 4 } : { payload: 4 * head.readUInt16BE(2), input: false }; // SetEncodings
    case 3: return { payload: 9, input: false }; // FramebufferUpdateRequest
    case 4: return { payload: 7, input: true }; // KeyEvent
    case 5: return { payload: 5, input: true }; // PointerEvent
    // ClientCutText; a negative length is the extended clipboard's (its size is the absolute value).
    case 6: return len < 8 ? { needHead: 8 } : { payload: Math.abs(head.readInt32BE(4)), input: true };
    case 150: return { payload: 9, input: false }; // EnableContinuousUpdates
    case 248: return len < 9 ? { needHead: 9 } : { payload: head[8]!, input: false }; // ClientFence
    case 251: return len < 8 ? { needHead: 8 } : { payload: 16 * head[6]!, input: false }; // SetDesktopSize
    case 255: return qemuMessageShape(head, len);
    default: return 'unknown';
  }
}

function qemuMessageShape(head: Buffer, len: number): FrameShape {
  if (len < 2) return { needHead: 2 };
  if (head[1] === 0) return { payload: 10, input: true }; // extended key event: down u16, keysym u32, keycode u32
  if (head[1] !== 1) return 'unknown';
  if (len < 4) return { needHead: 4 }; // audio: operation u16
  const operation = head.readUInt16BE(2);
  if (operation === 0 || operation === 1) return { payload: 0, input: false }; // enable / disable
  if (operation === 2) return { payload: 6, input: false }; // set format: format u8, channels u8, frequency u32
  return 'unknown';
}

export class RfbInputMeter {
  private phase: Phase = 'version';
  /** Bytes still to skip in the current phase or message payload. */
  private skip = PROTOCOL_VERSION_BYTES;
  private readonly head = Buffer.alloc(MAX_HEAD_BYTES);
  private headLen = 0;
  private headNeed = 1;
  private payloadIsInput = false;
  private inPayload = false;

  /** True once the stream stopped making sense: from then on every chunk counts as input. */
  get opaque(): boolean {
    return this.phase === 'opaque';
  }

  /** Feeds the next bytes from the client; true when they completed at least one input message. */
  feed(chunk: Buffer): boolean {
    let input = false;
    let at = 0;
    while (at < chunk.length) {
      if (this.phase === 'opaque') return true;
      if (this.phase !== 'messages') {
        at = this.handshake(chunk, at);
        continue;
      }
      if (this.inPayload) {
        const n = Math.min(this.skip, chunk.length - at);
        at += n;
        this.skip -= n;
        if (this.skip === 0) input = this.endMessage() || input;
        continue;
      }
      this.head[this.headLen++] = chunk[at++]!;
      if (this.headLen < this.headNeed) continue;
      const shape = clientMessageShape(this.head, this.headLen);
      if (shape === 'unknown') {
        this.phase = 'opaque';
        return true;
      }
      if ('needHead' in shape) {
        this.headNeed = shape.needHead;
        continue;
      }
      this.payloadIsInput = shape.input;
      this.skip = shape.payload;
      this.inPayload = true;
      if (this.skip === 0) input = this.endMessage() || input;
    }
    return input || (this.phase === 'opaque' && chunk.length > 0);
  }

  private endMessage(): boolean {
    const wasInput = this.payloadIsInput;
    this.inPayload = false;
    this.headLen = 0;
    this.headNeed = 1;
    return wasInput;
  }

  /** The fixed-size handshake: version, security type (+ VNC auth response), ClientInit. Returns the new offset. */
  private handshake(chunk: Buffer, at: number): number {
    if (this.phase === 'security') {
      const type = chunk[at]!;
      if (type === SECURITY_NONE) this.next('client-init', 1);
      else if (type === SECURITY_VNC_AUTH) this.next('vnc-auth', VNC_AUTH_RESPONSE_BYTES);
      else this.phase = 'opaque'; // VeNCrypt, TLS…: a sub-negotiation this meter does not follow
      return at + 1;
    }
    const n = Math.min(this.skip, chunk.length - at);
    if (this.phase === 'version') chunk.copy(this.head, PROTOCOL_VERSION_BYTES - this.skip, at, at + n);
    this.skip -= n;
    if (this.skip === 0) {
      if (this.phase === 'version') this.afterVersion();
      else if (this.phase === 'vnc-auth') this.next('client-init', 1);
      else this.next('messages', 0);
    }
    return at + n;
  }

  /** 3.7 and 3.8 clients choose a security type; a 3.3 client lets the server choose, unseen from this side. */
  private afterVersion(): void {
    const version = this.head.toString('latin1', 0, PROTOCOL_VERSION_BYTES);
    if (version === 'RFB 003.007\n' || version === 'RFB 003.008\n') this.next('security', 1);
    else this.phase = 'opaque';
  }

  private next(phase: Phase, skip: number): void {
    this.phase = phase;
    this.skip = skip;
  }
}
