// Every route of the API driven on the real daemon (real QEMU guests behind the VM, image, desktop and pool routes),
// each real success reply checked against the OpenAPI document the daemon serves and the route's own strict schema.
// A route nobody drives, or one without a declared response, fails the coverage test. Each test sets up what it
// drives, so any one runs alone.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { randomBytes } from 'node:crypto';
import { consoleRoute } from '../../src/api/console-ws.js';
import { displaySocketRoute } from '../../src/api/display-socket.js';
import { eventsRoute } from '../../src/api/events.js';
import type { ApiRoute } from '../../src/api/route.js';
import { ALL_ROUTES } from '../../src/api/server.js';
import { totpCode } from '../../src/auth/mfa.js';
import type { Operation } from '../../src/contract/images.js';
import type { DesktopView, SessionInfo } from '../../src/contract/pools.js';
import { TestDaemon, until } from '../helpers/daemon.js';
import { openStore, storeLocation } from '../../src/store/db.js';
import { guestArtifacts } from '../helpers/guests.js';
import { buildHelperGuest, KERNEL_APPEND } from '../image-build/helper-guest.js';
import { GUEST_CMDLINE, waitForLog } from '../images/support.js';
import { type OpenApiDoc, ResponseChecker, routeKey } from './responses-support.js';

const EVERY_ROUTE: ApiRoute[] = [...ALL_ROUTES, consoleRoute, displaySocketRoute, eventsRoute];
const PASSWORD = 'correct horse battery';
const g = guestArtifacts();
let daemon: TestDaemon;
let check: ResponseChecker;
let root: { token: string };

before(async () => {
  daemon = await TestDaemon.start({ extraArgs: ['--listen', '127.0.0.1:0'] });
  const base = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(daemon.output)![1]!;
  root = { token: readFileSync(join(daemon.dataDir, 'root.token'), 'utf8').trim() };
  check = new ResponseChecker(base, await daemon.api().request<OpenApiDoc>('GET', '/v1/openapi.json'), EVERY_ROUTE);
});
after(async () => daemon?.destroy());

/** A user with a password, and their API token (from the token route itself). */
async function userToken(name: string, extra: Record<string, unknown> = {}): Promise<{ token: string }> {
  await daemon.api().request('POST', '/v1/users', { name, password: PASSWORD, ...extra });
  return { token: (await daemon.api().request<{ token: string }>('POST', '/v1/auth/tokens', { user: name, password: PASSWORD })).token };
}

/** Polls an operation (checking each reply) until it ends; fails unless it succeeded. */
async function operationDone(op: Operation): Promise<Operation> {
  const done = await until(`operation ${op.id}`, async () => {
    const now = await check.call<Operation>('GET /v1/operations/:id', `/v1/operations/${op.id}`, root);
    return now.state === 'running' ? undefined : now;
  }, 300_000, 500);
  assert.equal(done.state, 'succeeded', JSON.stringify(done.error));
  return done;
}

