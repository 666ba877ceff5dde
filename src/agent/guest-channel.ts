// Host side of the guest channel (design §4): a client of QEMU's chardev socket for the virtio-serial
// port org.ardesia.guest.0. Resumable line framing, schema-checked messages, waitFor, and reconnection
// when QEMU goes away and comes back (a restarted VM reuses the same socket path).
import { EventEmitter } from 'node:events';
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { GuestToHostMessage, HostToGuestMessage, type GuestMessageType } from '../contract/guest.js';

/** A guest line longer than this is not our helper talking; drop it rather than buffer without end. */
export const MAX_LINE_BYTES = 64 * 1024;
export const RECONNECT_DELAY_MS = 250;

/** The wait before dial number `failed + 1` after `failed` dials in a row that did not connect (pure): doubling from
 *  `baseMs` up to `capMs`, so a socket that stays away (a VM its host no longer has) is not dialled every moment. */
export function redialDelayMs(failed: number, baseMs: number, capMs: number): number {
  return Math.min(capMs, baseMs * 2 ** Math.min(Math.max(0, failed - 1), 16));
}

export class GuestChannelClosedError extends Error {
  constructor(message = 'the guest channel is not connected') {
    super(message);
    this.name = 'GuestChannelClosedError';
  }
}

export class GuestChannelTimeoutError extends Error {
  constructor(what: string, timeoutMs: number) {
    super(`no ${what} from the guest helper within ${timeoutMs} ms`);
    this.name = 'GuestChannelTimeoutError';
  }
}

export class GuestProtocolError extends Error {
  constructor(
    message: string,
    readonly line: string,
  ) {
    super(message);
    this.name = 'GuestProtocolError';
  }
}

/** Splits a byte stream into lines, whatever the chunking (pure; one-byte chunks included). */
export class LineDecoder {
  private readonly text = new StringDecoder('utf8');
  private pending = '';
  private discarding = false;

  /** Returns complete lines (without CR/LF) and the number of over-long lines dropped. */
  push(chunk: Buffer): { lines: string[]; dropped: number } {
    this.pending += this.text.write(chunk);
    const lines: string[] = [];
    let dropped = 0;
    let newline: number;
    while ((newline = this.pending.indexOf('\n')) >= 0) {
      const line = this.pending.slice(0, newline).replace(/\r$/, '');
      this.pending = this.pending.slice(newline + 1);
      if (this.discarding) this.discarding = false;
      else lines.push(line);
    }
    if (Buffer.byteLength(this.pending) > MAX_LINE_BYTES) {
      this.pending = '';
      if (!this.discarding) dropped++;
      this.discarding = true;
    }
    return { lines, dropped };
  }

  reset(): void {
    this.pending = '';
    this.discarding = false;
    this.text.end();
  }
}

/** Parses one line into a guest message, or explains why it is not one. */
export function parseGuestLine(line: string): GuestToHostMessage | GuestProtocolError {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return new GuestProtocolError('not JSON', line);
  }
  const parsed = GuestToHostMessage.safeParse(raw);
  return parsed.success ? parsed.data : new GuestProtocolError(`not a guest message: ${parsed.error.issues[0]?.message ?? 'invalid'}`, line);
}

export function encodeHostMessage(message: HostToGuestMessage): string {
  return `${JSON.stringify(HostToGuestMessage.parse(message))}\n`;
}

export interface GuestChannelEvents {
  message: [GuestToHostMessage];
  connected: [];
  disconnected: [];
  'protocol-error': [GuestProtocolError];
}

export interface GuestChannelOptions {
  reconnectDelayMs?: number;
  /** The longest wait between dials that keep failing (redialDelayMs); default reconnectDelayMs: no back-off. */
  reconnectCapMs?: number;
  /** Opens the socket (a stream that emits 'connect' once open): a VM on another host's through its agent; tests inject a
   *  fake. Defaults to node:net connect. */
  connectSocket?: (path: string) => Duplex;
}

type Waiter = { test: (m: GuestToHostMessage) => boolean; resolve: (m: GuestToHostMessage) => void };

export class GuestChannel extends EventEmitter<GuestChannelEvents> {
  private socket: Duplex | undefined;
  private connected = false;
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private decoder = new LineDecoder();
  private readonly waiters = new Set<Waiter>();
  private readonly reconnectDelayMs: number;
  private readonly reconnectCapMs: number;
  /** Dials in a row that did not connect. */
  private failedDials = 0;
  private readonly connectSocket: (path: string) => Duplex;

  constructor(
    readonly socketPath: string,
    options: GuestChannelOptions = {},
  ) {
    super();
    this.reconnectDelayMs = options.reconnectDelayMs ?? RECONNECT_DELAY_MS;
    this.reconnectCapMs = options.reconnectCapMs ?? this.reconnectDelayMs;
    this.connectSocket = options.connectSocket ?? ((path) => connect(path));
  }

  /** Starts connecting; keeps retrying until close() while the socket is absent or QEMU restarts. */
  open(): this {
    this.closed = false;
    this.dial();
    return this;
  }

  get isConnected(): boolean {
    return this.connected;
  }

  send(message: HostToGuestMessage): void {
    if (!this.connected || !this.socket) throw new GuestChannelClosedError();
    this.socket.write(encodeHostMessage(message));
  }

  /** The next message of `type` (received after this call) that satisfies `predicate`. */
  waitFor<T extends GuestMessageType>(
    type: T,
    predicate: (m: Extract<GuestToHostMessage, { type: T }>) => boolean = () => true,
    timeoutMs = 30_000,
  ): Promise<Extract<GuestToHostMessage, { type: T }>> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        test: (m) => m.type === type && predicate(m as Extract<GuestToHostMessage, { type: T }>),
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m as Extract<GuestToHostMessage, { type: T }>);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new GuestChannelTimeoutError(`"${type}"`, timeoutMs));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.socket?.destroy();
    this.socket = undefined;
    this.connected = false;
  }

  private dial(): void {
    if (this.closed) return;
    const socket = this.connectSocket(this.socketPath);
    this.socket = socket;
    this.decoder = new LineDecoder();
    socket.on('connect', () => {
      if (this.socket !== socket) return;
      this.connected = true;
      this.failedDials = 0;
      this.emit('connected');
    });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => undefined); // 'close' follows and schedules the retry
    socket.on('close', () => {
      if (this.socket !== socket) return;
      const wasConnected = this.connected;
      this.connected = false;
      this.socket = undefined;
      if (wasConnected) this.emit('disconnected');
      else this.failedDials++;
      if (!this.closed) this.retryTimer = setTimeout(() => this.dial(), redialDelayMs(this.failedDials, this.reconnectDelayMs, this.reconnectCapMs));
    });
  }

  private onData(chunk: Buffer): void {
    const { lines, dropped } = this.decoder.push(chunk);
    if (dropped > 0) this.emit('protocol-error', new GuestProtocolError(`line longer than ${MAX_LINE_BYTES} bytes dropped`, ''));
    for (const line of lines) {
      if (line.trim() === '') continue;
      const parsed = parseGuestLine(line);
      if (parsed instanceof GuestProtocolError) {
        this.emit('protocol-error', parsed);
        continue;
      }
      this.emit('message', parsed);
      for (const waiter of [...this.waiters]) {
        if (waiter.test(parsed)) {
          this.waiters.delete(waiter);
          waiter.resolve(parsed);
        }
      }
    }
  }
}
