// Errors a user meets, from the real daemon: each has its registry code, HTTP status and a hint that says what
// to do. Unknown routes, FORBIDDEN on every admin and VM route, too many live-update streams, a desktop that
// does not boot, a pool whose image cannot be cloned.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request, type ClientRequest } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ERROR_REGISTRY, type ErrorCode } from '../../src/contract/errors.js';
import { forbiddenHint } from '../../src/api/http-errors.js';
import { MAX_SUBSCRIBERS } from '../../src/api/events.js';
import { ALL_ROUTES } from '../../src/api/server.js';
import { TestDaemon } from '../helpers/daemon.js';
import { call, type Reply, type Target } from '../auth/http.js';

let daemon: TestDaemon;
let socket: Target;
let rootToken: string;
const tokens: Record<'alice' | 'bob', string> = { alice: '', bob: '' };
const VM = 'vm-alice';

/** The reply is the registry error `code` with its status; the hint is the one given, or the registry's. */
function assertError(r: Reply, code: ErrorCode, hint: string = ERROR_REGISTRY[code].hint): void {
  assert.equal(r.json?.error?.code, code, JSON.stringify(r.json));
  assert.equal(r.status, ERROR_REGISTRY[code].status, JSON.stringify(r.json));
  assert.equal(r.json.error.hint, hint);
}

before(async () => {
  daemon = await TestDaemon.start({ extraArgs: ['--boot-timeout', '5'] }); // a guest that never says "ready" fails fast
  socket = { socketPath: daemon.socket };
  rootToken = readFileSync(join(daemon.dataDir, 'root.token'), 'utf8').trim();
  for (const name of ['alice', 'bob'] as const) {
    const password = `wonderland-${name.length}7-x`;
    assert.equal((await call(socket, 'POST', '/v1/users', { token: rootToken, body: { name, password } })).status, 201);
    tokens[name] = (await call(socket, 'POST', '/v1/auth/tokens', { body: { user: name, password } })).json.token;
  }
  const conf = join(daemon.dataDir, 'errors.conf');
  writeFileSync(conf, `vm "${VM}" {\n memory 64M\n boot "/nonexistent/vmlinuz"\n owner alice\n disable\n}\n`);
  assert.equal((await call(socket, 'POST', '/v1/config/load', { token: rootToken, body: { path: conf } })).status, 200);
});
after(async () => {
  await daemon?.destroy();
});

test('an unknown route is 404 NOT_FOUND with a JSON body, for anyone', async () => {
  for (const [method, path, token] of [['GET', '/v1/nosuch', rootToken], ['POST', '/v1/vms/x/nosuch', undefined], ['GET', '/v2/vms', tokens.bob]] as const) {
    const r = await call(socket, method, path, { token });
    assertError(r, 'NOT_FOUND');
    assert.match(r.json.error.message, /no route/);
  }
});

test("FORBIDDEN's hint names who may, from the route's access rule: administrators, the VM's owner, or yourself", async () => {
  const wrong: string[] = [];
  for (const route of ALL_ROUTES) {
    if (route.access !== 'admin' && route.access !== 'vm-owner') continue;
    const path = route.url.replace(/:(\w+)/g, (_m, p: string) => (p === 'name' && route.access === 'vm-owner' ? VM : `x${p}`));
    const r = await call(socket, route.method, path, { token: tokens.bob, body: {} });
    const hint = forbiddenHint(route.access);
    if (r.status !== 403 || r.json?.error?.code !== 'FORBIDDEN' || r.json.error.hint !== hint) wrong.push(`${route.method} ${path}: ${r.status} ${JSON.stringify(r.json)}`);
  }
  assert.deepEqual(wrong, []);
  assert.doesNotMatch(forbiddenHint('admin'), /owner/);
  assert.match(forbiddenHint('vm-owner'), /VM's owner/);
  // A check in the handler of a route any user may call: "your own".
  const r = await call(socket, 'POST', '/v1/users/alice/password', { token: tokens.bob, body: { password: 'bob-takes-over-99' } });
  assertError(r, 'FORBIDDEN', forbiddenHint('authenticated'));
});

/** Opens GET /v1/events and resolves with the answer's status once its head arrived (the stream stays open). */
function eventStream(token: string): Promise<{ status: number; req: ClientRequest; body: () => Promise<string> }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: daemon.socket, path: '/v1/events', headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } }, (res) => {
      let text = '';
      const ended = new Promise<string>((done) => res.on('data', (c: Buffer) => (text += c.toString())).on('end', () => done(text)));
      resolve({ status: res.statusCode ?? 0, req, body: () => ended });
    });
    req.on('error', reject);
    req.end();
  });
}

