// One read transfer: its own socket (the server's transfer ID), lock-step DATA/ACK, resend on
// timeout. The file is read ahead in two chunks of a few dozen blocks each, so a 30 MiB file
// costs each client ~2 × 94 KiB of memory, and the next chunk is usually read before it is needed.
import type { Socket } from 'node:dgram';
import { dataHeader, decodeTftp, encodeError, encodeOack, TftpErrorCode } from './codec.js';

export const BLOCKS_PER_CHUNK = 64;
export const MAX_RETRANSMITS = 5;

export type TransferEnd = { ok: true; bytes: number; blocks: number; resends: number } | { ok: false; why: string; resends: number };

interface Chunk { start: number; length: number; buffer: Buffer }

/** What a transfer reads from: a FileHandle, or an fd shared with a worker thread. */
export interface FileReader {
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  close(): Promise<void>;
}

export interface TransferSpec {
  socket: Socket;
  handle: FileReader;
  size: number;
  blksize: number;
  timeoutMs: number;
  oack?: Record<string, string>;
}

export class ReadTransfer {
  private current: Chunk;
  private spare: Chunk;
  private pending: Promise<Chunk> | undefined;
  private block = 0;
  private lastPacket: Buffer = Buffer.alloc(0);
  /** One DATA packet buffer per transfer: a single-buffer send is ~10 % cheaper than scatter-gather. */
  private readonly packet: Buffer;
  private timer: NodeJS.Timeout | undefined;
  private resendsInRow = 0;
  private progress = 0;
  /** While a chunk is being read no ACK may start another send. */
  private reading = false;
  private progressAtLastTick = -1;
  private resends = 0;
  private finished = false;
  private readonly lastBlock: number;
  readonly done: Promise<TransferEnd>;
  private resolveDone!: (end: TransferEnd) => void;

  constructor(private readonly spec: TransferSpec) {
    const chunkBytes = spec.blksize * BLOCKS_PER_CHUNK;
    this.current = { start: 0, length: 0, buffer: Buffer.allocUnsafe(chunkBytes) };
    this.spare = { start: 0, length: 0, buffer: Buffer.allocUnsafe(chunkBytes) };
    this.packet = Buffer.allocUnsafe(4 + spec.blksize);
    // A file of exactly n blocks ends with an empty block n+1 (RFC 1350: a short block ends it).
    this.lastBlock = Math.floor(spec.size / spec.blksize) + 1;
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    spec.socket.on('message', (msg) => this.onMessage(msg));
    spec.socket.on('error', (err) => this.finish({ ok: false, why: `socket: ${err.message}`, resends: this.resends }));
  }

  start(): void {
    if (this.spec.oack && Object.keys(this.spec.oack).length > 0) this.transmit(encodeOack(this.spec.oack));
    else this.sendBlock(1);
  }

  private read(start: number, into: Chunk): Promise<Chunk> {
    const want = Math.min(into.buffer.length, this.spec.size - start);
    return this.spec.handle.read(into.buffer, 0, Math.max(want, 0), start).then(({ bytesRead }) => {
      into.start = start;
      into.length = bytesRead;
      return into;
    });
  }

  /** The bytes of block n (1-based, not wrapped), from the read-ahead chunks. */
  private async blockData(n: number): Promise<Buffer> {
    const offset = (n - 1) * this.spec.blksize;
    const inChunk = (c: Chunk) => offset >= c.start && offset < c.start + c.length;
    if (!inChunk(this.current) && offset < this.spec.size) {
      const next = await (this.pending ?? this.read(offset, this.spare));
      this.pending = undefined;
      this.spare = this.current;
      this.current = next.start === offset || inChunk(next) ? next : await this.read(offset, next);
    }
    const end = this.current.start + this.current.length;
    if (!this.pending && end < this.spec.size) this.pending = this.read(end, this.spare);
    if (offset >= this.spec.size) return Buffer.alloc(0);
    const from = offset - this.current.start;
    return this.current.buffer.subarray(from, Math.min(from + this.spec.blksize, this.current.length));
  }

