// The display pipe through the real WebSocket route, against a unix socket the test controls:
// every byte delivered when the desktop closes at once, back-pressure both ways, early bytes kept,
// and hostile clients (garbage, half-close, abrupt drop) leave no socket, pipe or handler behind.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { DISPLAY_CLOSE_CODE } from '../../src/contract/display.js';
import { liveDisplayPipes, BROWSER_HIGH_WATER_BYTES } from '../../src/gateway/proxy.js';
import { displayRelayBinary } from '../../src/gateway/relay.js';
import { DisplayTickets, TICKET_TTL_MS } from '../../src/gateway/tickets.js';
import { until } from '../helpers/daemon.js';
import { type Harness, openDisplay, openFds, startHarness } from './harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
/** The native relay carries the pipes when it is built (ARDESIA_DISPLAY_RELAY=off tests the Node pipe). */
const expectedVia = displayRelayBinary().path ? 'relay' : 'node';

describe('every byte reaches the browser when the desktop closes at once', () => {
  for (const size of [0, 1, 12, 65_537, 5 * 1024 * 1024 + 123]) {
    it(`${size} bytes written, then the socket closed`, async () => {
      const payload = randomBytes(size);
      h = await startHarness((s) => s.end(payload));
      const c = openDisplay(h.url, h.ticket(), h.token);
      const end = await c.closed;
      assert.equal(end.bytes, size);
      assert.equal(sha(end.data), sha(payload));
      assert.equal(end.code, 1000, end.reason);
      assert.equal(c.ws.protocol, 'binary');
    });
  }
});

it('bytes the browser sends at once after the open reach the desktop', async () => {
  let got = Buffer.alloc(0);
  h = await startHarness((s) => s.on('data', (d: Buffer) => (got = Buffer.concat([got, d]))));
  const c = openDisplay(h.url, h.ticket(), h.token);
  await c.opened;
  c.ws.send(Buffer.from('RFB 003.008\n'));
  c.ws.send(Buffer.from([1]));
  await until('the desktop got both messages', () => got.length === 13, 10_000, 20);
  assert.equal(got.toString('latin1'), 'RFB 003.008\n\x01');
  c.ws.close();
});

it('a browser that stops reading pauses the desktop side; the queue stays bounded and nothing is lost', async () => {
  const size = 64 * 1024 * 1024;
  const payload = randomBytes(size);
  h = await startHarness((s) => s.end(payload));
  const c = openDisplay(h.url, h.ticket(), h.token);
  await c.opened;
  c.ws.pause();
  // Wait until the pipe stops moving while the browser reads nothing.
  let last = -1;
  await until('the pipe to stall', () => {
    const pipe = liveDisplayPipes()[0];
    if (!pipe) return false;
    const stalled = pipe.toBrowser === last;
    last = pipe.toBrowser;
    return stalled;
  }, 30_000, 300);
  const pipe = liveDisplayPipes()[0]!;
  assert.equal(pipe.via, expectedVia);
  assert.ok(pipe.toBrowser < size, `the gateway read ${pipe.toBrowser} of ${size} bytes for a browser that reads nothing`);
  assert.ok(pipe.peakBrowserQueue <= BROWSER_HIGH_WATER_BYTES + 256 * 1024, `queued ${pipe.peakBrowserQueue} bytes towards the browser`);
  c.ws.resume();
  const end = await c.closed;
  assert.equal(end.bytes, size);
  assert.equal(sha(end.data), sha(payload));
});

it('a desktop that stops reading pauses the browser side, and gets every byte once it reads again', async () => {
  const size = 32 * 1024 * 1024;
  const payload = randomBytes(size);
  const received: Buffer[] = [];
  let desktop: Socket | undefined;
  h = await startHarness((s) => {
    desktop = s;
    s.pause();
    s.on('data', (d: Buffer) => received.push(d));
  });
  const c = openDisplay(h.url, h.ticket(), h.token);
  await c.opened;
  for (let at = 0; at < size; at += 1024 * 1024) c.ws.send(payload.subarray(at, at + 1024 * 1024));
  let last = -1;
  await until('the browser side to stall', () => {
    const stalled = c.ws.bufferedAmount === last;
    last = c.ws.bufferedAmount;
    return stalled;
  }, 30_000, 300);
  assert.ok(c.ws.bufferedAmount > 0, 'the browser could push everything although the desktop reads nothing');
  assert.ok(liveDisplayPipes()[0]!.toDesktop < size);
  desktop!.resume();
  await until('the desktop got everything', () => received.reduce((n, b) => n + b.length, 0) >= size, 60_000, 50);
  assert.equal(sha(Buffer.concat(received)), sha(payload));
  c.ws.close();
});

