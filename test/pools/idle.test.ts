// The idle policy end to end with real QEMU guests and real RFB over the display gateway: a browser that is
// open but untouched (it only asks for screen updates, as noVNC does) is disconnected after
// idleDisconnectMinutes and its session logged off idleLogoffMinutes later, the desktop back to a clean
// spare; a client that moves the mouse keeps its session. Quarter-minute policies (the unit takes fractions) keep it short.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { WebSocket } from 'ws';
import { DISPLAY_CLOSE_CODE } from '../../src/contract/display.js';
import type { DesktopView, SessionInfo } from '../../src/contract/pools.js';
import type { ApiClient } from '../../src/cli/client.js';
import { type TestDaemon, until } from '../helpers/daemon.js';
import { poolTestbed, untilDesktops } from './support.js';

const FBUR_EVERY_MS = 200;
const POINTER_EVERY_MS = 1_500; // a tenth of the idle policy: an active client is never near it
const IDLE_MINUTES = 0.25;
const IDLE_DISCONNECT_BOUND_MS = 150_000; // a quarter minute of policy + the planner's tick, with room for a loaded machine
const IDLE_LOGOFF_BOUND_MS = 240_000;

let daemon: TestDaemon;
let alice: ApiClient;
let bob: ApiClient;

poolTestbed(['--boot-storm-limit', '2'], (bed) => ({ daemon, alice, bob } = bed));

/** A minimal RFB 3.8 client over the gateway's WebSocket: reads what it needs of the handshake, then ignores updates. */
class RfbTestClient {
  private buffered = Buffer.alloc(0);
  private wanted: { n: number; resolve: (b: Buffer) => void } | undefined;
  private timers: NodeJS.Timeout[] = [];
  readonly closed: Promise<number>;
  private readonly opened: Promise<void>;

  constructor(private readonly ws: WebSocket) {
    this.opened = new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.on('message', (data: Buffer) => {
      if (this.timers.length > 0) return; // past the handshake: framebuffer updates, not needed
      this.buffered = Buffer.concat([this.buffered, data]);
      this.deliver();
    });
    this.closed = new Promise((resolve) => ws.on('close', (code: number) => {
      this.stop();
      resolve(code);
    }));
  }

  private deliver(): void {
    if (!this.wanted || this.buffered.length < this.wanted.n) return;
    const out = this.buffered.subarray(0, this.wanted.n);
    this.buffered = this.buffered.subarray(this.wanted.n);
    const { resolve } = this.wanted;
    this.wanted = undefined;
    resolve(out);
  }

  private read(n: number): Promise<Buffer> {
    return new Promise((resolve) => {
      this.wanted = { n, resolve };
      this.deliver();
    });
  }

  /** ProtocolVersion, security None, ClientInit (shared), ServerInit. Returns the framebuffer size. */
  async handshake(): Promise<{ width: number; height: number }> {
    await this.opened;
    const version = (await this.read(12)).toString('latin1');
    assert.match(version, /^RFB 003\.008\n$/);
    this.ws.send(Buffer.from('RFB 003.008\n'));
    const count = (await this.read(1))[0]!;
    const types = [...(await this.read(count))];
    assert.ok(types.includes(1), `security None offered (got ${types.join(',')})`);
    this.ws.send(Buffer.from([1]));
    assert.equal((await this.read(4)).readUInt32BE(0), 0, 'security result OK');
    this.ws.send(Buffer.from([1]));
    const init = await this.read(24);
    await this.read(init.readUInt32BE(20)); // the desktop's name
    return { width: init.readUInt16BE(0), height: init.readUInt16BE(2) };
  }

  /** What noVNC does while nobody touches it: incremental FramebufferUpdateRequests, over and over. */
  requestUpdates(size: { width: number; height: number }): void {
    const fbur = Buffer.alloc(10);
    fbur.writeUInt8(3, 0);
    fbur.writeUInt8(1, 1);
    fbur.writeUInt16BE(size.width, 6);
    fbur.writeUInt16BE(size.height, 8);
    this.timers.push(setInterval(() => this.ws.send(fbur), FBUR_EVERY_MS));
  }

