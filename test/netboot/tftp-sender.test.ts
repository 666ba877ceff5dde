// The transfer's edge cases against a real TftpServer on loopback, driven packet by packet from a
// raw dgram client: with the native sender (native/tftp-sender.c, real processes) by default, or
// with the TypeScript fallback when run under ARDESIA_TFTP_SENDER=off.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { decodeTftp, encodeAck, encodeData, encodeError, encodeRequest, MAX_TIMEOUT_SECONDS, TftpErrorCode, type TftpPacket } from '../../src/netboot/tftp/codec.js';
import { tftpSenderBinary } from '../../src/netboot/tftp/native-sender.js';
import { TftpServer } from '../../src/netboot/tftp/server.js';
import { MAX_RETRANSMITS } from '../../src/netboot/tftp/transfer.js';

const NATIVE = process.env.ARDESIA_TFTP_SENDER !== 'off';
/** Only a guard against a hung test; nothing asserts how long anything took. */
const GUARD_MS = 60_000;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let root: string;
const files: Record<string, Buffer> = {
  'five.bin': randomBytes(5000),
  'exact.bin': randomBytes(1024),
  'wrap.bin': randomBytes(600_000),
};

before(() => {
  if (NATIVE) assert.ok(tftpSenderBinary().path, `the native sender is needed here: ${tftpSenderBinary().why}`);
  root = mkdtempSync(join(tmpdir(), 'tfs-'));
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(root, name), bytes);
});
after(() => rmSync(root, { recursive: true, force: true }));

type Event = Record<string, unknown>;

async function startServer(): Promise<{ server: TftpServer; events: Event[]; event: (name: string) => Promise<Event> }> {
  const events: Event[] = [];
  const waiters: Array<() => void> = [];
  const server = await TftpServer.start({ root, address: '127.0.0.1', port: 0, workers: 0, log: (e) => { events.push(e); for (const w of waiters.splice(0)) w(); } });
  const event = (name: string) => new Promise<Event>((resolve, reject) => {
    const guard = setTimeout(() => reject(new Error(`no ${name}; events: ${JSON.stringify(events)}`)), GUARD_MS);
    const check = () => {
      const hit = events.find((e) => e.event === name);
      if (hit) { clearTimeout(guard); resolve(hit); } else waiters.push(check);
    };
    check();
  });
  return { server, events, event };
}

/** A client socket with a queue of what arrived; `port` is the server's transfer ID once known. */
class RawClient {
  private readonly queue: TftpPacket[] = [];
  private waiter: (() => void) | undefined;
  port = 0;
  private constructor(private readonly socket: Socket) {
    socket.on('message', (msg, rinfo) => {
      this.port = rinfo.port;
      this.queue.push(decodeTftp(msg));
      this.waiter?.();
    });
  }

  static async open(): Promise<RawClient> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return new RawClient(socket);
  }

  request(serverPort: number, file: string, options: Record<string, string> = {}): void {
    this.socket.send(encodeRequest('rrq', file, 'octet', options), serverPort, '127.0.0.1');
  }

  send(packet: Buffer): void {
    this.socket.send(packet, this.port, '127.0.0.1');
  }

  async next(): Promise<TftpPacket> {
    while (this.queue.length === 0) {
      await new Promise<void>((resolve, reject) => {
        const guard = setTimeout(() => reject(new Error('no packet from the server')), GUARD_MS);
        this.waiter = () => { clearTimeout(guard); this.waiter = undefined; resolve(); };
      });
    }
    return this.queue.shift()!;
  }

  async nextData(): Promise<Extract<TftpPacket, { op: 'data' }>> {
    const p = await this.next();
    assert.equal(p.op, 'data', JSON.stringify(p));
    return p as Extract<TftpPacket, { op: 'data' }>;
  }

  close(): void {
    this.socket.close();
  }
}

/** Lock-step fetch from the current packet on; `onBlock` may skip the ACK (return false). Returns the bytes and block numbers seen. */
async function fetchRest(client: RawClient, blksize: number, onBlock: (seen: number, block: number) => boolean = () => true): Promise<{ data: Buffer; blocks: number[] }> {
  const parts: Buffer[] = [];
  const blocks: number[] = [];
  for (let seen = 1; ; ) {
    const p = await client.nextData();
    blocks.push(p.block);
    if (p.block !== (seen & 0xffff)) continue; // a resent copy of the block already acknowledged
    if (!onBlock(seen, p.block)) continue;
    parts.push(p.data);
    client.send(encodeAck(p.block));
    if (p.data.length < blksize) return { data: Buffer.concat(parts), blocks };
    seen++;
  }
}

function assertSenderGone(end: Event): void {
  if (!NATIVE) return;
  assert.equal(typeof end.sender, 'number', JSON.stringify(end));
  assert.throws(() => process.kill(end.sender as number, 0), { code: 'ESRCH' });
}

test('the transfer runs where it should (native sender unless ARDESIA_TFTP_SENDER=off)', async () => {
  const { server, event } = await startServer();
  const client = await RawClient.open();
  client.request(server.port, 'exact.bin');
  await fetchRest(client, 512);
  assert.equal((await event('tftp-start')).via, NATIVE ? 'native' : 'main');
  assert.equal((await event('tftp-done')).ok, true);
  client.close();
  server.close();
});