const AREAS: Record<string, string[]> = {
  // Driven against a real slapd in test/directory/openldap.test.ts and console-sources.test.ts (replies checked with this ResponseChecker).
  directory: [
    'GET /v1/directory/sources', 'POST /v1/directory/test', 'POST /v1/directory/sync',
    'POST /v1/directory/sources', 'PUT /v1/directory/sources/:name', 'DELETE /v1/directory/sources/:name', 'POST /v1/directory/connection-test',
  ],
  accounts: [
    'GET /healthz', 'GET /v1/host', 'POST /v1/config/load', 'POST /v1/config/reload', 'POST /v1/disks', 'GET /metrics', 'GET /v1/events',
    'POST /v1/auth/login', 'POST /v1/auth/logout', 'GET /v1/auth/me', 'POST /v1/auth/tokens', 'GET /v1/auth/tokens', 'DELETE /v1/auth/tokens/:id', 'GET /v1/tls',
    'POST /v1/backup', 'GET /v1/users', 'POST /v1/users', 'GET /v1/users/:user', 'PATCH /v1/users/:user', 'POST /v1/users/:user/password', 'DELETE /v1/users/:user',
    'GET /v1/groups', 'POST /v1/groups', 'DELETE /v1/groups/:group', 'GET /v1/audit',
    'GET /v1/thinclients', 'POST /v1/thinclients', 'GET /v1/thinclients/:mac', 'PATCH /v1/thinclients/:mac', 'DELETE /v1/thinclients/:mac',
    'GET /v1/netboot', 'PUT /v1/netboot', 'DELETE /v1/netboot',
    'GET /v1/auth/mfa', 'POST /v1/auth/mfa/enrol', 'POST /v1/auth/mfa/confirm', 'GET /v1/users/:user/mfa', 'DELETE /v1/users/:user/mfa',
    'GET /v1/settings', 'PATCH /v1/settings', 'POST /v1/auth/kiosk',
  ],
  vms: [
    'GET /v1/vms', 'POST /v1/vms', 'GET /v1/vms/:name', 'DELETE /v1/vms/:name', 'POST /v1/vms/:name/start', 'POST /v1/vms/:name/stop',
    'POST /v1/vms/:name/pause', 'POST /v1/vms/:name/unpause', 'POST /v1/vms/:name/reset', 'POST /v1/vms/:name/wait',
    'GET /v1/vms/:name/screendump', 'GET /v1/vms/:name/log', 'GET /v1/vms/:name/console',
    'POST /v1/vms/:name/send', 'POST /v1/vms/:name/receive',
  ],
  images: [
    'GET /v1/images', 'POST /v1/images', 'POST /v1/images/gc', 'GET /v1/images/:name', 'DELETE /v1/images/:name', 'GET /v1/images/:name/versions',
    'POST /v1/images/:name/edit', 'POST /v1/images/:name/publish', 'POST /v1/images/:name/discard', 'POST /v1/images/:name/rollback', 'GET /v1/operations/:id',
    'GET /v1/desktops', 'POST /v1/desktops', 'GET /v1/desktops/:name', 'DELETE /v1/desktops/:name', 'POST /v1/desktops/:name/start',
    'POST /v1/desktops/:name/stop', 'POST /v1/desktops/:name/reset',
    'GET /v1/homes', 'GET /v1/homes/:user', 'POST /v1/homes/:user/resize', 'DELETE /v1/homes/:user',
  ],
  pools: [
    'GET /v1/pools', 'POST /v1/pools', 'GET /v1/pools/:pool', 'PATCH /v1/pools/:pool', 'DELETE /v1/pools/:pool', 'GET /v1/pools/:pool/desktops',
    'GET /v1/pools/:pool/forecast', 'POST /v1/pools/:pool/connect', 'POST /v1/pools/:pool/desktops/:desktop/reset', 'POST /v1/pools/:pool/desktops/:desktop/retry',
    'DELETE /v1/pools/:pool/desktops/:desktop', 'GET /v1/sessions', 'POST /v1/sessions/:desktop/logoff', 'POST /v1/sessions/:desktop/reset',
    'POST /v1/sessions/:desktop/disconnect', 'POST /v1/desktops/:name/display', 'GET /v1/desktops/:name/spice.vv', 'GET /v1/display/socket',
    'GET /v1/sessions/:desktop/timeline', 'GET /v1/pools/:pool/timeline', 'GET /v1/reports/usage', 'GET /v1/reports/usage.csv',
  ],
  hosts: ['GET /v1/hosts', 'GET /v1/hosts/:name', 'POST /v1/hosts/:name/drain', 'POST /v1/hosts/:name/undrain', 'POST /v1/hosts/:name/evict', 'PUT /v1/hosts/:name/labels', 'DELETE /v1/hosts/:name', 'GET /v1/hosts/:name/ksm', 'PUT /v1/hosts/:name/ksm'],
  // Driven by test/cluster/agent-join.postgres.test.ts: a token needs a PostgreSQL store and an HTTPS listener to pin.
  agents: ['POST /v1/hosts/:name/join-token', 'POST /v1/agent/join'],
  // Driven by test/cluster/agent-vms.postgres.test.ts: a live migration needs two agents' hosts.
  migrations: ['POST /v1/vms/:name/migrate'],
};

