// Read-only TFTP server: one listening socket for requests, then one ephemeral socket per
// transfer (RFC 1350 transfer IDs), connected to the client so the kernel drops foreign TIDs.
// Transfers run in native sender processes (native-sender.ts), else in TypeScript (transfer.ts).
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { realpath, type FileHandle } from 'node:fs/promises';
import { decodeTftp, encodeError, MAX_BLKSIZE, negotiateOptions, TftpDecodeError, TftpErrorCode, type TftpPacket } from './codec.js';
import { checkRequestName, openUnderRoot } from './paths.js';
import { startNativeTransfer, tftpSenderBinary } from './native-sender.js';
import { ReadTransfer, type TransferEnd } from './transfer.js';
import { TransferPool } from './worker-pool.js';

export const TFTP_PORT = 69;
export const MAX_CONCURRENT_TRANSFERS = 256;
/** Transfers one client address may have at once: a PXE ROM or iPXE fetches one file at a time. */
export const MAX_TRANSFERS_PER_CLIENT = 4;

export type TftpLog = (event: Record<string, unknown>) => void;

export interface TftpServerOptions {
  root: string;
  address: string;
  port?: number;
  log?: TftpLog;
  /** Ethernet MTU 1500 − IP 20 − UDP 8 − TFTP 4 = 1468 is the usual ceiling. */
  maxBlksize?: number;
  maxTransfers?: number;
  maxTransfersPerClient?: number;
  /** Worker threads running transfers when the native sender is off or missing; 0: the main thread. */
  workers?: number;
}

export interface TftpStats { requests: number; badPackets: number; refused: number; completed: number; failed: number; active: number }

interface ActiveTransfer {
  /** The request that started it: the same again is a retransmission, another one a new client on a reused port. */
  readonly request: string;
  /** Ends it, sending the client an ERROR (server closing) or not (superseded). */
  stop?: (quiet: boolean) => void;
  /** A different request from the same port, served once this transfer has ended. */
  next?: { packet: Extract<TftpPacket, { op: 'rrq' }>; rinfo: RemoteInfo };
  /** Why it ended early, for the log. */
  stoppedBecause?: string;
}

/** What identifies a request: a retransmitted RRQ repeats it byte for byte in meaning. */
function requestKey(rrq: Extract<TftpPacket, { op: 'rrq' }>): string {
  return JSON.stringify([rrq.filename, rrq.mode, Object.entries(rrq.options).sort()]);
}

let fallbackWarned = false;

/** Warned once per process: the TypeScript transfer measured ~0.7 × dnsmasq's speed, the native one ~1.1 ×. */
function warnFallback(why: string): void {
  if (fallbackWarned) return;
  fallbackWarned = true;
  process.emitWarning(`the native TFTP sender is not used, transfers run in Node (slower): ${why}`, { code: 'ARDESIA_TFTP_SENDER' });
}

export class TftpServer {
  readonly stats: TftpStats = { requests: 0, badPackets: 0, refused: 0, completed: 0, failed: 0, active: 0 };
  private socket!: Socket;
  private realRoot = '';
  /** Active transfers by client address:port (the client's TID). */
  private readonly transfers = new Map<string, ActiveTransfer>();
  /** Active transfers by client address (any port): one client cannot take every slot. */
  private readonly perClient = new Map<string, number>();
  private pool: TransferPool | undefined;
  /** The native sender binary; undefined: transfers run in TypeScript (workers or main thread). */
  private sender: string | undefined;
  private closed = false;
  private readonly log: TftpLog;

  private constructor(private readonly options: TftpServerOptions) {
    this.log = options.log ?? (() => {});
  }