it('an administrator’s disconnect closes the display with its own code (4901), and the pipe winds down with its totals', async () => {
  h = await startHarness((s) => {
    s.on('error', () => undefined);
    s.resume();
    s.write('RFB 003.008\n');
  });
  const c = openDisplay(h.url, h.ticket(), h.token);
  await c.opened;
  c.ws.send(Buffer.from('RFB 003.008\n'));
  await until('the pipe to carry the reply', () => liveDisplayPipes()[0]?.toDesktop === 12, 10_000, 20);
  assert.equal(liveDisplayPipes()[0]!.via, expectedVia);
  assert.equal(h.disconnect('desk'), 1);
  const end = await c.closed;
  assert.equal(end.code, DISPLAY_CLOSE_CODE['admin-disconnect']);
  assert.match(end.reason, /^DISCONNECTED /);
  assert.equal(end.data.toString(), 'RFB 003.008\n');
  await until('the pipe gone and the disconnect recorded', async () => liveDisplayPipes().length === 0 && h!.disconnected.length === 1 && (await h!.vncConnections()) === 0, 10_000, 20);
  assert.equal(h.disconnect('desk'), 0, 'the closer is unregistered when the pipe ends');
});

it('keystrokes through the pipe count as user activity (the idle policy’s input)', async () => {
  h = await startHarness((s) => s.resume());
  const c = openDisplay(h.url, h.ticket(), h.token);
  await c.opened;
  await until('activity reported', () => {
    c.ws.send(Buffer.from([4, 1, 0, 0, 0, 0, 0, 0x61])); // an RFB KeyEvent
    return h!.activity.length > 0;
  }, 10_000, 50);
  assert.equal(h.activity[0], 'desk');
  c.ws.close();
});

describe('tickets at the WebSocket', () => {
  it('an expired ticket is refused (injected clock)', async () => {
    let now = 1_000;
    h = await startHarness((s) => s.end('RFB 003.008\n'), { tickets: new DisplayTickets({ now: () => now }) });
    const ticket = h.ticket();
    now += TICKET_TTL_MS;
    const end = await openDisplay(h.url, ticket, h.token).closed;
    assert.equal(end.code, 4403);
    assert.match(end.reason, /^DISPLAY_TICKET_EXPIRED /);
    assert.equal(end.bytes, 0);
  });

  it('a second use is refused; a missing ticket is a bad request', async () => {
    h = await startHarness((s) => s.end('RFB 003.008\n'));
    const ticket = h.ticket();
    assert.equal((await openDisplay(h.url, ticket, h.token).closed).bytes, 12);
    const again = await openDisplay(h.url, ticket, h.token).closed;
    assert.equal(again.code, 4403);
    assert.match(again.reason, /^DISPLAY_TICKET_USED /);
    const none = await openDisplay(h.url, '', h.token).closed;
    assert.equal(none.code, 4400);
  });

  it('a ticket presented without credentials, or by a token holder other than its owner, is refused', async () => {
    h = await startHarness((s) => s.end('RFB 003.008\n'));
    const anonymous = await openDisplay(h.url, h.ticket(), undefined).closed;
    assert.match(anonymous.reason, /^DISPLAY_TICKET_NOT_YOURS /);
    const forOther = await openDisplay(h.url, h.ticket({ name: 'alice' }), h.token).closed;
    assert.match(forOther.reason, /^DISPLAY_TICKET_NOT_YOURS /);
    assert.equal(forOther.bytes, 0);
    assert.equal(await h.vncConnections(), 0, 'a refused ticket never reaches the desktop');
  });
});

/** Sends an HTTP upgrade by hand, so that the test can then misbehave at the byte level. */
async function rawUpgrade(url: string, ticket: string, token: string): Promise<Socket> {
  const { port } = new URL(url);
  const socket = connect(Number(port), '127.0.0.1');
  await new Promise<void>((ok) => socket.once('connect', ok));
  socket.write(
    `GET /v1/display/socket?ticket=${encodeURIComponent(ticket)} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: binary\r\nAuthorization: Bearer ${token}\r\n\r\n`,
  );
  let head = '';
  await new Promise<void>((ok) => {
    const onData = (d: Buffer) => {
      head += d.toString('latin1');
      if (head.includes('\r\n\r\n')) {
        socket.off('data', onData);
        ok();
      }
    };
    socket.on('data', onData);
  });
  assert.match(head, /^HTTP\/1\.1 101 /);
  socket.on('error', () => undefined);
  socket.resume();
  return socket;
}