test('every route declares its success body and is driven by one of the tests below', () => {
  const driven = Object.values(AREAS).flat();
  assert.deepEqual(EVERY_ROUTE.map(routeKey).filter((k) => !driven.includes(k)), [], 'routes no test drives');
  assert.deepEqual(driven.filter((k) => !EVERY_ROUTE.some((r) => routeKey(r) === k)), [], 'driven routes the daemon does not have');
  assert.deepEqual(ALL_ROUTES.filter((r) => !r.response).map(routeKey), [], 'routes without a response schema');
});

test('system, accounts, audit and thin clients: the real replies match the document', async () => {
  await check.call('GET /healthz', '/healthz', {});
  await check.call('GET /v1/host', '/v1/host', root);
  const conf = join(daemon.dataDir, 'acc.conf');
  writeFileSync(conf, `vm "acc1" {\n memory 96M\n boot "${g.amd64.kernel}"\n disable\n}\n`);
  await check.call('POST /v1/config/load', '/v1/config/load', root, { path: conf });
  await check.call('POST /v1/config/reload', '/v1/config/reload', root, {});
  await check.call('POST /v1/disks', '/v1/disks', root, { path: join(daemon.dataDir, `acc-${randomBytes(3).toString('hex')}.qcow2`), sizeBytes: 1 << 20 });
  await check.call('GET /metrics', '/metrics', root);
  await check.eventStream('GET /v1/events', '/v1/events', root);

  await check.call('POST /v1/groups', '/v1/groups', root, { name: 'acc-staff' });
  await check.call('POST /v1/users', '/v1/users', root, { name: 'acc-ada', password: PASSWORD, groups: ['acc-staff'] });
  const generated = await check.call<{ password?: string }>('POST /v1/users', '/v1/users', root, { name: 'acc-bea' });
  assert.ok(generated.password, 'a generated password is returned once');
  await check.call('GET /v1/users', '/v1/users', root);
  await check.call('GET /v1/users/:user', '/v1/users/acc-ada', root);
  await check.call('PATCH /v1/users/:user', '/v1/users/acc-ada', root, { fullName: 'Ada L.' });
  await check.call('POST /v1/users/:user/password', '/v1/users/acc-ada/password', root, { password: PASSWORD });
  const ada = await check.call<{ token: string }>('POST /v1/auth/tokens', '/v1/auth/tokens', {}, { user: 'acc-ada', password: PASSWORD });
  await check.call('POST /v1/auth/login', '/v1/auth/login', {}, { user: 'acc-ada', password: PASSWORD });
  await check.call('GET /v1/auth/me', '/v1/auth/me', ada);
  const tokens = await check.call<Array<{ id: number; current: boolean }>>('GET /v1/auth/tokens', '/v1/auth/tokens', ada);
  assert.equal(tokens.filter((t) => t.current).length, 1, 'the token in use is listed as current');
  await check.call('POST /v1/auth/tokens', '/v1/auth/tokens', {}, { user: 'acc-ada', password: PASSWORD }); // a second one, to revoke
  const listed = await check.call<Array<{ id: number; current: boolean }>>('GET /v1/auth/tokens', '/v1/auth/tokens', ada);
  const other = listed.find((t) => !t.current);
  assert.ok(other, `the second token is listed: ${JSON.stringify(listed)}`);
  await check.call('DELETE /v1/auth/tokens/:id', `/v1/auth/tokens/${other.id}`, ada);
  await check.call('GET /v1/tls', '/v1/tls', root);
  // Two-factor enrolment with a code computed here, the administrator's view and reset, the site settings.
  const enrolment = await check.call<{ secret: string }>('POST /v1/auth/mfa/enrol', '/v1/auth/mfa/enrol', ada);
  await check.call('POST /v1/auth/mfa/confirm', '/v1/auth/mfa/confirm', ada, { code: totpCode(enrolment.secret, Date.now()) });
  await check.call('GET /v1/auth/mfa', '/v1/auth/mfa', ada);
  await check.call('GET /v1/users/:user/mfa', '/v1/users/acc-ada/mfa', root);
  await check.call('DELETE /v1/users/:user/mfa', '/v1/users/acc-ada/mfa', root);
  await check.call('PATCH /v1/settings', '/v1/settings', root, { adminsMustUseMfa: false });
  await check.call('GET /v1/settings', '/v1/settings', root);
  await check.call('POST /v1/users', '/v1/users', root, { name: 'acc-kiosk', kiosk: true });
  await check.call('POST /v1/thinclients', '/v1/thinclients', root, { mac: '52:54:00:aa:bb:02', kioskUser: 'acc-kiosk' });
  await check.call('POST /v1/auth/kiosk', '/v1/auth/kiosk', {}, { thinClient: '52:54:00:aa:bb:02' });
  await check.call('POST /v1/auth/logout', '/v1/auth/logout', ada);
  await check.call('GET /v1/groups', '/v1/groups', root);
  const audit = await check.call<unknown[]>('GET /v1/audit', '/v1/audit', root);
  assert.ok(audit.length > 0, 'the audit list was checked with entries in it');
  await check.call('DELETE /v1/users/:user', '/v1/users/acc-bea', root);
  await check.call('DELETE /v1/groups/:group', '/v1/groups/acc-staff', root);

  await check.call('POST /v1/thinclients', '/v1/thinclients', root, { mac: '52:54:00:aa:bb:01', name: 'acc-tc' });
  await check.call('GET /v1/thinclients', '/v1/thinclients', root);
  await check.call('GET /v1/thinclients/:mac', '/v1/thinclients/52:54:00:aa:bb:01', root);
  await check.call('PATCH /v1/thinclients/:mac', '/v1/thinclients/52:54:00:aa:bb:01', root, { place: 'room 1' });
  await check.call('DELETE /v1/thinclients/:mac', '/v1/thinclients/52:54:00:aa:bb:01', root);
  await check.call('GET /v1/netboot', '/v1/netboot', root);
  // Proxy mode on loopback without TFTP: its servers start (port 4011 on 127.0.0.1) and nothing is sent anywhere.
  await check.call('PUT /v1/netboot', '/v1/netboot', root, { interfaces: [{ address: '127.0.0.1', mode: 'proxy', http: { port: 18080 }, tftp: { enabled: false } }] });
  await check.call('DELETE /v1/netboot', '/v1/netboot', root);
  await check.call('POST /v1/backup', '/v1/backup', root, {});
  check.assertChecked(AREAS.accounts!);
});

