// The authorization matrix: EVERY route in ALL_ROUTES is called as anonymous, a user, another user and an
// administrator (a user with the admin role), and each must get exactly the outcome its row says.
// A route without a row fails this test: whoever adds a route adds its row here.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ALL_ROUTES } from '../../src/api/server.js';
import { TestDaemon } from '../helpers/daemon.js';
import { call, type Target } from './http.js';

/** 'ok' = authorized (any status but 401/403: the handler ran and may still say 400/404/409); a number = that exact status. */
type Expect = 'ok' | number;
type Who = 'anonymous' | 'user' | 'other' | 'admin';
const WHO: Who[] = ['anonymous', 'user', 'other', 'admin'];
interface Row {
  expect: [Expect, Expect, Expect, Expect];
  params?: Record<string, string>;
  body?: unknown;
  query?: string;
}

const PUBLIC: Row['expect'] = ['ok', 'ok', 'ok', 'ok'];
const AUTHENTICATED: Row['expect'] = [401, 'ok', 'ok', 'ok'];
const ADMIN: Row['expect'] = [401, 403, 403, 'ok'];
/**
 * vm-owner routes on the VM whose vm.conf `owner` is the unix account named like the web user `user`: a web user is
 * never that unix account (a different principal, test/security/principals.test.ts), so both users are refused.
 */
const OWNER: Row['expect'] = [401, 403, 403, 'ok'];

const PASSWORDS = { user: 'wonderland-7', other: 'builder-pass-8', admin: 'christmas-9x' } as const;
const NAMES = { user: 'alice', other: 'bob', admin: 'carol' } as const;

/** Values for URL parameters unless a row says otherwise: things that do not exist, except the user's own VM and account. */
const DEFAULT_PARAMS: Record<string, string> = {
  name: 'nosuch',
  user: NAMES.user,
  group: 'nosuchgroup',
  pool: 'nosuchpool',
  desktop: 'nosuchdesktop',
  mac: '02:00:00:00:00:99',
  id: 'nosuchop',
};
const VM = { name: 'vm-alice' };