  static async start(options: TftpServerOptions): Promise<TftpServer> {
    const server = new TftpServer(options);
    server.realRoot = await realpath(options.root);
    const sender = tftpSenderBinary();
    server.sender = sender.path;
    if (!sender.path) {
      warnFallback(sender.why!);
      server.log({ event: 'tftp-sender-fallback', why: sender.why });
      if (options.workers) server.pool = new TransferPool(options.workers);
    }
    server.socket = await new Promise<Socket>((resolve, reject) => {
      const socket = createSocket({ type: 'udp4' });
      socket.once('error', reject);
      socket.bind({ address: options.address, port: options.port ?? TFTP_PORT, exclusive: true }, () => {
        socket.removeAllListeners('error');
        resolve(socket);
      });
    });
    server.socket.on('message', (msg, rinfo) => server.onRequest(msg, rinfo));
    server.socket.on('error', (err) => server.log({ event: 'tftp-socket-error', error: err.message }));
    server.log({ event: 'tftp-listening', address: options.address, port: server.port, root: server.realRoot });
    return server;
  }

  get port(): number {
    return this.socket.address().port;
  }

  private refuse(rinfo: RemoteInfo, code: number, why: string, detail: Record<string, unknown> = {}): void {
    this.stats.refused++;
    this.socket.send(encodeError(code, why), rinfo.port, rinfo.address);
    this.log({ event: 'tftp-refused', from: `${rinfo.address}:${rinfo.port}`, why, ...detail });
  }

  private onRequest(msg: Buffer, rinfo: RemoteInfo): void {
    let packet: TftpPacket;
    try {
      packet = decodeTftp(msg);
    } catch (err) {
      this.stats.badPackets++;
      const reason = err instanceof TftpDecodeError ? err.reason : 'internal';
      this.refuse(rinfo, TftpErrorCode.ILLEGAL_OPERATION, `malformed packet (${reason})`, { bytes: msg.length });
      return;
    }
    if (packet.op === 'wrq') return this.refuse(rinfo, TftpErrorCode.ACCESS_VIOLATION, 'this server is read-only');
    if (packet.op !== 'rrq') return this.refuse(rinfo, TftpErrorCode.ILLEGAL_OPERATION, `unexpected ${packet.op.toUpperCase()} on the request port`);
    this.stats.requests++;
    const key = `${rinfo.address}:${rinfo.port}`;
    const active = this.transfers.get(key);
    if (active) {
      if (active.request === requestKey(packet)) return; // a retransmitted request: the transfer is already answering
      // Another request from the same port: its client gave that transfer up (a PXE ROM's tsize probe,
      // or a new program on the port), so it ends without an ERROR and the new request follows.
      active.next = { packet, rinfo };
      active.stoppedBecause = 'a new request came from the same port';
      active.stop?.(true);
      return;
    }
    this.begin(packet, rinfo, key);
  }

  private begin(packet: Extract<TftpPacket, { op: 'rrq' }>, rinfo: RemoteInfo, key: string): void {
    if (this.transfers.size >= (this.options.maxTransfers ?? MAX_CONCURRENT_TRANSFERS))
      return this.refuse(rinfo, TftpErrorCode.NOT_DEFINED, 'server busy, try again');
    const fromClient = this.perClient.get(rinfo.address) ?? 0;
    if (fromClient >= (this.options.maxTransfersPerClient ?? MAX_TRANSFERS_PER_CLIENT))
      return this.refuse(rinfo, TftpErrorCode.NOT_DEFINED, `too many transfers from ${rinfo.address} at once, try again`);
    // Claimed before any await, so a retransmitted request never starts a second transfer.
    const active: ActiveTransfer = { request: requestKey(packet) };
    this.transfers.set(key, active);
    this.perClient.set(rinfo.address, fromClient + 1);
    this.startTransfer(packet, rinfo, key, active)
      .catch((err: Error) => this.log({ event: 'tftp-internal-error', error: err.stack ?? String(err) }))
      .finally(() => {
        this.transfers.delete(key);
        const left = (this.perClient.get(rinfo.address) ?? 1) - 1;
        if (left > 0) this.perClient.set(rinfo.address, left);
        else this.perClient.delete(rinfo.address);
        if (active.next && !this.closed) this.begin(active.next.packet, active.next.rinfo, key);
      });
  }