  /** Block n if it is already read ahead (the usual case): no promise, no microtask. */
  private readyBlock(n: number): Buffer | undefined {
    const offset = (n - 1) * this.spec.blksize;
    if (offset >= this.spec.size) return offset === this.spec.size || this.spec.size === 0 ? Buffer.alloc(0) : undefined;
    const c = this.current;
    const from = offset - c.start;
    const end = Math.min(from + this.spec.blksize, c.length);
    const complete = end - from === this.spec.blksize || c.start + end === this.spec.size;
    if (from < 0 || from >= c.length || !complete) return undefined;
    if (!this.pending && c.start + c.length < this.spec.size && from >= c.length / 2) this.pending = this.read(c.start + c.length, this.spare);
    return c.buffer.subarray(from, end);
  }

  private sendBlock(n: number): void {
    const ready = this.readyBlock(n);
    if (ready) {
      this.block = n;
      this.transmit(this.dataPacket(n, ready));
      return;
    }
    this.reading = true;
    this.blockData(n).then((data) => {
      this.reading = false;
      if (this.finished) return;
      this.block = n;
      this.transmit(this.dataPacket(n, data));
    }, (err: Error) => this.abort(TftpErrorCode.NOT_DEFINED, `read failed: ${err.message}`));
  }

  private dataPacket(n: number, data: Buffer): Buffer {
    dataHeader(n, this.packet);
    data.copy(this.packet, 4);
    return this.packet.subarray(0, 4 + data.length);
  }

  private transmit(packet: Buffer): void {
    this.lastPacket = packet;
    this.resendsInRow = 0;
    this.progress++;
    this.spec.socket.send(packet);
    this.timer ??= setTimeout(() => this.watchdog(), this.spec.timeoutMs);
  }

  /**
   * One timer per transfer, not one per packet: every timeoutMs it resends the last packet if
   * nothing moved since the previous tick (so a loss is repaired within 1–2 × timeout).
   */
  private watchdog(): void {
    if (this.finished) return;
    if (this.progress === this.progressAtLastTick) {
      if (this.resendsInRow >= MAX_RETRANSMITS) {
        this.finish({ ok: false, why: `no ACK for block ${this.block} after ${MAX_RETRANSMITS} resends`, resends: this.resends });
        return;
      }
      this.resendsInRow++;
      this.resends++;
      this.spec.socket.send(this.lastPacket);
    }
    this.progressAtLastTick = this.progress;
    this.timer = setTimeout(() => this.watchdog(), this.spec.timeoutMs);
  }

  private onMessage(msg: Buffer): void {
    if (this.finished) return;
    // Fast path for the packet that arrives ~20,000 times per 30 MiB: a 4-byte ACK.
    if (msg.length === 4 && msg[0] === 0 && msg[1] === 4) return this.onAck(msg.readUInt16BE(2));
    let packet;
    try {
      packet = decodeTftp(msg);
    } catch {
      return; // a garbled datagram: the timer resends if the real ACK was lost
    }
    if (packet.op === 'error') {
      this.finish({ ok: false, why: `client error ${packet.code}: ${packet.message}`, resends: this.resends });
      return;
    }
    if (packet.op !== 'ack') {
      this.abort(TftpErrorCode.ILLEGAL_OPERATION, 'only ACKs are expected during a read');
      return;
    }
    this.onAck(packet.block);
  }

  private onAck(block: number): void {
    // Only the ACK of the block in flight moves on; duplicates are ignored (Sorcerer's Apprentice).
    if (this.reading || block !== (this.block & 0xffff)) return;
    if (this.block === this.lastBlock) {
      this.finish({ ok: true, bytes: this.spec.size, blocks: this.lastBlock, resends: this.resends });
      return;
    }
    this.sendBlock(this.block + 1);
  }

  /** Ends the transfer without a word to the client (it has moved on). */
  stop(why: string): void {
    this.finish({ ok: false, why, resends: this.resends });
  }

  abort(code: number, why: string): void {
    if (this.finished) return;
    try { this.spec.socket.send(encodeError(code, why)); } catch { /* socket gone */ }
    this.finish({ ok: false, why, resends: this.resends });
  }

  private finish(end: TransferEnd): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.timer);
    const close = () => { try { this.spec.socket.close(); } catch { /* closed */ } };
    // Let a final error packet leave before the socket closes.
    setImmediate(close);
    void this.spec.handle.close().catch(() => {});
    this.resolveDone(end);
  }
}
