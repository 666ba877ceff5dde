// The site as code against a real daemon: apply from nothing, again (no change), an edit, export, a bad file,
// a failure midway, a wrong sha256, --prune, and an administrator's rights. Pools have no spares: no VM boots.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parse, stringify } from 'yaml';
import type { HostView } from '../../src/contract/hosts.js';
import type { NetbootStatus } from '../../src/contract/netboot.js';
import type { PoolView } from '../../src/contract/pools.js';
import type { ThinClientView } from '../../src/contract/thinclients.js';
import type { GroupView, UserView } from '../../src/contract/users.js';
import { TestDaemon } from '../helpers/daemon.js';
import { NetLab } from '../netboot/lab.js';
import { buildHelperGuest, KERNEL_APPEND } from '../image-build/helper-guest.js';
import { userClient } from '../pools/support.js';

let daemon: TestDaemon;
let dir: string;
let site: Record<string, unknown>;

function siteFile(name: string, doc: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, stringify(doc));
  return path;
}

const get = <T>(path: string) => daemon.api().request<T>('GET', path);

before(async () => {
  daemon = await TestDaemon.start({ env: { ARDESIA_DIRECTORY_SITE_TEST: 'bind-secret' } });
  dir = mkdtempSync('/tmp/site-');
  const guest = buildHelperGuest(dir);
  const sha256 = createHash('sha256').update(readFileSync(guest.root)).digest('hex');
  site = {
    settings: { adminsMustUseMfa: false },
    images: [{ name: 'bb', from: guest.root, format: 'raw', sha256, boot: { kernel: guest.kernel, initrd: guest.initrd, cmdline: KERNEL_APPEND, memoryMiB: 192 } }],
    groups: ['staff', 'pupils'],
    users: [
      { name: 'alice', fullName: 'Alice Admin', roles: ['admin'], groups: ['staff'] },
      { name: 'bob', groups: ['pupils'], keyboardLayout: 'de' },
    ],
    pools: [{ name: 'lab', image: 'bb', warmSpares: 0, coldSpares: 0, maxDesktops: 2, memoryMiB: 192, entitled: { groups: ['pupils'] } }],
    thinClients: [{ mac: '52:54:00:5e:00:01', name: 'desk1', place: 'Room 1', pool: 'lab' }],
    // Saved without contacting the server (nothing answers there): its settings and reference are what is checked.
    directorySources: [{ name: 'ad', kind: 'ad', urls: ['ldaps://127.0.0.1:1'], bind: { dn: 'CN=svc,DC=council,DC=test', password: 'env:ARDESIA_DIRECTORY_SITE_TEST' }, userBase: 'DC=council,DC=test', groupBase: 'DC=council,DC=test', groups: { Teachers: ['staff'] } }],
  };
});

after(async () => {
  if (process.env.ARDESIA_TEST_LOG) writeFileSync(process.env.ARDESIA_TEST_LOG, daemon?.output ?? '');
  await daemon?.destroy();
});

test('apply from nothing: each step a progress line, in order; users get a first-login password', async () => {
  const r = await daemon.cli(['apply', '-f', siteFile('site.yaml', site)], { timeoutMs: 300_000 });
  assert.equal(r.code, 0, r.stderr);
  const progress = r.stderr.split('\n').filter((l) => /^\[\d+\/\d+\]/.test(l));
  assert.deepEqual(progress.map((l) => l.replace(/: .* … /, ' … ')), [
    '[1/8] + create group staff … done',
    '[2/8] + create group pupils … done',
    '[3/8] + create user alice … done',
    '[4/8] + create user bob … done',
    '[5/8] + create directory-source ad … done',
    '[6/8] + create image bb … done',
    '[7/8] + create pool lab … done',
    '[8/8] + create thin-client 52:54:00:5e:00:01 … done',
  ]);
  assert.match(r.stdout, /^applied 8 steps$/m);
  const first = /first-login password of bob: (\S+)/.exec(r.stdout);
  assert.ok(first, r.stdout);
  // The first-login password works: bob can log in with it.
  const login = await daemon.api().request<{ user: string }>('POST', '/v1/auth/tokens', { user: 'bob', password: first[1] });
  assert.equal(login.user, 'bob');
  const pool = await get<PoolView>('/v1/pools/lab');
  assert.equal(pool.warmSpares, 0);
  assert.equal(pool.currentVersion, 1);
  assert.deepEqual(pool.entitled, { users: [], groups: ['pupils'] });
  const groups = await get<GroupView[]>('/v1/groups');
  assert.deepEqual(groups.find((g) => g.name === 'staff')?.members, ['alice']);
  const alice = await get<UserView>('/v1/users/alice');
  assert.deepEqual(alice.roles, ['admin', 'user']);
  assert.equal((await get<ThinClientView>('/v1/thinclients/52:54:00:5e:00:01')).place, 'Room 1');
});

test('a second apply changes nothing and says so', async () => {
  const r = await daemon.cli(['apply', '-f', join(dir, 'site.yaml')]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'no change');
});

