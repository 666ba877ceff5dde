// One read transfer: its own socket (the server's transfer ID), lock-step DATA/ACK, resend on
// timeout. The file is read ahead in two chunks of a few dozen blocks each, so a 30 MiB file
// costs each client ~2 × 94 KiB of memory, and the next chunk is usually read before it is needed.
import type { Socket } from 'node:dgram';
import type { FileHandle } from 'node:fs/promises';
import { dataHeader, decodeTftp, encodeError, encodeOack, TftpErrorCode } from './codec.js';

export const BLOCKS_PER_CHUNK = 64;
export const MAX_RETRANSMITS = 5;

export type TransferEnd = { ok: true; bytes: number; blocks: number; resends: number } | { ok: false; why: string; resends: number };

interface Chunk { start: number; length: number; buffer: Buffer }

export interface TransferSpec {
  socket: Socket;
  handle: FileHandle;
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
  private lastPacket: Buffer[] = [];
  private header = Buffer.alloc(4);
  private timer: NodeJS.Timeout | undefined;
  private resendsInRow = 0;
  private resends = 0;
  private finished = false;
  private readonly lastBlock: number;
  readonly done: Promise<TransferEnd>;
  private resolveDone!: (end: TransferEnd) => void;

  constructor(private readonly spec: TransferSpec) {
    const chunkBytes = spec.blksize * BLOCKS_PER_CHUNK;
    this.current = { start: 0, length: 0, buffer: Buffer.allocUnsafe(chunkBytes) };
    this.spare = { start: 0, length: 0, buffer: Buffer.allocUnsafe(chunkBytes) };
    // A file of exactly n blocks ends with an empty block n+1 (RFC 1350: a short block ends it).
    this.lastBlock = Math.floor(spec.size / spec.blksize) + 1;
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    spec.socket.on('message', (msg) => this.onMessage(msg));
    spec.socket.on('error', (err) => this.finish({ ok: false, why: `socket: ${err.message}`, resends: this.resends }));
  }

  start(): void {
    if (this.spec.oack && Object.keys(this.spec.oack).length > 0) this.transmit([encodeOack(this.spec.oack)]);
    else void this.sendBlock(1);
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

  private async sendBlock(n: number): Promise<void> {
    try {
      const data = await this.blockData(n);
      if (this.finished) return;
      this.block = n;
      this.transmit([dataHeader(n, this.header), data]);
    } catch (err) {
      this.abort(TftpErrorCode.NOT_DEFINED, `read failed: ${(err as Error).message}`);
    }
  }

  private transmit(packet: Buffer[]): void {
    this.lastPacket = packet;
    this.resendsInRow = 0;
    this.spec.socket.send(packet);
    this.arm();
  }

  private arm(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.onTimeout(), this.spec.timeoutMs);
  }

  private onTimeout(): void {
    if (this.finished) return;
    if (this.resendsInRow >= MAX_RETRANSMITS) {
      this.finish({ ok: false, why: `no ACK for block ${this.block} after ${MAX_RETRANSMITS} resends`, resends: this.resends });
      return;
    }
    this.resendsInRow++;
    this.resends++;
    this.spec.socket.send(this.lastPacket);
    this.arm();
  }

  private onMessage(msg: Buffer): void {
    if (this.finished) return;
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
    // Only the ACK of the block in flight moves on; duplicates are ignored (Sorcerer's Apprentice).
    if (packet.block !== (this.block & 0xffff)) return;
    if (this.block === this.lastBlock) {
      this.finish({ ok: true, bytes: this.spec.size, blocks: this.lastBlock, resends: this.resends });
      return;
    }
    clearTimeout(this.timer);
    void this.sendBlock(this.block + 1);
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
