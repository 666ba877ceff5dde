// Attacker: anyone on the network who claims a kiosk thin client's MAC (any PC can) and gets its kiosk session.
// Defence: that session may only open the thin client's pool desktop. Every other route of the API is refused
// (KIOSK_SESSION_LIMITED), other pools are neither listed nor opened, the account never logs in by password nor
// becomes an administrator, and an administrator's change (client unassigned, disabled, account made ordinary)
// ends the session at once. Against the real daemon; the test fails if any of these attacks works.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ALL_ROUTES } from '../../src/api/server.js';
import { call, type Reply, sessionCookieOf, type Target } from '../auth/http.js';
import { TestDaemon } from '../helpers/daemon.js';

let daemon: TestDaemon;
let socket: Target;
let web: Target;
let rootToken: string;
const KIOSK_MAC = '52:54:00:c1:05:01';
const OTHER_MAC = '52:54:00:c1:05:02';

const asRoot = (method: string, path: string, body?: unknown) => call(socket, method, path, { token: rootToken, body });
const codeOf = (r: Reply): string | undefined => r.json?.error?.code;
const kioskLogin = (mac: string, from: Target = web) => call(from, 'POST', '/v1/auth/kiosk', { body: { thinClient: mac } });

/** Imports a blank 64 MiB qcow2 as image `name` (version 1): clones fine, boots nothing. */
async function blankImage(name: string): Promise<void> {
  const disk = join(daemon.dataDir, `${name}.qcow2`);
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '64M']);
  assert.equal((await asRoot('POST', '/v1/images', { name, from: disk })).status, 202);
  for (let i = 0; i < 200 && (await asRoot('GET', `/v1/images/${name}`)).json?.currentVersion !== 1; i++) await new Promise((r) => setTimeout(r, 100));
}

before(async () => {
  daemon = await TestDaemon.start({ extraArgs: ['--listen', '127.0.0.1:0'] });
  web = { url: /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(daemon.output)![1]!, localAddress: '127.0.0.5' };
  socket = { socketPath: daemon.socket };
  rootToken = readFileSync(join(daemon.dataDir, 'root.token'), 'utf8').trim();
  await blankImage('blank');
  assert.equal((await asRoot('POST', '/v1/groups', { name: 'hall' })).status, 201);
  assert.equal((await asRoot('POST', '/v1/users', { name: 'lobby', kiosk: true, groups: ['hall'] })).status, 201);
  assert.equal((await asRoot('POST', '/v1/users', { name: 'alice', password: 'wonderland-7' })).status, 201);
  const pool = (name: string, entitled: unknown) => ({ name, image: 'blank', warmSpares: 0, maxDesktops: 1, memoryMiB: 128, homeSizeBytes: 64 * 2 ** 20, entitled });
  assert.equal((await asRoot('POST', '/v1/pools', pool('lobbypool', { groups: ['hall'] }))).status, 201);
  // The kiosk account is entitled here too (through its group), but its thin client names lobbypool only.
  assert.equal((await asRoot('POST', '/v1/pools', pool('hallpool', { groups: ['hall'] }))).status, 201);
  assert.equal((await asRoot('POST', '/v1/pools', pool('private', { users: ['alice'] }))).status, 201);
  assert.equal((await asRoot('POST', '/v1/thinclients', { mac: KIOSK_MAC, pool: 'lobbypool', kioskUser: 'lobby' })).status, 201);
  assert.equal((await asRoot('POST', '/v1/thinclients', { mac: OTHER_MAC, place: 'Office' })).status, 201);
});
after(async () => {
  await daemon?.destroy();
});

test('a kiosk session is refused on every route not needed to open its desktop', async () => {
  const cookie = sessionCookieOf(await kioskLogin(KIOSK_MAC))!;
  assert.ok(cookie);
  const me = await call(web, 'GET', '/v1/auth/me', { cookie });
  assert.equal(me.json.user, 'lobby');
  assert.equal(me.json.admin, false);
  const allowed: string[] = [];
  const wrong: string[] = [];
  for (const route of ALL_ROUTES) {
    if (route.access === 'public') continue;
    if (route.kiosk) {
      allowed.push(`${route.method} ${route.url}`);
      continue;
    }
    const path = route.url.replace(/:(\w+)/g, (_m, p: string) => ({ user: 'lobby', name: 'x', pool: 'lobbypool', mac: KIOSK_MAC })[p] ?? 'x');
    const r = await call(web, route.method, path, { cookie, body: route.method === 'GET' || route.method === 'DELETE' ? undefined : {} });
    if (r.status !== 403 || codeOf(r) !== 'KIOSK_SESSION_LIMITED') wrong.push(`${route.method} ${path}: ${r.status} ${JSON.stringify(r.json).slice(0, 120)}`);
  }
  assert.deepEqual(wrong, []);
  assert.deepEqual(allowed.sort(), [
    'GET /v1/auth/me', 'GET /v1/pools', 'GET /v1/sessions', 'POST /v1/auth/logout', 'POST /v1/desktops/:name/display',
    'POST /v1/pools/:pool/connect', 'POST /v1/sessions/:desktop/disconnect', 'POST /v1/sessions/:desktop/logoff', 'POST /v1/sessions/:desktop/reset',
  ]);
  // Named attacks, for the record: users, images, admin routes, another user's pool, its own account.
  for (const path of ['/v1/users', '/v1/images', '/v1/thinclients', '/v1/audit', '/v1/pools/private', '/v1/users/lobby', '/v1/auth/tokens']) {
    assert.equal(codeOf(await call(web, 'GET', path, { cookie })), 'KIOSK_SESSION_LIMITED', path);
  }
});

