// A small TFTP read client (RFC 1350 + 2347–2349): used by the tests, the benchmark and the
// DHCP/TFTP smoke checks. Hashes the file as it arrives instead of keeping it.
import { createHash } from 'node:crypto';
import { createSocket, type RemoteInfo } from 'node:dgram';
import { DEFAULT_BLKSIZE, decodeTftp, encodeAck, encodeRequest, type TftpPacket } from './codec.js';

export interface TftpGetOptions {
  server: string;
  port?: number;
  file: string;
  blksize?: number;
  tsize?: boolean;
  timeoutMs?: number;
  retries?: number;
}

export interface TftpGetResult { bytes: number; sha256: string; blksize: number; tsize?: number }

export class TftpClientError extends Error {
  constructor(readonly code: number | 'timeout' | 'protocol', message: string) {
    super(message);
    this.name = 'TftpClientError';
  }
}

export function tftpGet(opts: TftpGetOptions): Promise<TftpGetResult> {
  const port = opts.port ?? 69;
  const timeoutMs = opts.timeoutMs ?? 1000;
  const retries = opts.retries ?? 5;
  const requested: Record<string, string> = {};
  if (opts.blksize) requested.blksize = String(opts.blksize);
  if (opts.tsize) requested.tsize = '0';
  const socket = createSocket({ type: 'udp4' });
  const hash = createHash('sha256');
  let blksize = DEFAULT_BLKSIZE;
  let tsize: number | undefined;
  let expected = 1;
  let bytes = 0;
  let peerPort: number | undefined;
  let last = encodeRequest('rrq', opts.file, 'octet', requested);
  let lastTo = port;
  let tries = 0;
  let timer: NodeJS.Timeout | undefined;
  return new Promise<TftpGetResult>((resolve, reject) => {
    let ended = false;
    const end = (err: Error | undefined, result?: TftpGetResult) => {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      socket.close();
      if (err) reject(err);
      else resolve(result!);
    };
    const send = (packet: Buffer, to: number) => {
      last = packet;
      lastTo = to;
      tries = 0;
      socket.send(packet, to, opts.server);
      arm();
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        if (++tries > retries) return end(new TftpClientError('timeout', `no answer from ${opts.server}:${lastTo} after ${retries} resends`));
        socket.send(last, lastTo, opts.server);
        arm();
      }, timeoutMs);
    };
    socket.on('error', (err) => end(err));
    socket.on('message', (msg: Buffer, rinfo: RemoteInfo) => {
      if (peerPort !== undefined && rinfo.port !== peerPort) return;
      let packet: TftpPacket;
      try { packet = decodeTftp(msg); } catch { return; }
      // Until the server answers, only a first packet of a transfer sets its TID: a DATA of another
      // block is a stale send to this port's previous owner, not our answer.
      if (peerPort === undefined && packet.op === 'data' && packet.block !== 1) return;
      peerPort ??= rinfo.port;
      if (packet.op === 'error') return end(new TftpClientError(packet.code, `server error ${packet.code}: ${packet.message}`));
      if (packet.op === 'oack' && expected === 1) {
        if (packet.options.blksize) blksize = Number(packet.options.blksize);
        if (packet.options.tsize) tsize = Number(packet.options.tsize);
        return send(encodeAck(0), peerPort);
      }
      if (packet.op !== 'data') return end(new TftpClientError('protocol', `unexpected ${packet.op}`));
      if (packet.block !== (expected & 0xffff)) return; // a duplicate: our ACK is resent by the timer
      hash.update(packet.data);
      bytes += packet.data.length;
      if (packet.data.length < blksize) {
        const result: TftpGetResult = { bytes, sha256: hash.digest('hex'), blksize };
        if (tsize !== undefined) result.tsize = tsize;
        clearTimeout(timer);
        expected++; // a resent last block that arrives meanwhile is a duplicate
        // Closed once the final ACK has left: closed at once, the send was dropped and every
        // server resent its last block to a closed (or, worse, reused) port.
        socket.send(encodeAck(packet.block), peerPort, opts.server, () => end(undefined, result));
        return;
      }
      expected++;
      send(encodeAck(packet.block), peerPort);
    });
    socket.bind(0, () => send(last, port));
  });
}
