// The display's native hop (native/display-hop.c) on its own, with real processes, TLS and sockets: the controller's end
// listening on loopback with a certificate of the daemon's own kind, the agent's end dialling it with a unix-socket
// "desktop". Bytes both ways, the end passed on, and the attacks the hop stops: a connection with the wrong secret or
// without TLS does not claim it (the right one still does), and the agent's end sends nothing to a server whose
// certificate is not the pinned one.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { connect as tlsConnect, createServer as tlsServer } from 'node:tls';
import { ArdesiaError } from '../../src/contract/errors.js';
import { displayHopBinary, hopDial, hopListen, hopStatusParse } from '../../src/gateway/display-hop.js';
import { serverCertificateEnsure } from '../../src/tls/certs.js';
import { until } from '../helpers/daemon.js';

const binary = displayHopBinary({}).path;
let dir: string;
let pem: Buffer;
let fingerprint: string;
let impostorPem: { cert: Buffer; key: Buffer };
let desktop: Server;
const desktops: Socket[] = [];
const GREETING = 'RFB 003.008\n';
/** The controller's end on loopback, for the agent's connections from 127.0.0.1. */
const LOOPBACK = { address: '127.0.0.1', peer: '127.0.0.1' };

before(async () => {
  assert.ok(binary, `the hop is built by setup: ${displayHopBinary({}).why}`);
  dir = mkdtempSync(join(tmpdir(), 'ard-hop-'));
  const cert = await serverCertificateEnsure(join(dir, 'controller'), '127.0.0.1');
  pem = Buffer.concat([readFileSync(cert.certPath), readFileSync(cert.keyPath)]);
  fingerprint = cert.fingerprint;
  const other = await serverCertificateEnsure(join(dir, 'impostor'), '127.0.0.1');
  impostorPem = { cert: readFileSync(other.certPath), key: readFileSync(other.keyPath) };
  // As QEMU's VNC server: the greeting at once, before the client says anything (the agent's Node may read it first).
  desktop = createServer((s) => {
    desktops.push(s);
    s.write(GREETING);
  });
  await new Promise<void>((ok) => desktop.listen(join(dir, 'vnc.sock'), ok));
});

after(() => {
  desktop?.close();
  rmSync(dir, { recursive: true, force: true });
});

function dialTcp(port: number, localAddress = '127.0.0.1'): Promise<Socket> {
  return new Promise((ok, fail) => {
    const s = connect({ host: '127.0.0.1', port, localAddress }, () => ok(s));
    s.once('error', fail);
  });
}

async function vncClient(): Promise<{ agentSide: Socket; desktopSide: () => Socket }> {
  const before = desktops.length;
  const agentSide = await new Promise<Socket>((ok, fail) => {
    const s = connect(join(dir, 'vnc.sock'), () => ok(s));
    s.once('error', fail);
  });
  await until('the desktop accepted', () => desktops.length > before || undefined, 5000, 10);
  return { agentSide, desktopSide: () => desktops[before]! };
}