test('one stream more than the live-update limit is refused with EVENTS_FULL; closing one makes room again', async () => {
  const open: Array<{ req: ClientRequest }> = [];
  try {
    for (let i = 0; i < MAX_SUBSCRIBERS; i += 50) {
      const batch = await Promise.all(Array.from({ length: Math.min(50, MAX_SUBSCRIBERS - i) }, () => eventStream(tokens.bob)));
      assert.ok(batch.every((s) => s.status === 200));
      open.push(...batch);
    }
    const refused = await eventStream(tokens.alice);
    assert.equal(refused.status, 503);
    const body = JSON.parse(await refused.body()) as Reply['json'];
    assertError({ status: refused.status, headers: {}, json: body }, 'EVENTS_FULL');
    open.pop()!.req.destroy();
    let again: Awaited<ReturnType<typeof eventStream>> | undefined;
    for (let i = 0; i < 100 && again?.status !== 200; i++) {
      again?.req.destroy();
      await new Promise((r) => setTimeout(r, 50)); // the daemon sees the close asynchronously
      again = await eventStream(tokens.alice);
    }
    assert.equal(again?.status, 200);
    open.push(again!);
  } finally {
    for (const s of open) s.req.destroy();
  }
});

/** Imports a blank 64 MiB qcow2 as image `name` (version 1): clones fine, boots nothing. */
async function blankImage(name: string): Promise<void> {
  const disk = join(daemon.dataDir, `${name}.qcow2`);
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '64M']);
  assert.equal((await call(socket, 'POST', '/v1/images', { token: rootToken, body: { name, from: disk } })).status, 202);
  for (let i = 0; i < 200 && (await call(socket, 'GET', `/v1/images/${name}`, { token: rootToken })).json?.currentVersion !== 1; i++) await new Promise((r) => setTimeout(r, 100));
}

test('a desktop whose guest never comes up answers DESKTOP_FAILED with the reason and what to do', async () => {
  await blankImage('blank');
  const pool = { name: 'noboot', image: 'blank', warmSpares: 0, maxDesktops: 1, memoryMiB: 192, homeSizeBytes: 64 * 2 ** 20, entitled: { users: ['alice'] } };
  assert.equal((await call(socket, 'POST', '/v1/pools', { token: rootToken, body: pool })).status, 201);
  const r = await call(socket, 'POST', '/v1/pools/noboot/connect', { token: tokens.alice, body: { waitSeconds: 120 } });
  assertError(r, 'DESKTOP_FAILED');
  assert.match(r.json.error.message, /did not report ready within 5 s/);
});

test('a pool whose image cannot be read answers DESKTOP_CLONE_FAILED with what to do; the detail goes to the daemon log', async () => {
  await blankImage('tiny');
  const pool = { name: 'lab', image: 'tiny', warmSpares: 0, maxDesktops: 2, memoryMiB: 192, homeSizeBytes: 64 * 2 ** 20, entitled: { users: ['alice', 'bob'] } };
  assert.equal((await call(socket, 'POST', '/v1/pools', { token: rootToken, body: pool })).status, 201);
  const base = join(daemon.dataDir, 'images', 'tiny', '1.qcow2');

  // Unreadable: a folder where the version's file was (EISDIR when it is checked).
  rmSync(base, { force: true });
  mkdirSync(base);
  const unreadable = await call(socket, 'POST', '/v1/pools/lab/connect', { token: tokens.alice, body: { wait: false } });
  assertError(unreadable, 'DESKTOP_CLONE_FAILED');
  assert.match(unreadable.json.error.message, /image tiny version 1 failed \(EISDIR\)/);
  assert.doesNotMatch(unreadable.json.error.message, new RegExp(daemon.dataDir));

  // Missing: the integrity check's reason is passed on (bob asks: alice's failed desktop still counts as hers).
  rmSync(base, { recursive: true });
  const missing = await call(socket, 'POST', '/v1/pools/lab/connect', { token: tokens.bob, body: { wait: false } });
  assertError(missing, 'DESKTOP_CLONE_FAILED');
  assert.match(missing.json.error.message, /is missing/);
  assert.equal(missing.json.error.details.cause, 'IMAGE_CORRUPT');

  const desktops = (await call(socket, 'GET', '/v1/pools/lab/desktops', { token: rootToken })).json as Array<{ state: string }>;
  assert.deepEqual(desktops.map((d) => d.state), ['failed', 'failed']);
  assert.match(daemon.output, /cloning the system disk of lab-1 failed/, 'the detail is in the daemon log');
});