describe('hostile clients leave nothing behind', () => {
  const misbehaviours: Array<{ what: string; act: (s: Socket) => void }> = [
    { what: 'garbage instead of frames', act: (s) => s.write(randomBytes(4096)) },
    { what: 'an unmasked frame', act: (s) => s.write(Buffer.from([0x82, 0x03, 1, 2, 3])) },
    { what: 'half a frame, then FIN', act: (s) => s.end(Buffer.concat([Buffer.from([0x82, 0xfe, 0x03, 0xe8]), randomBytes(4), randomBytes(10)])) },
    { what: 'a text frame of garbage, then FIN', act: (s) => s.end(Buffer.concat([Buffer.from([0x81, 0x84]), randomBytes(8)])) },
    { what: 'an abrupt drop', act: (s) => s.destroy() },
  ];
  for (const m of misbehaviours) {
    it(`${m.what}: no pipe, desktop connection, fd or disconnect record left`, async () => {
      const peers: Socket[] = [];
      h = await startHarness((s) => {
        peers.push(s);
        s.on('error', () => undefined);
        s.resume(); // reads as QEMU does (an unread socket never sees the gateway's FIN)
        s.write('RFB 003.008\n');
      });
      const fdsBefore = openFds();
      const clients: Socket[] = [];
      for (let i = 0; i < 5; i++) {
        const s = await rawUpgrade(h.url, h.ticket(), h.token);
        await until('the desktop side to be connected', () => peers.length === clients.length + 1, 10_000, 10);
        clients.push(s);
        m.act(s);
      }
      await until('every pipe closed', async () => liveDisplayPipes().length === 0 && (await h!.vncConnections()) === 0, 20_000, 50).catch(async (err: Error) => {
        throw new Error(`${err.message}: pipes ${JSON.stringify(liveDisplayPipes())}, desktop connections ${await h!.vncConnections()}`);
      });
      for (const s of clients) s.destroy();
      await until('every fd released', () => openFds() <= fdsBefore, 20_000, 50);
      assert.equal(h.connected.length, clients.length);
      assert.equal(h.disconnected.length, clients.length);
      assert.ok(peers.every((p) => p.destroyed || p.readableEnded), 'a desktop-side socket is still open');
    });
  }
});

describe('the handshake is the gateway’s own', () => {
  it('an upgrade that is no WebSocket handshake gets 400 with the registry body; a plain GET is a bad request', async () => {
    h = await startHarness((s) => s.end('RFB 003.008\n'));
    const { port } = new URL(h.url);
    const socket = connect(Number(port), '127.0.0.1');
    socket.write(`GET /v1/display/socket?ticket=${h.ticket()} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 8\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n\r\n`);
    const answer = await new Promise<string>((ok) => {
      let text = '';
      socket.on('data', (d: Buffer) => (text += d.toString()));
      socket.once('close', () => ok(text));
    });
    assert.match(answer, /^HTTP\/1\.1 400 /);
    const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { error: { code: string; message: string; hint: string } };
    assert.equal(body.error.code, 'BAD_REQUEST');
    assert.match(body.error.message, /version 13/);
    assert.ok(body.error.hint);
    assert.equal(await h.vncConnections(), 0);
    const plain = await fetch(`${h.url.replace('ws:', 'http:')}/v1/display/socket?ticket=x`);
    assert.equal(plain.status, 400);
    assert.match(await plain.text(), /connect with an Upgrade request/);
  });

  it('the 101 carries the RFC 6455 accept for the key, and the subprotocol "binary"', async () => {
    h = await startHarness((s) => s.end('RFB 003.008\n'));
    const c = openDisplay(h.url, h.ticket(), h.token);
    const upgrade = new Promise<Record<string, string | string[] | undefined>>((ok) => c.ws.once('upgrade', (res) => ok(res.headers)));
    await c.opened;
    const headers = await upgrade;
    assert.equal(headers['sec-websocket-protocol'], 'binary');
    assert.equal(headers['sec-websocket-extensions'], undefined, 'no extension is agreed (the relay speaks none)');
    assert.equal((await c.closed).bytes, 12);
  });
});