function collect(socket: Socket): { bytes: () => Buffer; ended: Promise<void> } {
  const parts: Buffer[] = [];
  socket.on('data', (b: Buffer) => parts.push(b));
  return { bytes: () => Buffer.concat(parts), ended: new Promise((ok) => socket.once('close', () => ok())) };
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

test('status lines: what the hop says, and nothing else', () => {
  assert.deepEqual(hopStatusParse('L 40123'), { kind: 'listening', port: 40123 });
  assert.deepEqual(hopStatusParse('A'), { kind: 'claimed' });
  assert.deepEqual(hopStatusParse('R the stream secret is wrong'), { kind: 'refused', why: 'the stream secret is wrong' });
  assert.deepEqual(hopStatusParse('E 10 20 plain'), { kind: 'ended', toPlain: 10, toTls: 20, endedBy: 'plain' });
  for (const bad of ['L 0', 'L 70000', 'E 1 2 browser', 'A ', '', 'Z x']) assert.equal(hopStatusParse(bad), undefined, bad);
});

test('the desktop\'s bytes reach the controller\'s side and the browser\'s reach the desktop, whole; the desktop\'s end ends both processes', async () => {
  const secret = randomBytes(32).toString('base64url');
  const refused: string[] = [];
  const hop = await hopListen(binary!, LOOPBACK, pem, secret, (why) => refused.push(why));
  const { agentSide, desktopSide } = await vncClient();
  const agent = await hopDial(binary!, agentSide, await dialTcp(hop.port), fingerprint, secret);
  await hop.claimed;
  const atController = collect(hop.plain);
  const atDesktop = collect(desktopSide());
  const screen = randomBytes(8 * 2 ** 20);
  const input = randomBytes(2 ** 20 + 17);
  desktopSide().write(screen);
  hop.plain.write(input);
  await until('the screen across', () => atController.bytes().length >= GREETING.length + screen.length || undefined, 30_000, 20);
  await until('the input across', () => atDesktop.bytes().length >= input.length || undefined, 30_000, 20);
  assert.equal(sha(atController.bytes()), sha(Buffer.concat([Buffer.from(GREETING), screen])), 'the greeting first, then the screen');
  assert.equal(sha(atDesktop.bytes()), sha(input));
  desktopSide().end(); // QEMU closed its VNC connection
  await atController.ended;
  const [controllerEnd, agentEnd] = await Promise.all([hop.ended, agent.ended]);
  assert.deepEqual(agentEnd, { kind: 'ended', toPlain: input.length, toTls: GREETING.length + screen.length, endedBy: 'plain' });
  assert.deepEqual(controllerEnd, { kind: 'ended', toPlain: GREETING.length + screen.length, toTls: input.length, endedBy: 'tls' });
  assert.deepEqual(refused, []);
});

test('attack: a connection with a wrong secret, and one without TLS, do not claim the hop; the agent\'s still does', async () => {
  const secret = randomBytes(32).toString('base64url');
  const refused: string[] = [];
  const hop = await hopListen(binary!, LOOPBACK, pem, secret, (why) => refused.push(why));
  // A guesser on the network: TLS done (the certificate is no secret), the wrong secret.
  const guesser = tlsConnect({ host: '127.0.0.1', port: hop.port, rejectUnauthorized: false });
  const guessed = collect(guesser);
  guesser.on('error', () => undefined);
  guesser.once('secureConnect', () => guesser.write(`${randomBytes(32).toString('base64url')}\nRFB 003.008\n`));
  await guessed.ended;
  assert.equal(guessed.bytes().length, 0, 'nothing of the desktop reached the guesser');
  // Plain text at the TLS port.
  const plain = await dialTcp(hop.port);
  const plainSeen = collect(plain);
  plain.on('error', () => undefined);
  plain.write(`${secret}\n`);
  await plainSeen.ended;
  await until('both refused', () => refused.length >= 2 || undefined, 10_000, 20);
  assert.match(refused[0]!, /the stream secret is wrong/);
  assert.match(refused[1]!, /no TLS handshake/);
  // The agent, after both: the hop is still its.
  const { agentSide, desktopSide } = await vncClient();
  const agent = await hopDial(binary!, agentSide, await dialTcp(hop.port), fingerprint, secret);
  await hop.claimed;
  const atController = collect(hop.plain);
  await until('the desktop\'s greeting', () => atController.bytes().toString() === GREETING || undefined, 10_000, 20);
  // Single use: once claimed, nothing more is accepted on its port.
  await assert.rejects(dialTcp(hop.port), /ECONNREFUSED/);
  hop.terminate(); // the daemon's end (a display closed, a host declared out of reach)
  await Promise.all([hop.ended, agent.ended]);
  desktopSide().destroy();
});

test('attack: a connection from another address than the agent\'s is dropped before any TLS; the agent\'s still claims the hop', async () => {
  const secret = randomBytes(32).toString('base64url');
  const refused: string[] = [];
  // The agent's link comes from 127.0.0.2 here; a stranger on 127.0.0.1 who knows the secret (it cannot) gets nowhere.
  const hop = await hopListen(binary!, { address: '127.0.0.1', peer: '127.0.0.2' }, pem, secret, (why) => refused.push(why));
  const stranger = tlsConnect({ socket: await dialTcp(hop.port, '127.0.0.1'), rejectUnauthorized: false });
  const strangerSeen = collect(stranger);
  let handshake = false;
  stranger.on('error', () => undefined);
  stranger.once('secureConnect', () => {
    handshake = true;
    stranger.write(`${secret}\n`);
  });
  await strangerSeen.ended;
  assert.equal(handshake, false, 'no TLS handshake for a stranger');
  await until('the stranger refused', () => refused.length >= 1 || undefined, 10_000, 20);
  assert.match(refused[0]!, /a connection from 127\.0\.0\.1, not the agent's address 127\.0\.0\.2/);
  const { agentSide } = await vncClient();
  const agent = await hopDial(binary!, agentSide, await dialTcp(hop.port, '127.0.0.2'), fingerprint, secret);
  await hop.claimed;
  const atController = collect(hop.plain);
  await until('the desktop\'s greeting', () => atController.bytes().toString() === GREETING || undefined, 10_000, 20);
  hop.terminate();
  await Promise.all([hop.ended, agent.ended]);
});

test('attack: the agent\'s end sends nothing to a server whose certificate is not the pinned controller\'s', async () => {
  const received: Buffer[] = [];
  const impostor = tlsServer({ cert: impostorPem.cert, key: impostorPem.key }, (s) => {
    s.on('data', (b: Buffer) => received.push(b));
    s.on('error', () => undefined);
  });
  await new Promise<void>((ok) => impostor.listen(0, '127.0.0.1', ok));
  try {
    const port = (impostor.address() as { port: number }).port;
    const { agentSide, desktopSide } = await vncClient();
    const seenByDesktop = collect(desktopSide());
    const secret = randomBytes(32).toString('base64url');
    await assert.rejects(hopDial(binary!, agentSide, await dialTcp(port), fingerprint, secret), (err: unknown) => err instanceof ArdesiaError && err.code === 'AGENT_CONTROLLER_MISMATCH' && /not the controller's pinned one/.test(err.message));
    await seenByDesktop.ended; // the VNC connection is dropped with the hop
    assert.equal(Buffer.concat(received).length, 0, 'not a byte (the secret above all) went to the impostor');
  } finally {
    impostor.close();
  }
});

test('bad input: an address that is not an IP literal is refused, with what it got', async () => {
  await assert.rejects(hopListen(binary!, { address: '127.0.0.1', peer: 'agent.example' }, pem, 'x'.repeat(43), () => undefined), /agent\.example is not an IP address/);
  await assert.rejects(hopListen(binary!, { address: 'controller.example', peer: '127.0.0.1' }, pem, 'x'.repeat(43), () => undefined), /controller\.example is not an IP address/);
  await assert.rejects(hopListen(binary!, LOOPBACK, Buffer.from('not a pem'), 'x'.repeat(43), () => undefined), /certificate and key could not be loaded/);
});