test('an edit: plan shows exactly the edit, apply makes it, then no change', async () => {
  const pools = [{ ...(site.pools as object[])[0], memoryMiB: 256, idleLogoffMinutes: 30 }];
  const users = [(site.users as object[])[0], { name: 'bob', groups: ['pupils', 'staff'], keyboardLayout: 'de' }];
  const edited = siteFile('edited.yaml', { ...site, pools, users });
  const plan = await daemon.cli(['plan', '-f', edited]);
  assert.equal(plan.code, 0, plan.stderr);
  assert.deepEqual(plan.stdout.trim().split('\n'), ['~ update user bob: groups ["pupils"] → ["pupils","staff"]', '~ update pool lab: memoryMiB 192 → 256, idleLogoffMinutes 0 → 30']);
  const r = await daemon.cli(['apply', '-f', edited]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await get<PoolView>('/v1/pools/lab')).memoryMiB, 256);
  assert.equal((await daemon.cli(['plan', '-f', edited])).stdout.trim(), 'no change');
});

test('export writes the site: its plan is no change, even with --prune, and it holds what was applied', async () => {
  const r = await daemon.cli(['export']);
  assert.equal(r.code, 0, r.stderr);
  const path = join(dir, 'exported.yaml');
  writeFileSync(path, r.stdout);
  assert.equal((await daemon.cli(['plan', '--prune', '-f', path])).stdout.trim(), 'no change');
  assert.match(r.stdout, /name: lab\n\s+image: bb/);
  assert.match(r.stdout, /idleLogoffMinutes: 30/);
  assert.match(r.stdout, /mac: 52:54:00:5e:00:01/);
  // The bind password only as the reference it was given as.
  assert.deepEqual(r.stdout.match(/password.*/gi), ['password: env:ARDESIA_DIRECTORY_SITE_TEST']);
});

test('a bad file: every problem listed at once with its path, nothing changed', async () => {
  const bad = siteFile('bad.yaml', {
    ...site,
    users: [{ name: 'carol', groups: ['nobody'], password: 'secret' }],
    pools: [{ name: 'lab', image: 'bb', warmSpares: 5, maxDesktops: 2 }],
    images: [{ name: 'bb', from: 'relative.raw' }],
    colour: 'blue',
  });
  const r = await daemon.cli(['apply', '-f', bad]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /site file .* has \d+ problems/);
  for (const path of ['users.0: Unrecognized key', 'users.0.groups.0: group nobody', 'pools.0.warmSpares:', 'images.0.from: an absolute path', 'images.0.sha256:', "Unrecognized key(s) in object: 'colour'"]) assert.ok(r.stderr.includes(path), `${path} missing from:\n${r.stderr}`);
  assert.equal((await get<UserView[]>('/v1/users')).some((u) => u.name === 'carol'), false);
});

test('a failure midway stops apply: it says what was done and what was not, and the done step stays whole', async () => {
  const doc = { ...site, groups: [...(site.groups as string[]), 'guests'], users: [...(site.users as object[]).slice(0, 1), { name: 'bob', groups: ['pupils', 'staff'], keyboardLayout: 'de' }, { name: 'anonymous' }, { name: 'dave' }] };
  const r = await daemon.cli(['apply', '-f', siteFile('fails.yaml', doc)]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /\[2\/4\] \+ create user anonymous: .* … FAILED: .*reserved/);
  assert.match(r.stderr, /apply stopped: 1 of 4 steps done \(create group guests\); not done: create user anonymous, create user dave, update pool lab$/m);
  const groups = await get<GroupView[]>('/v1/groups');
  assert.ok(groups.some((g) => g.name === 'guests'));
  assert.equal((await get<UserView[]>('/v1/users')).some((u) => u.name === 'dave'), false);
});

test('an image file whose sha256 is not the one named: refused before any step', async () => {
  const images = [...(site.images as object[]), { name: 'other', from: (site.images as Array<{ from: string }>)[0]!.from, format: 'raw', sha256: '0'.repeat(64) }];
  const r = await daemon.cli(['apply', '-f', siteFile('sha.yaml', { ...site, groups: [...(site.groups as string[]), 'late'], images })]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /image other: .* has sha256 [0-9a-f]{64}, the site file says 0{64}/);
  assert.equal((await get<GroupView[]>('/v1/groups')).some((g) => g.name === 'late'), false);
});

test('--prune: what the file leaves out is deleted only with it', async () => {
  const doc = { ...site, users: [(site.users as object[])[0]], groups: ['staff', 'pupils'], thinClients: [] };
  const path = siteFile('pruned.yaml', doc);
  const plain = await daemon.cli(['plan', '-f', path]);
  assert.doesNotMatch(plain.stdout, /delete/);
  const plan = await daemon.cli(['plan', '--prune', '-f', path]);
  assert.deepEqual(plan.stdout.trim().split('\n').filter((l) => l.startsWith('-')), ['- delete thin-client 52:54:00:5e:00:01', '- delete user bob', '- delete group guests']);
  const r = await daemon.cli(['apply', '--prune', '-f', path]);
  assert.equal(r.code, 0, r.stderr);
  const users = (await get<UserView[]>('/v1/users')).map((u) => u.name);
  assert.equal(users.includes('bob'), false);
  assert.equal((await get<ThinClientView[]>('/v1/thinclients')).length, 0);
  assert.equal((await daemon.cli(['apply', '--prune', '-f', path])).stdout.trim(), 'no change');
});