test("a kiosk session lists and opens only its thin client's pool", async () => {
  const cookie = sessionCookieOf(await kioskLogin(KIOSK_MAC))!;
  const pools = (await call(web, 'GET', '/v1/pools', { cookie })).json as Array<{ name: string }>;
  assert.deepEqual(pools.map((p) => p.name), ['lobbypool'], "not hallpool (entitled, but not this client's), never private");
  for (const pool of ['private', 'hallpool']) {
    const r = await call(web, 'POST', `/v1/pools/${pool}/connect`, { cookie, body: { wait: false } });
    assert.equal(r.status, 403, pool);
    assert.equal(codeOf(r), 'KIOSK_SESSION_LIMITED', pool);
  }
  const own = await call(web, 'POST', '/v1/pools/lobbypool/connect', { cookie, body: { wait: false, client: { thinClient: OTHER_MAC } } });
  assert.equal(own.status, 200, JSON.stringify(own.json));
  const client = (await asRoot('GET', `/v1/thinclients/${KIOSK_MAC}`)).json as { currentUser: string | null };
  assert.equal(client.currentUser, 'lobby', 'the desktop is recorded on the kiosk thin client, whatever client the body names');
  assert.equal(((await asRoot('GET', `/v1/thinclients/${OTHER_MAC}`)).json as { currentUser: string | null }).currentUser, null);
});

test('a kiosk account has no password login and is never an administrator', async () => {
  for (const password of ['', 'x'.repeat(12)]) {
    const r = await call(web, 'POST', '/v1/auth/login', { body: { user: 'lobby', password: password || 'anything-1' } });
    assert.equal(codeOf(r), 'LOGIN_FAILED');
  }
  assert.equal(codeOf(await call(web, 'POST', '/v1/auth/tokens', { body: { user: 'lobby', password: 'anything-12' } })), 'LOGIN_FAILED');
  assert.equal(codeOf(await asRoot('POST', '/v1/users/lobby/password', { password: 'a-known-password-1' })), 'KIOSK_ACCOUNT_ADMIN', 'no password can be given to it');
  assert.equal(codeOf(await asRoot('PATCH', '/v1/users/lobby', { roles: ['admin'] })), 'KIOSK_ACCOUNT_ADMIN');
  assert.equal(codeOf(await asRoot('POST', '/v1/users', { name: 'kioskadmin', kiosk: true, roles: ['admin'] })), 'KIOSK_ACCOUNT_ADMIN');
  assert.equal(codeOf(await asRoot('PATCH', `/v1/thinclients/${OTHER_MAC}`, { kioskUser: 'alice' })), 'KIOSK_USER_INVALID', 'an ordinary account is never opened without its password');
  const admin = await asRoot('POST', '/v1/users', { name: 'boss', password: 'chief-secret-42', roles: ['admin'] });
  assert.equal(admin.status, 201);
  assert.equal(codeOf(await asRoot('PATCH', '/v1/users/boss', { kiosk: true })), 'KIOSK_ACCOUNT_ADMIN', 'an administrator cannot be made a kiosk account');
});

test('a MAC that names no kiosk account gets nothing; guessing counts as failed logins', async () => {
  assert.equal(codeOf(await kioskLogin(OTHER_MAC)), 'KIOSK_NOT_CONFIGURED');
  const guesser: Target = { ...web, localAddress: '127.0.0.66' };
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) statuses.push((await kioskLogin('52:54:00:99:99:99', guesser)).status);
  assert.deepEqual(statuses, [404, 404, 404, 404, 404, 429]);
});

test("an administrator's change ends a kiosk session at once", async () => {
  const cases: Array<[string, () => Promise<Reply>, () => Promise<Reply>]> = [
    ['the client is disabled', () => asRoot('PATCH', `/v1/thinclients/${KIOSK_MAC}`, { state: 'disabled' }), () => asRoot('PATCH', `/v1/thinclients/${KIOSK_MAC}`, { state: 'enabled' })],
    ['the client names no kiosk account', () => asRoot('PATCH', `/v1/thinclients/${KIOSK_MAC}`, { kioskUser: null }), () => asRoot('PATCH', `/v1/thinclients/${KIOSK_MAC}`, { kioskUser: 'lobby' })],
    ['the account is disabled', () => asRoot('PATCH', '/v1/users/lobby', { disabled: true }), () => asRoot('PATCH', '/v1/users/lobby', { disabled: false })],
  ];
  for (const [what, change, undo] of cases) {
    const cookie = sessionCookieOf(await kioskLogin(KIOSK_MAC))!;
    assert.equal((await call(web, 'GET', '/v1/auth/me', { cookie })).status, 200, what);
    assert.equal((await change()).status, 200, what);
    assert.equal((await call(web, 'GET', '/v1/auth/me', { cookie })).status, 401, what);
    assert.notEqual((await kioskLogin(KIOSK_MAC)).status, 200, `${what}: no new one either`);
    assert.equal((await undo()).status, 200, what);
  }
  const first = sessionCookieOf(await kioskLogin(KIOSK_MAC))!;
  const second = sessionCookieOf(await kioskLogin(KIOSK_MAC))!;
  assert.equal((await call(web, 'GET', '/v1/auth/me', { cookie: first })).status, 401, 'one kiosk session per thin client: a claim of the MAC ends the previous one');
  assert.equal((await call(web, 'GET', '/v1/auth/me', { cookie: second })).status, 200);
  assert.equal((await asRoot('PATCH', '/v1/users/lobby', { kiosk: false })).status, 200);
  assert.equal((await call(web, 'GET', '/v1/auth/me', { cookie: second })).status, 401, 'made an ordinary account: the kiosk session ends');
});