test('a lost ACK: the block is resent and the file still arrives whole', async () => {
  const { server, event } = await startServer();
  const client = await RawClient.open();
  client.request(server.port, 'five.bin', { timeout: '1' });
  assert.equal((await client.next()).op, 'oack');
  client.send(encodeAck(0));
  let dropped = false;
  const got = await fetchRest(client, 512, (seen) => (seen === 3 && !dropped ? ((dropped = true), false) : true));
  assert.equal(sha(got.data), sha(files['five.bin']!));
  assert.ok(got.blocks.filter((b) => b === 3).length >= 2, `block 3 arrived again: ${got.blocks}`);
  const end = await event('tftp-done');
  assert.ok((end.resends as number) >= 1, JSON.stringify(end));
  client.close();
  server.close();
});

test('duplicate ACKs are not answered twice (Sorcerer\'s Apprentice)', async () => {
  const { server, event } = await startServer();
  const client = await RawClient.open();
  client.request(server.port, 'five.bin', { timeout: String(MAX_TIMEOUT_SECONDS) }); // no timer resend can blur the count
  assert.equal((await client.next()).op, 'oack');
  client.send(encodeAck(0));
  client.send(encodeAck(0));
  const got = await fetchRest(client, 512, (_seen, block) => { client.send(encodeAck(block)); return true; });
  assert.equal(sha(got.data), sha(files['five.bin']!));
  assert.deepEqual(got.blocks, Array.from({ length: 10 }, (_, i) => i + 1), 'every block exactly once');
  const end = await event('tftp-done');
  assert.equal(end.resends, 0);
  client.close();
  server.close();
});

test('block numbers wrap past 65535 (blksize 8, 600 KB: 75,001 blocks)', async () => {
  const { server, event } = await startServer();
  const client = await RawClient.open();
  client.request(server.port, 'wrap.bin', { blksize: '8', tsize: '0', timeout: String(MAX_TIMEOUT_SECONDS) }); // no resends: one entry per block
  const oack = await client.next();
  assert.deepEqual(oack, { op: 'oack', options: { blksize: '8', tsize: '600000', timeout: String(MAX_TIMEOUT_SECONDS) } });
  client.send(encodeAck(0));
  const got = await fetchRest(client, 8);
  assert.equal(sha(got.data), sha(files['wrap.bin']!));
  assert.equal(got.blocks[65535], 0, 'block 65536 goes out as 0');
  assert.equal(got.blocks.at(-1), 75001 & 0xffff);
  const end = await event('tftp-done');
  assert.equal(end.blocks, 75001);
  assert.equal(end.bytes, 600_000);
  client.close();
  server.close();
});

test('a file of an exact multiple of the block size ends with an empty block (no options: block 1 first)', async () => {
  const { server, event } = await startServer();
  const client = await RawClient.open();
  client.request(server.port, 'exact.bin');
  const got = await fetchRest(client, 512);
  assert.deepEqual(got.blocks, [1, 2, 3]);
  assert.equal(sha(got.data), sha(files['exact.bin']!));
  assert.equal((await event('tftp-done')).blocks, 3);
  client.close();
  server.close();
});

test('an ERROR from the client ends the transfer', async () => {
  const { server, event } = await startServer();
  const client = await RawClient.open();
  client.request(server.port, 'five.bin');
  await client.nextData();
  client.send(encodeError(TftpErrorCode.NOT_DEFINED, 'user abort'));
  const end = await event('tftp-failed');
  assert.equal(end.why, 'client error 0: user abort');
  assertSenderGone(end);
  client.close();
  server.close();
});

test('a foreign packet type during the transfer gets ERROR 4 and ends it', async () => {
  const { server, event } = await startServer();
  const client = await RawClient.open();
  client.request(server.port, 'five.bin');
  await client.nextData();
  client.send(encodeData(1, Buffer.from('not a read')));
  const reply = await client.next();
  assert.deepEqual(reply, { op: 'error', code: TftpErrorCode.ILLEGAL_OPERATION, message: 'only ACKs are expected during a read' });
  assert.equal((await event('tftp-failed')).why, 'only ACKs are expected during a read');
  client.close();
  server.close();
});

test('no ACK at all: the block is resent, then the transfer fails with the reason', async () => {
  const { server, event } = await startServer();
  const client = await RawClient.open();
  client.request(server.port, 'five.bin', { timeout: '1', blksize: '512' });
  const end = await event('tftp-failed');
  assert.equal(end.why, `no ACK for block 0 after ${MAX_RETRANSMITS} resends`, 'the OACK is the packet in flight');
  assert.equal(end.resends, MAX_RETRANSMITS);
  assert.equal((await client.next()).op, 'oack');
  assert.equal((await client.next()).op, 'oack');
  assertSenderGone(end);
  client.close();
  server.close();
});

test('closing the server mid-transfer sends the client an ERROR and ends the sender', async () => {
  const { server, event } = await startServer();
  const client = await RawClient.open();
  client.request(server.port, 'wrap.bin', { timeout: String(MAX_TIMEOUT_SECONDS) });
  assert.equal((await client.next()).op, 'oack');
  client.send(encodeAck(0));
  assert.equal((await client.nextData()).block, 1);
  server.close();
  assert.deepEqual(await client.next(), { op: 'error', code: TftpErrorCode.NOT_DEFINED, message: 'server shutting down' });
  const end = await event('tftp-failed');
  assert.equal(end.why, 'server shutting down');
  assertSenderGone(end);
  client.close();
});