const ROWS: Record<string, Row> = {
  // system
  'GET /healthz': { expect: PUBLIC },
  'GET /metrics': { expect: ADMIN },
  'GET /v1/host': { expect: AUTHENTICATED },
  'GET /v1/tls': { expect: AUTHENTICATED },
  'POST /v1/config/load': { expect: ADMIN },
  'POST /v1/config/reload': { expect: ADMIN },
  'POST /v1/disks': { expect: ADMIN },
  // VMs: the unix account alice owns vm-alice (vm.conf owner); the web user alice is not that account
  'GET /v1/vms': { expect: AUTHENTICATED },
  'POST /v1/vms': { expect: ADMIN },
  'GET /v1/vms/:name': { expect: [401, 403, 403, 200], params: VM },
  'DELETE /v1/vms/:name': { expect: ADMIN },
  'POST /v1/vms/:name/start': { expect: OWNER, params: VM },
  'POST /v1/vms/:name/stop': { expect: OWNER, params: VM },
  'POST /v1/vms/:name/pause': { expect: OWNER, params: VM },
  'POST /v1/vms/:name/unpause': { expect: OWNER, params: VM },
  'POST /v1/vms/:name/reset': { expect: OWNER, params: VM },
  'POST /v1/vms/:name/wait': { expect: OWNER, params: VM },
  // Administrators only, even for the VM's owner: a move between hosts is the cluster's (here: on the controller's own host, 409).
  'POST /v1/vms/:name/migrate': { expect: [401, 403, 403, 409], params: VM, body: {} },
  'GET /v1/vms/:name/log': { expect: OWNER, params: VM },
  'GET /v1/vms/:name/screendump': { expect: OWNER, params: VM },
  'POST /v1/vms/:name/send': { expect: OWNER, params: VM },
  'POST /v1/vms/:name/receive': { expect: OWNER, params: VM },
  // gold images and operations
  'GET /v1/images': { expect: ADMIN },
  'POST /v1/images': { expect: ADMIN },
  'POST /v1/images/gc': { expect: ADMIN },
  'GET /v1/images/:name': { expect: ADMIN },
  'DELETE /v1/images/:name': { expect: ADMIN },
  'GET /v1/images/:name/versions': { expect: ADMIN },
  'POST /v1/images/:name/edit': { expect: ADMIN },
  'POST /v1/images/:name/publish': { expect: ADMIN },
  'POST /v1/images/:name/discard': { expect: ADMIN },
  'POST /v1/images/:name/rollback': { expect: ADMIN },
  'GET /v1/operations/:id': { expect: ADMIN },
  // homes and desktops (admin side)
  'GET /v1/homes': { expect: ADMIN },
  'GET /v1/homes/:user': { expect: ADMIN },
  'POST /v1/homes/:user/resize': { expect: ADMIN },
  'DELETE /v1/homes/:user': { expect: ADMIN },
  'GET /v1/desktops': { expect: ADMIN },
  'POST /v1/desktops': { expect: ADMIN },
  'GET /v1/desktops/:name': { expect: ADMIN },
  'DELETE /v1/desktops/:name': { expect: ADMIN },
  'POST /v1/desktops/:name/start': { expect: ADMIN },
  'POST /v1/desktops/:name/stop': { expect: ADMIN },
  'POST /v1/desktops/:name/reset': { expect: ADMIN },
  // pools and sessions (lead): derived from `access`; owner-vs-other rows need desktops (add them with the broker tests)
  'GET /v1/pools': { expect: AUTHENTICATED },
  'POST /v1/pools': { expect: ADMIN },
  'GET /v1/pools/:pool': { expect: AUTHENTICATED },
  'PATCH /v1/pools/:pool': { expect: ADMIN },
  'DELETE /v1/pools/:pool': { expect: ADMIN },
  'GET /v1/pools/:pool/desktops': { expect: ADMIN },
  'GET /v1/pools/:pool/forecast': { expect: ADMIN },
  'POST /v1/pools/:pool/connect': { expect: AUTHENTICATED, body: { wait: false } },
  'POST /v1/pools/:pool/desktops/:desktop/reset': { expect: ADMIN },
  'POST /v1/pools/:pool/desktops/:desktop/retry': { expect: ADMIN },
  'DELETE /v1/pools/:pool/desktops/:desktop': { expect: ADMIN },
  'GET /v1/sessions': { expect: AUTHENTICATED },
  'POST /v1/sessions/:desktop/logoff': { expect: AUTHENTICATED },
  'POST /v1/sessions/:desktop/disconnect': { expect: AUTHENTICATED },
  'POST /v1/sessions/:desktop/reset': { expect: AUTHENTICATED },
  'GET /v1/sessions/:desktop/timeline': { expect: ADMIN },
  'GET /v1/pools/:pool/timeline': { expect: ADMIN },
  'GET /v1/reports/usage': { expect: ADMIN },
  'GET /v1/reports/usage.csv': { expect: ADMIN },
  // display gateway: derived from `access`
  'POST /v1/desktops/:name/display': { expect: AUTHENTICATED, body: {} },
  'GET /v1/desktops/:name/spice.vv': { expect: AUTHENTICATED },
  // thin clients
  'GET /v1/thinclients': { expect: ADMIN },
  // netboot: administrators only; an empty configuration is refused for them (every problem listed), clear with none is fine
  'GET /v1/netboot': { expect: ADMIN },
  'PUT /v1/netboot': { expect: [401, 403, 403, 400], body: {} },
  'DELETE /v1/netboot': { expect: ADMIN },
  'POST /v1/thinclients': { expect: [401, 403, 403, 201], body: { mac: '52:54:00:7a:00:01', place: 'Room 1' } },
  'GET /v1/thinclients/:mac': { expect: ADMIN },
  'PATCH /v1/thinclients/:mac': { expect: ADMIN, body: {} },
  'DELETE /v1/thinclients/:mac': { expect: ADMIN },
  // login, users, groups, audit (exact statuses)
  'POST /v1/auth/login': { expect: [200, 200, 200, 200], body: { user: NAMES.user, password: PASSWORDS.user } },
  'POST /v1/auth/logout': { expect: [401, 200, 200, 200] },
  'GET /v1/auth/me': { expect: [401, 200, 200, 200] },
  'POST /v1/auth/tokens': { expect: [200, 200, 200, 200], body: { user: NAMES.other, password: PASSWORDS.other } },
  'GET /v1/auth/tokens': { expect: AUTHENTICATED },
  'DELETE /v1/auth/tokens/:id': { expect: [401, 404, 404, 404], params: { id: '999999' } },
  'GET /v1/users': { expect: [401, 403, 403, 200] },
  'POST /v1/users': { expect: [401, 403, 403, 201], body: { name: 'matrixmade', password: 'made-by-matrix-1' } },
  'GET /v1/users/:user': { expect: [401, 200, 403, 200] },
  'PATCH /v1/users/:user': { expect: [401, 200, 403, 200], body: { keyboardLayout: 'de' } },
  'POST /v1/users/:user/password': { expect: [401, 200, 403, 200], body: { current: PASSWORDS.user, password: PASSWORDS.user } },
  'DELETE /v1/users/:user': { expect: [401, 403, 403, 200], params: { user: 'victim' } },
  'GET /v1/groups': { expect: [401, 403, 403, 200] },
  'POST /v1/groups': { expect: [401, 403, 403, 201], body: { name: 'matrixgroup' } },
  'DELETE /v1/groups/:group': { expect: [401, 403, 403, 200], params: { group: 'victimgroup' } },
  'GET /v1/audit': { expect: [401, 403, 403, 200], query: 'limit=5' },
  // backup: administrators only (a real, small archive for them)
  'POST /v1/backup': { expect: ADMIN, body: {} },
  // directory sources: administrators only; without --directory (and no console source) the list is empty
  'GET /v1/directory/sources': { expect: [401, 403, 403, 200] },
  'POST /v1/directory/test': { expect: ADMIN, body: { user: 'alice' } },
  'POST /v1/directory/sync': { expect: ADMIN, body: {} },
  // wt-dirconsole: console sources (a server nobody listens on: made, tried and replaced without a directory)
  'POST /v1/directory/sources': { expect: [401, 403, 403, 201], body: { name: 'matrixsrc', kind: 'ldap', urls: ['ldaps://127.0.0.1:1'], userBase: 'ou=people,dc=x', groupBase: 'ou=groups,dc=x', timeoutMs: 500 } },
  'PUT /v1/directory/sources/:name': { expect: ADMIN, params: { name: 'matrixsrc' }, body: { kind: 'ldap', urls: ['ldaps://127.0.0.1:1'], userBase: 'ou=people,dc=x', groupBase: 'ou=groups,dc=x', timeoutMs: 500 } },
  'DELETE /v1/directory/sources/:name': { expect: ADMIN, params: { name: 'matrixgone' } },
  'POST /v1/directory/connection-test': { expect: [401, 403, 403, 200], body: { name: 'matrixtry', kind: 'ldap', urls: ['ldaps://127.0.0.1:1'], userBase: 'ou=people,dc=x', groupBase: 'ou=groups,dc=x', timeoutMs: 500 } },
  // hosts: administrators only; drain/undrain/remove of a host that does not exist say 404 to them
  'GET /v1/hosts': { expect: [401, 403, 403, 200] },
  'GET /v1/hosts/:name': { expect: [401, 403, 403, 404] },
  'POST /v1/hosts/:name/drain': { expect: [401, 403, 403, 404] },
  'POST /v1/hosts/:name/undrain': { expect: [401, 403, 403, 404] },
  'POST /v1/hosts/:name/evict': { expect: [401, 403, 403, 404], body: { graceSeconds: 1 } },
  'PUT /v1/hosts/:name/labels': { expect: [401, 403, 403, 404], body: { labels: ['ssd'] } },
  'DELETE /v1/hosts/:name': { expect: [401, 403, 403, 404] },
  // join tokens and their exchange: this matrix's daemon keeps SQLite, which refuses remote agents (AGENT_NEEDS_POSTGRES, 409)
  'POST /v1/hosts/:name/join-token': { expect: [401, 403, 403, 409], body: {} },
  'POST /v1/agent/join': { expect: [409, 409, 409, 409], body: { protocol: 1, host: 'blade9', id: 'abcdefghijklmnop', secret: 'A'.repeat(43) } },
  // KSM: administrators only (a console user without admin rights gets FORBIDDEN); an unknown host says 404 to them
  'GET /v1/hosts/:name/ksm': { expect: [401, 403, 403, 404] },
  'PUT /v1/hosts/:name/ksm': { expect: [401, 403, 403, 404], body: { mode: 'off' } },
  // Two-factor sign-in (own enrolment; an empty code is a 400 after authorization) and site settings
  'GET /v1/auth/mfa': { expect: [401, 200, 200, 200] },
  'POST /v1/auth/mfa/enrol': { expect: [401, 200, 200, 200] },
  'POST /v1/auth/mfa/confirm': { expect: [401, 400, 400, 400], body: { code: '' } },
  'GET /v1/users/:user/mfa': { expect: [401, 403, 403, 200] },
  'DELETE /v1/users/:user/mfa': { expect: [401, 403, 403, 200] },
  'GET /v1/settings': { expect: [401, 403, 403, 200] },
  'PATCH /v1/settings': { expect: [401, 403, 403, 200], body: {} },
  'POST /v1/auth/kiosk': { expect: [404, 404, 404, 404], body: { thinClient: '02:00:00:00:00:99' } },
};

