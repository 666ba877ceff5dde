// The display gateway in a real daemon with a real QEMU guest: who may get a ticket or a .vv, RFB
// through the WebSocket, ticket replay / another user / another browser session refused, hostile
// clients leaving no fd in the daemon, and the SPICE one-time password set, refused when wrong and
// expired after use (checked with a SPICE link handshake).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { VmStatus } from '../../src/contract/vm.js';
import { TestDaemon, until } from '../helpers/daemon.js';
import { guestArtifacts } from '../helpers/guests.js';
import { openDisplay, openFds } from './harness.js';
import { rfbStart, SPICE_LINK_ERR_OK, SPICE_LINK_ERR_PERMISSION_DENIED, spiceLink } from './protocols.js';

const g = guestArtifacts();
let daemon: TestDaemon;
let url: string;
const tokens: Record<'root' | 'owner' | 'other', string> = { root: '', owner: '', other: '' };
const cookies: string[] = [];

async function call(method: string, path: string, auth: { token?: string; cookie?: string }, body?: unknown): Promise<{ status: number; text: string; type: string | null }> {
  const headers: Record<string, string> = {};
  if (auth.token) headers.authorization = `Bearer ${auth.token}`;
  if (auth.cookie) headers.cookie = auth.cookie;
  if (auth.cookie) headers.origin = url; // a browser sends its page's origin with the cookie
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, text: await res.text(), type: res.headers.get('content-type') };
}

async function ticketFor(auth: { token?: string; cookie?: string }, desktop = 'mine'): Promise<string> {
  const r = await call('POST', `/v1/desktops/${desktop}/display`, auth);
  assert.equal(r.status, 200, r.text);
  const body = JSON.parse(r.text) as { ticket: string; path: string; expiresAt: string };
  assert.equal(body.path, `/v1/display/socket?ticket=${encodeURIComponent(body.ticket)}`);
  assert.ok(Date.parse(body.expiresAt) - Date.now() <= 30_000);
  return body.ticket;
}

/** The daemon's display-relay child processes (from /proc: name and parent pid). */
function relayChildren(daemonPid: number): number {
  return readdirSync('/proc').filter((p) => {
    if (!/^\d+$/.test(p)) return false;
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      return stat.includes(' (display-relay) ') && stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1] === String(daemonPid);
    } catch {
      return false; // gone meanwhile
    }
  }).length;
}