test('hosts: list, show, drain, undrain, labels, evict and remove of a second host — the real replies match the document', async () => {
  const [own] = await check.call<Array<{ name: string }>>('GET /v1/hosts', '/v1/hosts', root);
  await check.call('GET /v1/hosts/:name', `/v1/hosts/${own!.name}`, root);
  await check.call('POST /v1/hosts/:name/drain', `/v1/hosts/${own!.name}/drain`, root);
  await check.call('POST /v1/hosts/:name/undrain', `/v1/hosts/${own!.name}/undrain`, root);
  // KSM is the machine's: set to the mode it already has, so other tests on this host see no change.
  const ksm = await check.call<{ mode: 'on' | 'off' | 'unmerge' | null }>('GET /v1/hosts/:name/ksm', `/v1/hosts/${own!.name}/ksm`, root);
  await check.call('PUT /v1/hosts/:name/ksm', `/v1/hosts/${own!.name}/ksm`, root, { mode: ksm.mode === 'on' ? 'on' : 'off' });
  // A second host as a joining agent will record it; with nothing on it, it can be removed.
  const store = await openStore(storeLocation(daemon.database, daemon.dataDir));
  try {
    const at = new Date().toISOString();
    await store.insertInto('hosts').values({ name: 'api-blade2', state: 'up', labels: '["ssd"]', labels_from: 'api', memory_mib: 8192, vcpus: 4, memory_overcommit: 1, cpu_overcommit: 4, heartbeat_at: at, agent_credential_sha256: null, cert_fingerprint: null, created_at: at, updated_at: at }).execute();
  } finally {
    await store.destroy();
  }
  await check.call('PUT /v1/hosts/:name/labels', '/v1/hosts/api-blade2/labels', root, { labels: ['ssd', 'gpu'] });
  await check.call('POST /v1/hosts/:name/evict', '/v1/hosts/api-blade2/evict', root, { graceSeconds: 1 });
  await check.call('DELETE /v1/hosts/:name', '/v1/hosts/api-blade2', root);
  check.assertChecked(AREAS.hosts!);
});