let daemon: TestDaemon;
let socket: Target;
let rootToken: string;
const tokens: Partial<Record<Who, string>> = {};

async function tokenFresh(who: Exclude<Who, 'anonymous'>): Promise<string> {
  const current = tokens[who];
  // Some rows revoke credentials (logout, an administrator's password reset): get a new token then.
  if (current && (await call(socket, 'GET', '/v1/auth/me', { token: current })).status === 200) return current;
  const r = await call(socket, 'POST', '/v1/auth/tokens', { body: { user: NAMES[who], password: PASSWORDS[who], label: 'authz-matrix' } });
  assert.equal(r.status, 200, `token for ${who}: ${JSON.stringify(r.json)}`);
  return (tokens[who] = r.json.token as string);
}

before(async () => {
  daemon = await TestDaemon.start();
  socket = { socketPath: daemon.socket };
  rootToken = readFileSync(join(daemon.dataDir, 'root.token'), 'utf8').trim();
  const asRoot = async (method: string, path: string, body: unknown, status: number) => {
    const r = await call(socket, method, path, { token: rootToken, body });
    assert.equal(r.status, status, `${method} ${path}: ${JSON.stringify(r.json)}`);
  };
  await asRoot('POST', '/v1/groups', { name: 'victimgroup' }, 201);
  await asRoot('POST', '/v1/users', { name: NAMES.user, password: PASSWORDS.user }, 201);
  await asRoot('POST', '/v1/users', { name: NAMES.other, password: PASSWORDS.other }, 201);
  await asRoot('POST', '/v1/users', { name: NAMES.admin, password: PASSWORDS.admin, roles: ['admin'] }, 201);
  await asRoot('POST', '/v1/users', { name: 'victim', password: 'to-be-deleted-42' }, 201);
  // alice's VM boots a kernel that does not exist (in her own folder, so the owner policy lets her try):
  // starting it fails before any QEMU runs.
  const conf = join(daemon.dataDir, 'matrix.conf');
  writeFileSync(conf, `vm "${VM.name}" {\n memory 64M\n boot "${join(daemon.dataDir, 'owners', NAMES.user, 'vmlinuz')}"\n owner ${NAMES.user}\n disable\n}\n`);
  await asRoot('POST', '/v1/config/load', { path: conf }, 200);
});
after(async () => {
  await daemon?.destroy();
});

