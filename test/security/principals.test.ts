// Attacker: a unix account holding its vm.conf owner token, or a web user, named like the other. Defence: they are
// different principals: the unix account `nobody` never gets the roles, groups or sessions of the web user
// `nobody`, the web user never gets the unix account's VMs, and ending one's credentials leaves the other's alone.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { TestDaemon } from '../helpers/daemon.js';
import { call, sessionCookieOf, type Target } from '../auth/http.js';

const NAME = 'nobody'; // a real unix account on every Debian system
const PASSWORD = 'web-user-password-5';
let daemon: TestDaemon;
let local: Target;
let root: string;
let unixToken: string;

const asRoot = (method: string, path: string, body?: unknown) => call(local, method, path, { token: root, body });

before(async () => {
  daemon = await TestDaemon.start();
  local = { socketPath: daemon.socket };
  root = readFileSync(join(daemon.dataDir, 'root.token'), 'utf8').trim();
  // The unix account owns a VM (its kernel does not exist: nothing needs to run).
  const conf = join(daemon.dataDir, 'owned.conf');
  writeFileSync(conf, `vm "unixvm" {\n memory 64M\n boot "/nonexistent/vmlinuz"\n owner ${NAME}\n disable\n}\n`);
  assert.equal((await asRoot('POST', '/v1/config/load', { path: conf })).status, 200);
  unixToken = readFileSync(join(daemon.dataDir, 'tokens', `${NAME}.token`), 'utf8').trim();
  // A web user of the same name: an administrator, in a group.
  assert.equal((await asRoot('POST', '/v1/groups', { name: 'staff' })).status, 201);
  const made = await asRoot('POST', '/v1/users', { name: NAME, password: PASSWORD, roles: ['admin'], groups: ['staff'] });
  assert.equal(made.status, 201, JSON.stringify(made.json));
});
after(async () => {
  await daemon?.destroy();
});

test("the unix account's token does not take the web user's admin role or groups", async () => {
  const me = await call(local, 'GET', '/v1/auth/me', { token: unixToken });
  assert.equal(me.status, 200);
  assert.equal(me.json.user, `unix:${NAME}`);
  assert.equal(me.json.admin, false);
  assert.deepEqual(me.json.groups, []);
  for (const [method, path, body] of [['GET', '/v1/users'], ['POST', '/v1/users', { name: 'evil', password: 'evil-password-99', roles: ['admin'] }], ['GET', '/v1/audit']] as const) {
    assert.equal((await call(local, method, path, { token: unixToken, body })).status, 403, `${method} ${path}`);
  }
  assert.equal((await call(local, 'GET', `/v1/users/${NAME}`, { token: unixToken })).status, 403, "nor read the web user's account");
  assert.equal((await call(local, 'GET', '/v1/sessions', { token: unixToken })).json.length ?? 0, 0, "nor see the web user's sessions");
});

test('the unix account operates its VM; the web user of the same name does not', async () => {
  assert.equal((await call(local, 'GET', '/v1/vms/unixvm', { token: unixToken })).status, 200);
  assert.equal((await asRoot('PATCH', `/v1/users/${NAME}`, { roles: ['user'] })).status, 200);
  const web = await call(local, 'POST', '/v1/auth/tokens', { body: { user: NAME, password: PASSWORD } });
  assert.equal(web.status, 200);
  const webToken = web.json.token as string;
  assert.equal((await call(local, 'GET', '/v1/vms/unixvm', { token: webToken })).status, 403);
  assert.equal((await call(local, 'POST', '/v1/vms/unixvm/start', { token: webToken, body: {} })).status, 403);
  assert.deepEqual((await call(local, 'GET', '/v1/vms', { token: webToken })).json, []);
  const login = await call(local, 'POST', '/v1/auth/login', { body: { user: NAME, password: PASSWORD } });
  const cookie = sessionCookieOf(login)!;
  assert.equal((await call(local, 'GET', '/v1/vms/unixvm', { cookie })).status, 403, 'nor with a browser session');
});

test("changing the web user's password or deleting it ends only the web user's credentials", async () => {
  const web = (await call(local, 'POST', '/v1/auth/tokens', { body: { user: NAME, password: PASSWORD } })).json.token as string;
  assert.equal((await asRoot('POST', `/v1/users/${NAME}/password`, { password: 'another-web-pass-6' })).status, 200);
  assert.equal((await call(local, 'GET', '/v1/auth/me', { token: web })).status, 401);
  assert.equal((await call(local, 'GET', '/v1/auth/me', { token: unixToken })).status, 200, 'the unix token is another principal');
  assert.equal((await asRoot('DELETE', `/v1/users/${NAME}`)).status, 200);
  assert.equal((await call(local, 'GET', '/v1/vms/unixvm', { token: unixToken })).status, 200);
  // A web user made later under that name gets nothing of the unix account.
  assert.equal((await asRoot('POST', '/v1/users', { name: NAME, password: PASSWORD })).status, 201);
  const again = (await call(local, 'POST', '/v1/auth/tokens', { body: { user: NAME, password: PASSWORD } })).json.token as string;
  assert.equal((await call(local, 'GET', '/v1/vms/unixvm', { token: again })).status, 403);
});
