// Attacker: a page of another site open in the browser of a logged-in user (cross-site request forgery,
// cross-site WebSocket hijacking). Defences: every cookie-authenticated request that changes state and every
// WebSocket upgrade must come from the daemon's own origin; request bodies must be JSON (a cross-site form or a
// no-CORS fetch can only send form or text/plain bodies).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { TestDaemon } from '../helpers/daemon.js';
import { call, sessionCookieOf, type Target } from '../auth/http.js';

const EVIL = 'http://evil.example';
let daemon: TestDaemon;
let url: string;
let target: Target;
let token: string;
let cookie: string;

const usersNamed = async (name: string): Promise<number> =>
  ((await call({ socketPath: daemon.socket }, 'GET', '/v1/users', { token })).json as Array<{ name: string }>).filter((u) => u.name === name).length;

before(async () => {
  daemon = await TestDaemon.start({ extraArgs: ['--listen', '127.0.0.1:0'] });
  url = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(daemon.output)![1]!;
  target = { url };
  token = readFileSync(join(daemon.dataDir, 'root.token'), 'utf8').trim();
  assert.equal((await call({ socketPath: daemon.socket }, 'POST', '/v1/users', { token, body: { name: 'ada', password: 'correct horse battery 9', roles: ['admin'] } })).status, 201);
  const login = await call(target, 'POST', '/v1/auth/login', { body: { user: 'ada', password: 'correct horse battery 9' }, origin: url });
  assert.equal(login.status, 200);
  cookie = sessionCookieOf(login)!;
});
after(async () => {
  await daemon?.destroy();
});

test("another site's page cannot change state with the session cookie", async () => {
  const r = await call(target, 'POST', '/v1/users', { cookie, origin: EVIL, body: { name: 'mallory', password: 'mallory-pass-77', roles: ['admin'] } });
  assert.equal(r.status, 403);
  assert.equal(r.json.error.code, 'ORIGIN_REFUSED');
  assert.equal(await usersNamed('mallory'), 0, 'no user was made');
  for (const [method, path] of [['DELETE', '/v1/users/ada'], ['PATCH', '/v1/users/ada'], ['POST', '/v1/auth/logout']] as const) {
    const x = await call(target, method, path, { cookie, origin: EVIL, body: method === 'PATCH' ? { disabled: true } : undefined });
    assert.equal(x.status, 403, `${method} ${path}`);
  }
  assert.equal((await call(target, 'GET', '/v1/auth/me', { cookie })).status, 200, 'the session is intact');
});

test('with the cookie, a state change without any Origin is refused; the same origin passes', async () => {
  const none = await call(target, 'POST', '/v1/users', { cookie, origin: null, body: { name: 'mallory', password: 'mallory-pass-77' } });
  assert.equal(none.status, 403);
  assert.equal(await usersNamed('mallory'), 0);
  const same = await call(target, 'POST', '/v1/groups', { cookie, origin: url, body: { name: 'staff' } });
  assert.equal(same.status, 201, JSON.stringify(same.json));
});

test('a login form posted from another site is refused (login CSRF)', async () => {
  const r = await call(target, 'POST', '/v1/auth/login', { origin: EVIL, body: { user: 'ada', password: 'correct horse battery 9' } });
  assert.equal(r.status, 403);
  assert.equal(sessionCookieOf(r), undefined);
});

test('bodies must be JSON: text/plain and form bodies are refused before any handler', async () => {
  const json = JSON.stringify({ name: 'mallory', password: 'mallory-pass-77', roles: ['admin'] });
  for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
    const r = await call(target, 'POST', '/v1/users', { cookie, origin: url, body: json, contentType });
    assert.equal(r.status, 415, contentType);
    assert.equal(r.json.error.code, 'BODY_NOT_JSON');
    const t = await call({ socketPath: daemon.socket }, 'POST', '/v1/users', { token, body: json, contentType });
    assert.equal(t.status, 415, `${contentType} with a token`);
  }
  assert.equal(await usersNamed('mallory'), 0);
});

function upgrade(path: string, headers: Record<string, string>): Promise<{ opened: boolean; code?: number; reason?: string; status?: number }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${url.replace('http', 'ws')}${path}`, ['binary'], { headers });
    // A refused upgrade's request and socket are ours to end: left open, they keep the test process alive.
    ws.on('unexpected-response', (req, res) => {
      resolve({ opened: false, status: res.statusCode });
      res.resume();
      req.destroy();
    });
    ws.on('error', () => resolve({ opened: false }));
    ws.on('close', (code, reason) => resolve({ opened: true, code, reason: reason.toString() }));
  });
}

test("another site's page cannot open a WebSocket with the session cookie (console, display)", async () => {
  // The console of a VM that does not exist: a same-origin upgrade reaches the handler (an admin learns it is not running), a foreign one never does.
  const sameConsole = await upgrade('/v1/vms/nosuch/console', { cookie, origin: url });
  assert.match(String(sameConsole.reason), /VM_NOT_RUNNING|VM_NOT_FOUND/);
  const evilConsole = await upgrade('/v1/vms/nosuch/console', { cookie, origin: EVIL });
  assert.ok(evilConsole.status === 403 || /ORIGIN_REFUSED/.test(String(evilConsole.reason)), JSON.stringify(evilConsole));
  const noOrigin = await upgrade('/v1/vms/nosuch/console', { cookie });
  assert.ok(noOrigin.status === 403 || /ORIGIN_REFUSED/.test(String(noOrigin.reason)), JSON.stringify(noOrigin));

  const evilDisplay = await upgrade('/v1/display/socket?ticket=whatever', { cookie, origin: EVIL });
  assert.match(String(evilDisplay.reason), /ORIGIN_REFUSED/);
  const sameDisplay = await upgrade('/v1/display/socket?ticket=whatever', { cookie, origin: url });
  assert.doesNotMatch(String(sameDisplay.reason), /ORIGIN_REFUSED/, 'same origin gets as far as the ticket check');
});
