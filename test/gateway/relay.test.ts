// The native display relay on its own, with real processes and sockets: a raw TCP "browser" that
// writes hand-made (masked) frames, often one byte at a time, and a unix-socket "desktop". Covers
// fragmented messages with a ping between fragments, the close handshake both ways, the daemon's
// close command, the tail of a desktop that closes, protocol errors, and the daemon going away.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, before, describe, it } from 'node:test';
import { displayRelayBinary, RelayOutputReader } from '../../src/gateway/relay.js';
import { until } from '../helpers/daemon.js';

const binary = displayRelayBinary({}).path;

interface Rig {
  relay: ChildProcess;
  browser: Socket;
  desktop: Socket;
  /** Bytes the browser received, and the desktop received. */
  toBrowser: () => Buffer;
  toDesktop: () => Buffer;
  /** The relay's status lines, one per line. */
  status: () => string;
  /** The copy of the browser's bytes the relay hands the daemon. */
  copied: () => Buffer;
  exited: Promise<number | null>;
  browserEnded: Promise<void>;
}

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

async function accept(server: Server, dial: () => Socket): Promise<[Socket, Socket]> {
  const accepted = new Promise<Socket>((ok) => server.once('connection', ok));
  const dialed = dial();
  await new Promise<void>((ok) => dialed.once('connect', ok));
  return [dialed, await accepted];
}

/** A relay between a fresh TCP pair and a fresh unix pair; `desktopPrefix` plays bytes the daemon had read. */
async function startRelay(desktopPrefix = Buffer.alloc(0)): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'rl-'));
  const tcp = createServer().listen(0, '127.0.0.1');
  const unix = createServer().listen(join(dir, 'd.sock'));
  await Promise.all([new Promise((ok) => tcp.once('listening', ok)), new Promise((ok) => unix.once('listening', ok))]);
  const [browser, wire] = await accept(tcp, () => connect((tcp.address() as { port: number }).port, '127.0.0.1'));
  const [vnc, desktop] = await accept(unix, () => connect(join(dir, 'd.sock')));
  const relay = spawn(binary!, [], { stdio: ['pipe', 'pipe', 'inherit', vnc, wire] });
  vnc.destroy();
  wire.destroy();
  const head = desktopPrefix.length ? [Buffer.from(`D ${desktopPrefix.length}\n`), desktopPrefix] : [];
  relay.stdin!.write(Buffer.concat([...head, Buffer.from('S\n')]));
  relay.stdin!.on('error', () => undefined);
  const fromRelay: Buffer[] = [];
  const atDesktop: Buffer[] = [];
  let status = '';
  const copies: Buffer[] = [];
  const reader = new RelayOutputReader((line) => (status += `${line}\n`), (b) => copies.push(Buffer.from(b)));
  browser.on('data', (d: Buffer) => fromRelay.push(d));
  desktop.on('data', (d: Buffer) => atDesktop.push(d));
  for (const s of [browser, desktop]) s.on('error', () => undefined);
  relay.stdout!.on('data', (d: Buffer) => reader.feed(d));
  const exited = new Promise<number | null>((ok) => relay.once('exit', ok));
  const browserEnded = new Promise<void>((ok) => browser.once('end', ok));
  cleanups.push(() => {
    relay.kill('SIGKILL');
    for (const s of [browser, desktop]) s.destroy();
    tcp.close();
    unix.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { relay, browser, desktop, toBrowser: () => Buffer.concat(fromRelay), toDesktop: () => Buffer.concat(atDesktop), status: () => status, copied: () => Buffer.concat(copies), exited, browserEnded };
}

/** A client frame as a browser sends it: masked, with any opcode and FIN. */
function clientFrame(opcode: number, payload: Buffer, fin = true): Buffer {
  const mask = randomBytes(4);
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0, len]) : len < 65536 ? Buffer.from([0, 126, len >> 8, len & 255]) : Buffer.concat([Buffer.from([0, 127]), Buffer.alloc(8)]);
  if (len >= 65536) head.writeBigUInt64BE(BigInt(len), 2);
  head[0] = (fin ? 0x80 : 0) | opcode;
  head[1]! |= 0x80;
  const body = Buffer.from(payload.map((b, i) => b ^ mask[i & 3]!));
  return Buffer.concat([head, mask, body]);
}