test('VMs: define, start, console, screen, log, pause, reset, stop, wait, forget — the real replies match the document', async () => {
  const spec = { name: 'api-vm', memoryMiB: 96, boot: { kernel: g.amd64.kernel, initrd: g.amd64.initrd, cmdline: GUEST_CMDLINE } };
  await check.call('POST /v1/vms', '/v1/vms', root, { spec });
  const vms = await check.call<unknown[]>('GET /v1/vms', '/v1/vms', root);
  assert.ok(vms.length > 0);
  await check.call('POST /v1/vms/:name/start', '/v1/vms/api-vm/start', root, {});
  await check.call('GET /v1/vms/:name', '/v1/vms/api-vm', root);
  await check.webSocket('GET /v1/vms/:name/console', '/v1/vms/api-vm/console', root);
  await waitForLog(daemon, 'api-vm', g.amd64.banner);
  await check.call('GET /v1/vms/:name/log', '/v1/vms/api-vm/log', root);
  await check.call('GET /v1/vms/:name/screendump', '/v1/vms/api-vm/screendump', root);
  const state = await check.call<Buffer>('POST /v1/vms/:name/send', '/v1/vms/api-vm/send', root);
  await check.upload('POST /v1/vms/:name/receive', '/v1/vms/api-vm/receive', root, state);
  await check.call('POST /v1/vms/:name/pause', '/v1/vms/api-vm/pause', root);
  await check.call('POST /v1/vms/:name/unpause', '/v1/vms/api-vm/unpause', root);
  await check.call('POST /v1/vms/:name/reset', '/v1/vms/api-vm/reset', root);
  const waiting = check.call<{ reason: string }>('POST /v1/vms/:name/wait', '/v1/vms/api-vm/wait', root, { timeoutMs: 120_000 });
  await check.call('POST /v1/vms/:name/stop', '/v1/vms/api-vm/stop', root, { force: true });
  assert.ok((await waiting).reason.length > 0);
  await check.call('DELETE /v1/vms/:name', '/v1/vms/api-vm', root);
  check.assertChecked(AREAS.vms!);
});