  private async startTransfer(rrq: Extract<TftpPacket, { op: 'rrq' }>, rinfo: RemoteInfo, key: string, active: ActiveTransfer): Promise<void> {
    if (rrq.mode !== 'octet') return this.refuse(rinfo, TftpErrorCode.ILLEGAL_OPERATION, `mode ${rrq.mode} not supported; use octet`);
    const name = checkRequestName(rrq.filename);
    if (!name.ok) return this.refuse(rinfo, name.code, name.why, { file: rrq.filename.slice(0, 300) });
    const opened = await openUnderRoot(this.realRoot, name.relative);
    if (!opened.ok) return this.refuse(rinfo, opened.code, opened.why, { file: name.relative });
    if (this.closed || active.next) return void (await opened.handle.close().catch(() => {}));
    const negotiated = negotiateOptions(rrq.options, opened.size, this.options.maxBlksize ?? MAX_BLKSIZE);
    this.stats.active++;
    const via = this.sender ? 'native' : this.pool ? 'worker' : 'main';
    this.log({ event: 'tftp-start', from: key, file: name.relative, size: opened.size, blksize: negotiated.blksize, via });
    const spec = { size: opened.size, blksize: negotiated.blksize, timeoutMs: negotiated.timeoutMs, oack: negotiated.accepted };
    const job = { ...spec, fd: opened.handle.fd, localAddress: this.options.address, client: { address: rinfo.address, port: rinfo.port } };
    let end: TransferEnd;
    let sender: number | undefined;
    try {
      if (this.sender) {
        const native = startNativeTransfer(this.sender, job, opened.handle.fd);
        sender = native.pid;
        active.stop = (quiet) => native.abort(quiet);
        end = await native.done;
      } else if (this.pool) {
        const inWorker = this.pool.run(job);
        active.stop = (quiet) => (quiet ? inWorker.stop() : undefined); // a closing server terminates the workers
        if (active.next) inWorker.stop();
        end = await inWorker.done;
      } else {
        end = await this.runHere(spec, opened.handle, rinfo, active);
      }
    } catch (err) {
      end = { ok: false, why: (err as Error).message, resends: 0 };
    } finally {
      await opened.handle.close().catch(() => {});
    }
    this.stats.active--;
    if (end.ok) this.stats.completed++;
    else this.stats.failed++;
    if (!end.ok && active.stoppedBecause) end = { ...end, why: active.stoppedBecause };
    this.log({ event: end.ok ? 'tftp-done' : 'tftp-failed', from: key, file: name.relative, ...end, ...(sender !== undefined ? { sender } : {}) });
  }

  private async runHere(spec: { size: number; blksize: number; timeoutMs: number; oack: Record<string, string> }, handle: FileHandle, rinfo: RemoteInfo, active: ActiveTransfer): Promise<TransferEnd> {
    const socket = createSocket({ type: 'udp4' });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ address: this.options.address, port: 0 }, () => socket.connect(rinfo.port, rinfo.address, () => {
        socket.removeAllListeners('error');
        resolve();
      }));
    }).catch((err: Error) => { socket.close(); throw err; });
    // The main thread closes the file once the transfer ends, as with a worker.
    const transfer = new ReadTransfer({ ...spec, socket, handle: { read: (b, o, l, p) => handle.read(b, o, l, p), close: async () => {} } });
    active.stop = (quiet) => (quiet ? transfer.stop('superseded') : transfer.abort(TftpErrorCode.NOT_DEFINED, 'server shutting down'));
    if (this.closed) transfer.abort(TftpErrorCode.NOT_DEFINED, 'server shutting down');
    else if (active.next) transfer.stop('superseded');
    else transfer.start();
    return transfer.done;
  }

  close(): void {
    this.closed = true;
    for (const active of this.transfers.values()) active.stop?.(false);
    void this.pool?.close();
    try { this.socket.close(); } catch { /* closed */ }
  }
}