const routeKey = (r: { method: string; url: string }) => `${r.method} ${r.url}`;

test('every route has a row in the matrix, and every row a route', () => {
  const keys = ALL_ROUTES.map(routeKey);
  const missing = keys.filter((k) => !(k in ROWS));
  assert.deepEqual(missing, [], `add rows to test/auth/authz-matrix.test.ts for: ${missing.join(', ')}`);
  const stale = Object.keys(ROWS).filter((k) => !keys.includes(k));
  assert.deepEqual(stale, [], `rows for routes that no longer exist: ${stale.join(', ')}`);
});

test('each principal gets exactly what its row says, on every route', async () => {
  const wrong: string[] = [];
  for (const route of ALL_ROUTES) {
    const row = ROWS[routeKey(route)];
    if (!row) continue; // reported by the test above
    const params = { ...DEFAULT_PARAMS, ...row.params };
    const path = route.url.replace(/:(\w+)/g, (_m, p: string) => encodeURIComponent(params[p] ?? p)) + (row.query ? `?${row.query}` : '');
    for (const [i, who] of WHO.entries()) {
      const token = who === 'anonymous' ? undefined : await tokenFresh(who);
      const r = await call(socket, route.method, path, { token, body: row.body });
      const want = row.expect[i]!;
      const good = want === 'ok' ? r.status !== 401 && r.status !== 403 : r.status === want;
      if (!good) wrong.push(`${route.method} ${path} as ${who}: got ${r.status} ${JSON.stringify(r.json).slice(0, 160)}, want ${want}`);
    }
  }
  assert.deepEqual(wrong, []);
});

test("web users list none of a unix account's VMs, even the user named like the account", async () => {
  const named = await call(socket, 'GET', '/v1/vms', { token: await tokenFresh('user') });
  const theirs = await call(socket, 'GET', '/v1/vms', { token: await tokenFresh('other') });
  assert.deepEqual(named.json, []);
  assert.deepEqual(theirs.json, []);
});

test('the admin role is an administrator; the root token too; a bad bearer is nobody even with a session cookie', async () => {
  const me = await call(socket, 'GET', '/v1/auth/me', { token: await tokenFresh('admin') });
  assert.deepEqual({ user: me.json.user, admin: me.json.admin, roles: me.json.roles }, { user: 'carol', admin: true, roles: ['admin', 'user'] });
  assert.equal((await call(socket, 'GET', '/v1/auth/me', { token: rootToken })).json.admin, true);
  const login = await call(socket, 'POST', '/v1/auth/login', { body: { user: NAMES.user, password: PASSWORDS.user } });
  const cookie = String(login.headers['set-cookie']).split(';')[0]!;
  assert.equal((await call(socket, 'GET', '/v1/auth/me', { cookie })).status, 200);
  assert.equal((await call(socket, 'GET', '/v1/auth/me', { cookie, token: 'bad' })).status, 401);
});