  /** A person nudging the mouse now and then. */
  movePointer(): void {
    let x = 10;
    this.timers.push(setInterval(() => {
      x = x === 10 ? 20 : 10;
      const pointer = Buffer.alloc(6);
      pointer.writeUInt8(5, 0);
      pointer.writeUInt16BE(x, 2);
      pointer.writeUInt16BE(10, 4);
      this.ws.send(pointer);
    }, POINTER_EVERY_MS));
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
  }

  close(): void {
    this.stop();
    this.ws.close();
  }
}

async function openDisplay(user: ApiClient, desktop: string): Promise<RfbTestClient> {
  const { path } = await user.request<{ path: string }>('POST', `/v1/desktops/${desktop}/display`, {});
  return new RfbTestClient(user.webSocket(path));
}

const sessionOf = async (user: ApiClient): Promise<SessionInfo | undefined> => (await user.request<SessionInfo[]>('GET', '/v1/sessions'))[0];

test('an untouched display is disconnected after a quarter minute and logged off a quarter minute later; one that moves the mouse stays', async () => {
  await daemon.api().request('POST', '/v1/pools', {
    name: 'idle', image: 'bb', warmSpares: 2, maxDesktops: 2, memoryMiB: 192, homeSizeBytes: 64 * 2 ** 20,
    idleDisconnectMinutes: IDLE_MINUTES, idleLogoffMinutes: IDLE_MINUTES, entitled: { users: ['alice', 'bob'] },
  });
  await untilDesktops(daemon, 'idle', 'two warm spares', (ds) => ds.filter((d) => d.state === 'ready').length === 2);
  const aliceDesktop = (await alice.request<{ desktop: DesktopView }>('POST', '/v1/pools/idle/connect', {})).desktop.name;
  const bobDesktop = (await bob.request<{ desktop: DesktopView }>('POST', '/v1/pools/idle/connect', {})).desktop.name;

  const untouched = await openDisplay(alice, aliceDesktop);
  const active = await openDisplay(bob, bobDesktop);
  untouched.requestUpdates(await untouched.handshake());
  const bobSize = await active.handshake();
  active.requestUpdates(bobSize);
  active.movePointer();
  let activeClosedWith: number | undefined;
  void active.closed.then((code) => (activeClosedWith = code));
  await until('both clients counted', async () => (await sessionOf(alice))?.clients === 1 && (await sessionOf(bob))?.clients === 1);

  try {
    const code = await Promise.race([
      untouched.closed,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the untouched display was not disconnected in time')), IDLE_DISCONNECT_BOUND_MS).unref()),
    ]);
    assert.equal(code, DISPLAY_CLOSE_CODE.idle, 'closed by the daemon as IDLE');
    // The state changes with the idle timeout; the client count when the closed pipe has wound down.
    await until('alice disconnected, with no client left', async () => {
      const s = await sessionOf(alice);
      return s?.state === 'disconnected' && s.clients === 0;
    }, 30_000, 500);
    assert.equal(activeClosedWith, undefined, "bob's display, moving the mouse, is still open");
    assert.equal((await sessionOf(bob))?.state, 'in-use');

    await untilDesktops(daemon, 'idle', "alice's desktop logged off and back as a clean spare", (ds) => {
      const d = ds.find((x) => x.name === aliceDesktop);
      return d !== undefined && d.user === null && d.state === 'ready';
    }, IDLE_LOGOFF_BOUND_MS);
    assert.equal(await sessionOf(alice), undefined, 'alice has no session any more');
    // Over twice the idle policy in, bob, who kept moving the mouse, was never disconnected.
    assert.equal(activeClosedWith, undefined, "bob's display is still open");
    const bobSession = await sessionOf(bob);
    assert.equal(bobSession?.state, 'in-use');
    assert.equal(bobSession?.clients, 1);
  } finally {
    untouched.close();
    active.close();
  }
});