test('images, desktops and homes: import, desktop life, edit → discard, edit → publish → rollback → gc, delete — the real replies match the document', async () => {
  const created = await check.call<Operation>('POST /v1/images', '/v1/images', root, {
    name: 'api-gold', from: g.amd64.rootQcow2, boot: { kernel: g.amd64.kernel, initrd: g.amd64.initrd, cmdline: GUEST_CMDLINE, memoryMiB: 128 },
  });
  await operationDone(created);
  await check.call('GET /v1/images', '/v1/images', root);
  await check.call('GET /v1/images/:name', '/v1/images/api-gold', root);

  await check.call('POST /v1/desktops', '/v1/desktops', root, { name: 'api-d1', image: 'api-gold', home: 'api-ann', homeSizeBytes: 16 * 2 ** 20 });
  await check.call('GET /v1/desktops', '/v1/desktops', root);
  await check.call('POST /v1/desktops/:name/start', '/v1/desktops/api-d1/start', root);
  await check.call('GET /v1/desktops/:name', '/v1/desktops/api-d1', root);
  await check.call('GET /v1/homes', '/v1/homes', root);
  await check.call('POST /v1/desktops/:name/stop', '/v1/desktops/api-d1/stop', root, { force: true });
  await check.call('POST /v1/desktops/:name/reset', '/v1/desktops/api-d1/reset', root);
  await check.call('GET /v1/homes/:user', '/v1/homes/api-ann', root);
  await check.call('POST /v1/homes/:user/resize', '/v1/homes/api-ann/resize', root, { sizeBytes: 32 * 2 ** 20 });
  await check.call('DELETE /v1/desktops/:name', '/v1/desktops/api-d1', root);
  await check.call('DELETE /v1/homes/:user', '/v1/homes/api-ann?yes=true', root);

  await check.call('POST /v1/images/:name/edit', '/v1/images/api-gold/edit', root);
  await check.call('POST /v1/images/:name/discard', '/v1/images/api-gold/discard', root);
  const session = await check.call<{ vm: string }>('POST /v1/images/:name/edit', '/v1/images/api-gold/edit', root);
  await waitForLog(daemon, session.vm, g.amd64.banner);
  await operationDone(await check.call<Operation>('POST /v1/images/:name/publish', '/v1/images/api-gold/publish', root, {}));
  await check.call('GET /v1/images/:name/versions', '/v1/images/api-gold/versions', root);
  await check.call('POST /v1/images/:name/rollback', '/v1/images/api-gold/rollback', root, { to: 1 });
  const gc = await check.call<{ deleted: unknown[] }>('POST /v1/images/gc', '/v1/images/gc', root, { image: 'api-gold' });
  assert.deepEqual(gc.deleted, [{ image: 'api-gold', version: 2 }]);
  await check.call('DELETE /v1/images/:name', '/v1/images/api-gold', root);
  check.assertChecked(AREAS.images!);
});