const closePayload = (code: number, reason = '') => Buffer.concat([Buffer.from([code >> 8, code & 255]), Buffer.from(reason)]);

/** Splits the relay's output into frames; they must be unmasked and complete. */
function serverFrames(bytes: Buffer): Array<{ opcode: number; fin: boolean; payload: Buffer }> {
  const frames = [];
  let at = 0;
  while (at < bytes.length) {
    assert.ok(bytes.length - at >= 2, 'a truncated frame header');
    assert.equal(bytes[at + 1]! & 0x80, 0, 'server frames are never masked');
    let len = bytes[at + 1]! & 0x7f;
    let off = at + 2;
    if (len === 126) (len = bytes.readUInt16BE(off)), (off += 2);
    else if (len === 127) (len = Number(bytes.readBigUInt64BE(off))), (off += 8);
    assert.ok(off + len <= bytes.length, 'a truncated frame payload');
    frames.push({ opcode: bytes[at]! & 0x0f, fin: (bytes[at]! & 0x80) !== 0, payload: bytes.subarray(off, off + len) });
    at = off + len;
  }
  return frames;
}

/** Writes one byte per event-loop turn (the peer's reads see every split). */
async function dribble(socket: Socket, bytes: Buffer): Promise<void> {
  for (const b of bytes) {
    socket.write(Buffer.from([b]));
    await new Promise((ok) => setTimeout(ok, 1));
  }
}

const binaryPayload = (frames: ReturnType<typeof serverFrames>) => Buffer.concat(frames.filter((f) => f.opcode === 2).map((f) => f.payload));

