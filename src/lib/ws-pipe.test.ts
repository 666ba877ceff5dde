import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { socketPipe, WS_SEND_FRAME_MAX_BYTES, wsReadable, wsSendAll, wsSplice } from './ws-pipe.js';

/** A client and the server's end of the same WebSocket, on loopback. */
async function wsPair(server: WebSocketServer): Promise<{ client: WebSocket; serverSide: WebSocket }> {
  const { port } = server.address() as { port: number };
  const accepted = once(server, 'connection') as Promise<[WebSocket]>;
  const client = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
  await once(client, 'open');
  const [serverSide] = await accepted;
  return { client, serverSide };
}

function sha(chunks: Buffer[]): string {
  const h = createHash('sha256');
  for (const c of chunks) h.update(c);
  return h.digest('hex');
}

test("wsSplice: 24 MiB from one WebSocket reach the other in order, then its end closes the other gracefully, after the last byte", async () => {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await once(server, 'listening');
  try {
    const source = await wsPair(server);
    const dest = await wsPair(server);
    wsSplice(source.serverSide, dest.serverSide);
    const sent = Array.from({ length: 384 }, () => randomBytes(64 * 1024));
    const received: Buffer[] = [];
    dest.client.on('message', (data: Buffer) => received.push(data));
    const closed = once(dest.client, 'close') as Promise<[number, Buffer]>;
    for (const chunk of sent) source.client.send(chunk);
    source.client.close(1000, 'done');
    const [code] = await closed;
    assert.equal(Buffer.concat(received).length, 384 * 64 * 1024);
    assert.equal(sha(received), sha(sent), 'every byte, in order');
    // A close frame (1005: none given with it), not a dropped connection (1006).
    assert.equal(code, 1005, 'a graceful close, not a terminated one');
  } finally {
    server.close();
  }
});

test('wsSplice: bytes go both ways at once', async () => {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await once(server, 'listening');
  try {
    const a = await wsPair(server);
    const b = await wsPair(server);
    wsSplice(a.serverSide, b.serverSide);
    const atB = once(b.client, 'message') as Promise<[Buffer]>;
    const atA = once(a.client, 'message') as Promise<[Buffer]>;
    a.client.send(Buffer.from('to b'));
    b.client.send(Buffer.from('to a'));
    assert.equal((await atB)[0].toString(), 'to b');
    assert.equal((await atA)[0].toString(), 'to a');
    a.client.terminate();
    await once(b.client, 'close');
  } finally {
    server.close();
  }
});

test("socketPipe: a byte socket's stream reaches the WebSocket whole, and the socket's end closes it", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ard-wsp-'));
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await once(server, 'listening');
  const sent = Array.from({ length: 128 }, () => randomBytes(64 * 1024));
  const unix = createServer((s: Socket) => {
    for (const chunk of sent) s.write(chunk);
    s.end();
  });
  try {
    unix.listen(join(dir, 'vnc.sock'));
    await once(unix, 'listening');
    const pair = await wsPair(server);
    const socket = (await import('node:net')).connect(join(dir, 'vnc.sock'));
    await once(socket, 'connect');
    socketPipe(pair.serverSide, socket);
    const received: Buffer[] = [];
    pair.client.on('message', (data: Buffer) => received.push(data));
    await once(pair.client, 'close');
    assert.equal(sha(received), sha(sent));
  } finally {
    server.close();
    unix.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('wsSendAll → wsReadable: 16 MiB read slower than sent arrive whole and in order, the reader ends on the close 1000, and the sender resolves once that close was answered', async () => {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await once(server, 'listening');
  try {
    const pair = await wsPair(server);
    const sent = Array.from({ length: 256 }, () => randomBytes(64 * 1024));
    const reader = wsReadable(pair.client, 'the test stream');
    const sending = wsSendAll(pair.serverSide, (async function* () {
      yield* sent;
    })());
    const received: Buffer[] = [];
    for await (const chunk of reader) {
      received.push(chunk as Buffer);
      if (received.length % 32 === 0) await new Promise((r) => setTimeout(r, 5)); // a slow reader: the socket is paused meanwhile
    }
    await sending;
    assert.equal(sha(received), sha(sent));
  } finally {
    server.close();
  }
});

test('wsReadable fails (never ends short) when the sender goes without its close 1000; wsSendAll rejects when the reader goes', async () => {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await once(server, 'listening');
  try {
    const cut = await wsPair(server);
    const reader = wsReadable(cut.client, 'the test stream');
    cut.serverSide.send(randomBytes(1024));
    cut.serverSide.terminate();
    await assert.rejects(async () => {
      for await (const _ of reader) void _;
    }, /the test stream was cut off \(close 1006\)/);

    const gone = await wsPair(server);
    const endless = (async function* () {
      for (;;) yield randomBytes(64 * 1024);
    })();
    const sending = wsSendAll(gone.serverSide, endless);
    gone.client.terminate();
    await assert.rejects(sending, /the stream closed \(1006\)|EPIPE|ECONNRESET/, 'a send failed, or the close came first');
  } finally {
    server.close();
  }
});

test('wsSendAll splits a chunk larger than a frame may be (a stream that joined what it buffered) into frames a reader takes', async () => {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await once(server, 'listening');
  try {
    const { port } = server.address() as { port: number };
    const accepted = once(server, 'connection') as Promise<[WebSocket]>;
    // A reader that takes frames of 1 MiB at most, as an agent's dialled stream does.
    const client = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false, maxPayload: WS_SEND_FRAME_MAX_BYTES });
    await once(client, 'open');
    const [serverSide] = await accepted;
    const big = randomBytes(2 * WS_SEND_FRAME_MAX_BYTES + 4096);
    const sizes: number[] = [];
    const received: Buffer[] = [];
    const reader = wsReadable(client, 'the test stream');
    const sending = wsSendAll(serverSide, (async function* () {
      yield Buffer.from('header\n');
      yield big;
    })());
    client.on('message', (d: Buffer) => sizes.push(d.length));
    for await (const chunk of reader) received.push(chunk as Buffer);
    await sending;
    assert.equal(sha(received), sha([Buffer.from('header\n'), big]));
    assert.ok(Math.max(...sizes) <= WS_SEND_FRAME_MAX_BYTES, JSON.stringify(sizes));
  } finally {
    server.close();
  }
});