test('pools, sessions and the display: connect, ticket, socket, .vv, disconnect, logoff, reset, a failed desktop retried — the real replies match the document', async (t) => {
  const guestDir = mkdtempSync('/tmp/apiimg-');
  t.after(() => rmSync(guestDir, { recursive: true, force: true }));
  const guest = buildHelperGuest(guestDir);
  await daemon.api().request('POST', '/v1/images', {
    name: 'api-bb', from: guest.root, format: 'raw', boot: { kernel: guest.kernel, initrd: guest.initrd, cmdline: KERNEL_APPEND, memoryMiB: 192 },
  }).then((op) => operationDone(op as Operation));
  const eve = await userToken('api-eve');
  const fay = await userToken('api-fay');
  await check.call('POST /v1/pools', '/v1/pools', root, {
    name: 'api-p', image: 'api-bb', warmSpares: 0, maxDesktops: 2, memoryMiB: 192, spice: { listen: '127.0.0.1' }, entitled: { users: ['api-eve', 'api-fay'] },
  });
  // A schedule that keeps the pool's 0 warm spares: the reply carries its status.
  await check.call('PATCH /v1/pools/:pool', '/v1/pools/api-p', root, { userReset: true, spareSchedule: [{ days: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'], at: '00:00', warm: 0 }] });
  await check.call('GET /v1/pools', '/v1/pools', eve);
  await check.call('GET /v1/pools/:pool', '/v1/pools/api-p', root);

  const got = await check.call<{ desktop: DesktopView }>('POST /v1/pools/:pool/connect', '/v1/pools/api-p/connect', eve, {});
  const desktop = got.desktop.name;
  await check.call('GET /v1/pools/:pool/desktops', '/v1/pools/api-p/desktops', root);
  await check.call<SessionInfo[]>('GET /v1/sessions', '/v1/sessions', eve);
  const ticket = await check.call<{ path: string }>('POST /v1/desktops/:name/display', `/v1/desktops/${desktop}/display`, eve, {});
  await check.webSocket('GET /v1/display/socket', ticket.path, eve, 'binary');
  await check.call('GET /v1/desktops/:name/spice.vv', `/v1/desktops/${desktop}/spice.vv`, eve);
  await check.call('GET /v1/sessions/:desktop/timeline', `/v1/sessions/${desktop}/timeline`, root);
  await check.call('GET /v1/pools/:pool/timeline', '/v1/pools/api-p/timeline', root);
  await check.call('GET /v1/reports/usage', '/v1/reports/usage', root);
  await check.call('GET /v1/reports/usage.csv', '/v1/reports/usage.csv', root);
  await check.call('POST /v1/sessions/:desktop/disconnect', `/v1/sessions/${desktop}/disconnect`, root);
  await check.call('POST /v1/sessions/:desktop/reset', `/v1/sessions/${desktop}/reset`, eve);
  const fays = await check.call<{ desktop: DesktopView }>('POST /v1/pools/:pool/connect', '/v1/pools/api-p/connect', fay, { wait: false });
  await until("fay's session started", async () => (await daemon.api().request<SessionInfo[]>('GET', '/v1/sessions')).some((s) => s.user === 'api-fay' && s.state === 'in-use'), 300_000, 500);
  await check.call('POST /v1/sessions/:desktop/logoff', `/v1/sessions/${fays.desktop.name}/logoff`, fay);
  await check.call('GET /v1/pools/:pool/forecast', '/v1/pools/api-p/forecast?weeks=1', root);

  // Out of session: a cold desktop re-cloned, then broken (its disk overwritten) so that it fails at boot, retried, retired.
  await check.call('POST /v1/pools', '/v1/pools', root, { name: 'api-q', image: 'api-bb', warmSpares: 0, coldSpares: 1, maxDesktops: 1, memoryMiB: 192 });
  const cold = await until('a cold spare', async () => (await daemon.api().request<DesktopView[]>('GET', '/v1/pools/api-q/desktops')).find((d) => d.state === 'stopped'), 120_000, 500);
  await check.call('POST /v1/pools/:pool/desktops/:desktop/reset', `/v1/pools/api-q/desktops/${cold.name}/reset`, root);
  await until('the re-cloned desktop cold again', async () => (await daemon.api().request<DesktopView[]>('GET', '/v1/pools/api-q/desktops')).find((d) => d.name === cold.name && d.state === 'stopped'), 120_000, 500);
  writeFileSync(join(daemon.dataDir, 'desktops', cold.name, 'system.qcow2'), randomBytes(256 * 1024));
  await daemon.api().request('PATCH', '/v1/pools/api-q', { warmSpares: 1, coldSpares: 0 });
  await until('the broken desktop failed', async () => (await daemon.api().request<DesktopView[]>('GET', '/v1/pools/api-q/desktops')).find((d) => d.name === cold.name && d.state === 'failed'), 120_000, 500);
  const failed = await check.call<DesktopView[]>('GET /v1/pools/:pool/desktops', '/v1/pools/api-q/desktops', root);
  assert.ok(failed.some((d) => d.failure), 'the desktop list was checked with a failure in it');
  await check.call('POST /v1/pools/:pool/desktops/:desktop/retry', `/v1/pools/api-q/desktops/${cold.name}/retry`, root);
  await check.call('DELETE /v1/pools/:pool/desktops/:desktop', `/v1/pools/api-q/desktops/${cold.name}`, root);
  await check.call('DELETE /v1/pools/:pool', '/v1/pools/api-q', root);
  check.assertChecked(AREAS.pools!);
});