before(async () => {
  daemon = await TestDaemon.start({ extraArgs: ['--listen', '127.0.0.1:0'] });
  url = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(daemon.output)![1]!;
  const conf = join(daemon.dataDir, 'gw.conf');
  const vm = (name: string, owner: string) =>
    `vm "${name}" {\n memory 96M\n boot "${g.amd64.kernel}"\n initrd "${g.amd64.initrd}"\n cmdline "console=ttyS0 quiet"\n owner ${owner}\n disable\n}\n`;
  writeFileSync(conf, vm('mine', 'nobody') + vm('alien', 'daemon'));
  const load = await daemon.cli(['vm', 'load', conf]);
  assert.equal(load.code, 0, load.stderr);
  tokens.root = readFileSync(join(daemon.dataDir, 'root.token'), 'utf8').trim();
  tokens.owner = readFileSync(join(daemon.dataDir, 'tokens', 'nobody.token'), 'utf8').trim();
  tokens.other = readFileSync(join(daemon.dataDir, 'tokens', 'daemon.token'), 'utf8').trim();
  // The same VM, now with a SPICE display (vm.conf has no syntax for it; the API takes a spec).
  const current = JSON.parse((await call('GET', '/v1/vms/mine', { token: tokens.root })).text) as VmStatus;
  const define = await call('POST', '/v1/vms', { token: tokens.root }, { spec: { ...current.spec, display: { spice: {} } } });
  assert.equal(define.status, 201, define.text);
  const start = await call('POST', '/v1/vms/mine/start', { token: tokens.root }, {});
  assert.equal(start.status, 200, start.text);
  // An administrator logged in twice from browsers: two sessions of one user.
  const created = await call('POST', '/v1/users', { token: tokens.root }, { name: 'ada', password: 'correct horse battery', roles: ['admin'] });
  assert.equal(created.status, 201, created.text);
  for (let i = 0; i < 2; i++) {
    const res = await fetch(`${url}/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'ada', password: 'correct horse battery' }) });
    assert.equal(res.status, 200, await res.text());
    cookies.push(res.headers.getSetCookie()[0]!.split(';')[0]!);
  }
});
after(async () => {
  await daemon?.destroy();
});

describe('who may ask for a ticket or a .vv', () => {
  const roles: Array<{ role: string; auth: () => { token?: string; cookie?: string }; status: number }> = [
    { role: 'anonymous', auth: () => ({}), status: 401 },
    { role: 'the VM owner', auth: () => ({ token: tokens.owner }), status: 200 },
    { role: 'another user', auth: () => ({ token: tokens.other }), status: 403 },
    { role: 'admin (root token)', auth: () => ({ token: tokens.root }), status: 200 },
    { role: 'admin (browser session)', auth: () => ({ cookie: cookies[0] }), status: 200 },
  ];
  for (const r of roles) {
    test(`${r.role}: ticket ${r.status}, .vv ${r.status}`, async () => {
      assert.equal((await call('POST', '/v1/desktops/mine/display', r.auth())).status, r.status);
      const vv = await call('GET', '/v1/desktops/mine/spice.vv', r.auth());
      assert.equal(vv.status, r.status, vv.text);
      if (r.status === 200) assert.equal(vv.type, 'application/x-virt-viewer');
    });
  }
  test('a desktop that does not exist, and a VM that is not running', async () => {
    const missing = await call('POST', '/v1/desktops/nope/display', { token: tokens.root });
    assert.equal(missing.status, 404);
    assert.match(missing.text, /DESKTOP_NOT_FOUND/);
    const stopped = await call('POST', '/v1/desktops/alien/display', { token: tokens.root });
    assert.equal(stopped.status, 409);
    assert.match(stopped.text, /VM_NOT_RUNNING/);
  });
});

describe('the guest’s VNC through the gateway', () => {
  test('RFB 003.008, then a FramebufferUpdate after a minimal client init', async () => {
    const c = openDisplay(url, await ticketFor({ token: tokens.owner }), tokens.owner);
    await c.opened;
    assert.equal(c.ws.protocol, 'binary');
    const rfb = await rfbStart(c);
    assert.equal(rfb.version, 'RFB 003.008\n');
    assert.ok(rfb.securityTypes.includes(1), `security types ${rfb.securityTypes}`);
    assert.ok(rfb.width > 0 && rfb.height > 0);
    assert.equal(rfb.firstMessageType, 0, 'FramebufferUpdate');
    assert.ok(rfb.rectangles >= 1);
    // The bytes move where they should: in a display-relay child of the daemon, none under ARDESIA_DISPLAY_RELAY=off.
    assert.equal(relayChildren(daemon.proc!.pid!), process.env.ARDESIA_DISPLAY_RELAY === 'off' ? 0 : 1);
    c.ws.close();
    await c.closed;
  });

  test('a ticket is single use; another user’s and another session’s tickets are refused', async () => {
    const ticket = await ticketFor({ token: tokens.owner });
    const first = openDisplay(url, ticket, tokens.owner);
    await first.opened;
    const replay = await openDisplay(url, ticket, tokens.owner).closed;
    assert.equal(replay.code, 4403);
    assert.match(replay.reason, /^DISPLAY_TICKET_USED /);
    first.ws.close();

    const stolen = await openDisplay(url, await ticketFor({ token: tokens.owner }), tokens.other).closed;
    assert.match(stolen.reason, /^DISPLAY_TICKET_NOT_YOURS /);
    const anonymous = await openDisplay(url, await ticketFor({ token: tokens.owner }), undefined).closed;
    assert.match(anonymous.reason, /^DISPLAY_TICKET_NOT_YOURS /);

    const otherSession = await openDisplay(url, await ticketFor({ cookie: cookies[0] }), undefined, { cookie: cookies[1]!, origin: url }).closed;
    assert.match(otherSession.reason, /^DISPLAY_TICKET_NOT_YOURS /);
    const sameSession = openDisplay(url, await ticketFor({ cookie: cookies[0] }), undefined, { cookie: cookies[0]!, origin: url });
    assert.equal((await rfbStart(sameSession)).version, 'RFB 003.008\n');
    sameSession.ws.close();
    await sameSession.closed;
  });
});

async function rawUpgrade(ticket: string, token: string): Promise<Socket> {
  const { port } = new URL(url);
  const socket = connect(Number(port), '127.0.0.1');
  await new Promise<void>((ok) => socket.once('connect', ok));
  socket.on('error', () => undefined);
  socket.write(
    `GET /v1/display/socket?ticket=${encodeURIComponent(ticket)} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer ${token}\r\n\r\n`,
  );
  let got = '';
  await new Promise<void>((ok) => {
    const onData = (d: Buffer) => {
      got += d.toString('latin1');
      if (got.includes('RFB 003.008')) {
        socket.off('data', onData);
        ok();
      }
    };
    socket.on('data', onData);
  });
  socket.resume();
  return socket;
}

test('garbage, half-closed frames and drops leave no fd in the daemon, and the display still works', async () => {
  const pid = daemon.proc!.pid!;
  const before = openFds(pid);
  const acts: Array<(s: Socket) => void> = [
    (s) => s.write(randomBytes(4096)),
    (s) => s.end(Buffer.concat([Buffer.from([0x82, 0xfe, 0x03, 0xe8]), randomBytes(4), randomBytes(10)])),
    (s) => s.destroy(),
  ];
  for (let round = 0; round < 3; round++) {
    for (const act of acts) act(await rawUpgrade(await ticketFor({ token: tokens.owner }), tokens.owner));
  }
  await until('the daemon to release every fd', () => openFds(pid) <= before, 30_000, 100);
  const c = openDisplay(url, await ticketFor({ token: tokens.owner }), tokens.owner);
  assert.equal((await rfbStart(c)).firstMessageType, 0);
  c.ws.close();
  await c.closed;
});

describe('SPICE .vv with a one-time password', () => {
  function parseVv(text: string): Record<string, string> {
    assert.match(text, /^\[virt-viewer\]\n/);
    return Object.fromEntries(text.trim().split('\n').slice(1).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  }
  const getVv = async () => {
    const r = await call('GET', '/v1/desktops/mine/spice.vv', { token: tokens.owner });
    assert.equal(r.status, 200, r.text);
    return parseVv(r.text);
  };

  test('the file says where and how; a wrong password is refused, the right one accepted once, then expired', async () => {
    const vv = await getVv();
    assert.equal(vv.type, 'spice');
    assert.equal(vv.host, '127.0.0.1');
    assert.equal(vv['delete-this-file'], '1');
    assert.match(vv.title!, /mine/);
    const port = Number(vv.port);
    assert.equal(await spiceLink(vv.host!, port, 'not-the-password'), SPICE_LINK_ERR_PERMISSION_DENIED);
    assert.equal(await spiceLink(vv.host!, port, vv.password!), SPICE_LINK_ERR_OK);
    await until('the used password to expire', async () => (await spiceLink(vv.host!, port, vv.password!)) === SPICE_LINK_ERR_PERMISSION_DENIED, 30_000, 500);
  });

  test('a new .vv replaces the previous password', async () => {
    const older = await getVv();
    const newer = await getVv();
    assert.notEqual(older.password, newer.password);
    assert.equal(await spiceLink(older.host!, Number(older.port), older.password!), SPICE_LINK_ERR_PERMISSION_DENIED);
    assert.equal(await spiceLink(newer.host!, Number(newer.port), newer.password!), SPICE_LINK_ERR_OK);
  });

  test('a VM without a SPICE display says so', async () => {
    const r = await call('GET', '/v1/desktops/alien/spice.vv', { token: tokens.root });
    assert.equal(r.status, 409); // not running comes first; the code names it
    assert.match(r.text, /VM_NOT_RUNNING|SPICE_NOT_ENABLED/);
  });
});