describe('the native display relay', () => {
  before(() => assert.ok(binary, 'the relay is not built: run node scripts/setup.mjs'));

  it('a fragmented message with a ping between its fragments, one byte at a time: the desktop gets it whole, the ping its pong', async () => {
    const r = await startRelay();
    const stream = Buffer.concat([
      clientFrame(2, Buffer.from('RFB '), false),
      clientFrame(9, Buffer.from('are you there?')),
      clientFrame(0, Buffer.from('003.'), false),
      clientFrame(0, Buffer.from('008\n'), true),
      clientFrame(2, Buffer.alloc(0)),
      clientFrame(2, Buffer.from([1])),
    ]);
    await dribble(r.browser, stream);
    await until('the desktop got the message', () => r.toDesktop().length >= 13, 10_000, 10);
    assert.equal(r.toDesktop().toString('latin1'), 'RFB 003.008\n\x01');
    await until('the pong', () => r.toBrowser().length > 0, 10_000, 10);
    assert.deepEqual(serverFrames(r.toBrowser()), [{ opcode: 10, fin: true, payload: Buffer.from('are you there?') }]);
    await until('the totals', () => /^T \d+ 13 /m.test(r.status()), 10_000, 20);
    assert.equal(r.copied().toString('latin1'), 'RFB 003.008\n\x01', 'the daemon gets a copy of the input');
  });

  it('a desktop writing one byte at a time and closing: every byte in order, then close 1000, the handshake, and the end', async () => {
    const payload = randomBytes(300);
    const r = await startRelay(Buffer.from('RFB 003.008\n'));
    await dribble(r.desktop, payload);
    r.desktop.end();
    await until('the close frame', () => serverFrames(r.toBrowser()).some((f) => f.opcode === 8), 10_000, 10);
    const frames = serverFrames(r.toBrowser());
    assert.equal(binaryPayload(frames).toString('latin1'), 'RFB 003.008\n' + payload.toString('latin1'));
    const close = frames.at(-1)!;
    assert.equal(close.opcode, 8);
    assert.equal(close.payload.readUInt16BE(0), 1000);
    assert.equal(close.payload.subarray(2).toString(), 'the desktop closed its display');
    r.browser.write(clientFrame(8, close.payload.subarray(0, 2)));
    await r.browserEnded;
    assert.equal(await r.exited, 0);
    assert.match(r.status(), /^E 312 0 \d+ desktop$/m);
  });

  it('a large stream: frames of up to the pipe size, all bytes, back-pressure while the browser does not read', async () => {
    const payload = randomBytes(8 * 1024 * 1024 + 7);
    const r = await startRelay();
    r.browser.pause();
    r.desktop.end(payload);
    await new Promise((ok) => setTimeout(ok, 300));
    const moved = Number(/T (\d+) /.exec(r.status().trim().split('\n').at(-1) ?? '')?.[1] ?? 0);
    assert.ok(moved < payload.length, 'the relay pushed everything to a browser that reads nothing');
    r.browser.resume();
    await until('the close frame', () => r.toBrowser().length > payload.length && serverFrames(r.toBrowser()).at(-1)?.opcode === 8, 30_000, 20);
    const frames = serverFrames(r.toBrowser());
    assert.ok(binaryPayload(frames).equals(payload));
    assert.ok(frames.every((f) => f.payload.length <= 256 * 1024));
  });

  it('the browser closes: its code is echoed, the desktop connection ends, the relay exits', async () => {
    const r = await startRelay();
    const desktopEnded = new Promise((ok) => r.desktop.once('end', ok));
    await dribble(r.browser, clientFrame(8, closePayload(1001, 'going away')));
    await r.browserEnded;
    await desktopEnded;
    const frames = serverFrames(r.toBrowser());
    assert.deepEqual(frames.map((f) => [f.opcode, f.payload.readUInt16BE(0), f.payload.length]), [[8, 1001, 2]]);
    assert.equal(await r.exited, 0);
    assert.match(r.status(), /^E 0 0 0 browser$/m);
  });

  it('the daemon asks to close (an administrator disconnects): close 4409 with the reason, then the end after the reply', async () => {
    const r = await startRelay();
    r.relay.stdin!.write('C 4409 DISCONNECTED the session was disconnected\n');
    await until('the close frame', () => r.toBrowser().length > 0, 10_000, 10);
    const [close] = serverFrames(r.toBrowser());
    assert.equal(close!.opcode, 8);
    assert.equal(close!.payload.readUInt16BE(0), 4409);
    assert.equal(close!.payload.subarray(2).toString(), 'DISCONNECTED the session was disconnected');
    r.browser.write(clientFrame(8, closePayload(4409)));
    await r.browserEnded;
    assert.equal(await r.exited, 0);
  });

  it('a text frame is refused with close 1003 (the subprotocol is "binary")', async () => {
    const r = await startRelay();
    r.browser.write(clientFrame(1, Buffer.from('hello')));
    await until('the close frame', () => r.toBrowser().length > 0, 10_000, 10);
    assert.equal(serverFrames(r.toBrowser())[0]!.payload.readUInt16BE(0), 1003);
    assert.equal(r.toDesktop().length, 0);
  });

  const violations: Array<{ what: string; bytes: () => Buffer }> = [
    { what: 'an unmasked frame', bytes: () => Buffer.from([0x82, 0x03, 1, 2, 3]) },
    { what: 'reserved bits set', bytes: () => Buffer.from([0xc2, 0x80, 0, 0, 0, 0]) },
    { what: 'a continuation without a start', bytes: () => clientFrame(0, Buffer.from('x')) },
    { what: 'a new message inside a fragmented one', bytes: () => Buffer.concat([clientFrame(2, Buffer.from('a'), false), clientFrame(2, Buffer.from('b'))]) },
    { what: 'a fragmented ping', bytes: () => clientFrame(9, Buffer.from('p'), false) },
    { what: 'a ping longer than 125 bytes', bytes: () => clientFrame(9, Buffer.alloc(126)) },
    { what: 'a close with a one-byte body', bytes: () => clientFrame(8, Buffer.from([3])) },
    { what: 'an unknown opcode', bytes: () => clientFrame(3, Buffer.from('x')) },
  ];
  for (const v of violations) {
    it(`${v.what}: both sides dropped at once, no close handshake`, async () => {
      const r = await startRelay();
      const desktopEnded = new Promise((ok) => r.desktop.once('end', ok));
      await dribble(r.browser, v.bytes());
      await r.browserEnded;
      await desktopEnded;
      assert.equal(await r.exited, 0);
      assert.match(r.status(), /^E \d+ \d+ \d+ error$/m);
      assert.equal(serverFrames(r.toBrowser()).filter((f) => f.opcode === 8).length, 0);
    });
  }

  it('the daemon goes away (its end of the command pipe closes): the relay drops both sides and exits', async () => {
    const r = await startRelay();
    r.relay.stdin!.end();
    await r.browserEnded;
    assert.equal(await r.exited, 0);
  });
});