test("host labels: apply sets them before the pools; a host that has not joined is marked by plan and refused by apply", async () => {
  const [own] = await get<HostView[]>('/v1/hosts');
  const today = parse((await daemon.cli(['export'])).stdout) as Record<string, unknown>;
  assert.deepEqual(today.hosts, [{ name: own!.name, labels: [] }]);
  const path = siteFile('hosts.yaml', { ...today, hosts: [{ name: own!.name, labels: ['ssd', 'rack=a'] }] });
  assert.deepEqual((await daemon.cli(['plan', '-f', path])).stdout.trim().split('\n'), [`~ update host ${own!.name}: labels [] → ["rack=a","ssd"]`]);
  const r = await daemon.cli(['apply', '-f', path]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual((await get<HostView>(`/v1/hosts/${own!.name}`)).labels, ['rack=a', 'ssd']);
  assert.match((await daemon.cli(['export'])).stdout, new RegExp(`hosts:\\n  - name: ${own!.name}\\n    labels:\\n      - rack=a\\n      - ssd`));
  const unknown = siteFile('unknown-host.yaml', { ...today, hosts: [{ name: 'blade9', labels: ['ssd'] }] });
  assert.match((await daemon.cli(['plan', '-f', unknown])).stdout, /^! hosts\.blade9: no host blade9 has joined/m);
  const refused = await daemon.cli(['apply', '-f', unknown]);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /hosts\.blade9: no host blade9 has joined/);
});

test('netboot: apply starts it, a second plan has no change, export holds it, --prune without it stops it', async () => {
  // A daemon of its own in a namespace the test makes: its DHCP and TFTP servers are real and reach nothing outside.
  const lab = await NetLab.create('site');
  const host = await lab.addHost('srv', '10.250.16.1/24');
  const own = await TestDaemon.start({ netns: host });
  try {
    const today = parse((await own.cli(['export'])).stdout) as Record<string, unknown>;
    assert.equal(today.netboot, undefined);
    const netboot = { interfaces: [{ address: '10.250.16.1', mode: 'proxy', http: { port: 18080 } }] };
    const path = siteFile('netboot.yaml', { ...today, netboot });
    assert.deepEqual((await own.cli(['plan', '-f', path])).stdout.trim().split('\n'), ['+ create netboot netboot: interfaces=10.250.16.1 (proxy)']);
    const r = await own.cli(['apply', '-f', path]);
    assert.equal(r.code, 0, r.stderr);
    const status = await own.api().request<NetbootStatus>('GET', '/v1/netboot');
    assert.deepEqual([status.source, status.running], ['api', true]);
    assert.match((await lab.exec(host, 'ss', ['-uln'])).stdout, /10\.250\.16\.1:4011 /, 'the PXE proxy listens');
    assert.equal((await own.cli(['plan', '--prune', '-f', path])).stdout.trim(), 'no change');
    assert.match((await own.cli(['export'])).stdout, /netboot:\n  interfaces:\n    - address: 10\.250\.16\.1\n      mode: proxy/);
    const without = siteFile('no-netboot.yaml', today);
    assert.equal((await own.cli(['plan', '-f', without])).stdout.trim(), 'no change', 'left out: left as it is');
    assert.deepEqual((await own.cli(['plan', '--prune', '-f', without])).stdout.trim().split('\n'), ['- delete netboot netboot']);
    assert.equal((await own.cli(['apply', '--prune', '-f', without])).code, 0);
    assert.equal((await own.api().request<NetbootStatus>('GET', '/v1/netboot')).source, 'none');
  } finally {
    await own.destroy();
    await lab.destroy();
  }
});

test('what the site cannot take: plan marks it, apply refuses it before any step', async () => {
  const images = [{ ...(site.images as object[])[0], current: 5 }];
  const path = siteFile('conflict.yaml', { ...site, images, groups: [...(site.groups as string[]), 'never'] });
  const plan = await daemon.cli(['plan', '-f', path]);
  assert.equal(plan.code, 1);
  assert.match(plan.stdout, /^! images\.bb\.current: image bb has no version 5 \(it has 1\)$/m);
  const r = await daemon.cli(['apply', '-f', path]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /the site cannot take this file as it is \(nothing was changed\)/);
  assert.equal((await get<GroupView[]>('/v1/groups')).some((g) => g.name === 'never'), false);
});

test("apply goes through the API with the caller's rights: a user who is not an administrator is refused", async () => {
  const carol = await userClient(daemon, 'carol');
  const r = await daemon.cli(['apply', '-f', join(dir, 'site.yaml')], { env: { ARDESIA_TOKEN: carol.endpoint.token! } });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /administrator|admin/i);
});
