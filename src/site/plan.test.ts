import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HostView } from '../contract/hosts.js';
import type { NetbootStatus } from '../contract/netboot.js';
import type { ImageInfo } from '../contract/images.js';
import type { PoolView } from '../contract/pools.js';
import type { UserView } from '../contract/users.js';
import { siteExport } from './export.js';
import { sitePlan, stepText } from './plan.js';
import { type SiteFile, SiteFileSchema } from './schema.js';
import type { SiteState } from './state.js';

const SHA = 'a'.repeat(64);
const NO_NETBOOT: NetbootStatus = { source: 'none', file: null, config: null, running: false, error: null };
const site = (doc: unknown): SiteFile => SiteFileSchema.parse(doc);
const empty: SiteState = { settings: { adminsMustUseMfa: false }, groups: [], users: [], directorySources: [], images: [], hosts: [], pools: [], thinClients: [], netboot: NO_NETBOOT, self: null };

const doc = {
  images: [{ name: 'deb', from: '/srv/deb.raw', format: 'raw', sha256: SHA }],
  groups: ['staff'],
  users: [{ name: 'alice', groups: ['staff'] }],
  pools: [{ name: 'lab', image: 'deb', warmSpares: 0, entitled: { groups: ['staff'] } }],
  thinClients: [{ mac: '52:54:00:00:00:01', pool: 'lab' }],
  settings: { adminsMustUseMfa: true },
};

function userView(u: Partial<UserView> & { name: string }): UserView {
  return { fullName: '', roles: ['user'], groups: [], admin: false, disabled: false, keyboardLayout: 'us', createdAt: 't', lastLoginAt: null, directory: null, mfaEnabled: false, kiosk: false, ...u };
}

function hostView(name: string, labels: string[], labelsFrom: HostView['labelsFrom']): HostView {
  const capacity = { memoryMiB: 8192, vcpus: 4, memoryOvercommit: 1.5, cpuOvercommit: 16 };
  return { name, state: 'up', stateReason: null, labels, labelsFrom, capacity, used: { memoryMiB: 0, vcpus: 0, runningVms: 0, desktopsInSession: 0, spares: 0 }, heartbeatAt: 't', controller: false, storage: 'shared', ksm: null, agent: null, qemu: null, qemuMismatch: null };
}

/** The state an apply of `s` leaves: what the API then shows. */
function stateAfter(s: SiteFile): SiteState {
  const images: ImageInfo[] = s.images.map((i) => ({
    name: i.name, boot: { arch: 'amd64', firmware: 'bios', memoryMiB: 512, kernel: null, initrd: null, cmdline: null }, currentVersion: 1,
    versions: [{ image: i.name, version: 1, sha256: SHA, backingVersion: null, depth: 1, virtualSize: 1, path: `/d/images/${i.name}/1.qcow2`, createdAt: 't', createdBy: 'root', current: true }],
    maintenance: null, desktops: [], createdAt: 't', createdBy: 'root',
  }));
  const pools = s.pools.map((p) => ({ ...p, currentVersion: 1, counts: { total: 0, byState: {}, byVersion: {} }, pendingAtLogoff: [], cannotPlace: null, schedule: null, template: null }) as PoolView);
  return {
    settings: { adminsMustUseMfa: s.settings.adminsMustUseMfa ?? false },
    groups: s.groups.map((name) => ({ name, members: s.users.filter((u) => u.groups.includes(name)).map((u) => u.name) })),
    users: s.users.map((u) => userView({ ...u, roles: ['user', ...u.roles] })),
    directorySources: [],
    images,
    hosts: s.hosts.map((h) => hostView(h.name, h.labels, 'api')),
    netboot: s.netboot ? { source: 'api', file: null, config: s.netboot, running: true, error: null } : NO_NETBOOT,
    pools,
    thinClients: s.thinClients.map((t) => ({ mac: t.mac, name: t.name ?? null, place: t.place ?? null, pool: t.pool ?? null, state: t.state ?? 'enabled', keyboardLayout: t.keyboardLayout ?? null, resolution: t.resolution ?? null, bootParams: t.bootParams ?? null, lastSeenAt: null, lastIp: null, bootCount: 0, currentUser: null, kioskUser: t.kioskUser ?? null })),
    self: null,
  };
}

test('from nothing: groups, users, images, pools, thin clients, then settings, in that order', () => {
  const plan = sitePlan(site(doc), empty, { prune: false });
  assert.deepEqual(plan.conflicts, []);
  assert.deepEqual(plan.steps.map((s) => `${s.action} ${s.resource} ${s.name}`), ['create group staff', 'create user alice', 'create image deb', 'create pool lab', 'create thin-client 52:54:00:00:00:01', 'update settings site']);
  const image = plan.steps[2]!;
  assert.deepEqual(image.call.sha256Check, { file: '/srv/deb.raw', sha256: SHA });
  assert.equal(image.call.operation, true);
  assert.deepEqual(plan.steps[1]!.call.body, { name: 'alice', fullName: '', roles: ['user'], groups: ['staff'], keyboardLayout: 'us', kiosk: false });
});

test('a second plan after the apply has no step', () => {
  const s = site(doc);
  assert.deepEqual(sitePlan(s, stateAfter(s), { prune: true }).steps, []);
});

test('an edit plans exactly the changed fields as one update', () => {
  const before = site(doc);
  const edited = site({ ...doc, pools: [{ ...doc.pools[0], memoryMiB: 512, userReset: true }], users: [{ name: 'alice', groups: ['staff'], fullName: 'Alice A' }] });
  const plan = sitePlan(edited, stateAfter(before), { prune: false });
  assert.deepEqual(plan.steps.map(stepText), ['~ update user alice: fullName "" → Alice A', '~ update pool lab: memoryMiB 1024 → 512, userReset false → true']);
  assert.deepEqual(plan.steps[1]!.call, { method: 'PATCH', path: '/v1/pools/lab', body: { memoryMiB: 512, userReset: true } });
});

test('deletes only with prune, in reverse order of dependency', () => {
  const now = stateAfter(site(doc));
  const without = site({ images: [], groups: [], users: [], pools: [], thinClients: [] });
  assert.deepEqual(sitePlan(without, now, { prune: false }).steps, []); // settings the file leaves unsaid stay as they are
  const prune = sitePlan(site({}), now, { prune: true });
  assert.deepEqual(prune.steps.map((s) => `${s.action} ${s.resource} ${s.name}`), ['delete thin-client 52:54:00:00:00:01', 'delete pool lab', 'delete image deb', 'delete user alice', 'delete group staff']);
});

test('prune keeps directory users, the caller and images being installed', () => {
  const now = { ...empty, self: 'admin1', users: [userView({ name: 'admin1', roles: ['admin', 'user'] }), userView({ name: 'jdoe', directory: { source: 'ad', login: 'jdoe' } })], images: [{ ...stateAfter(site(doc)).images[0]!, currentVersion: null, versions: [] }] };
  const plan = sitePlan(site({}), now, { prune: true });
  assert.deepEqual(plan.steps, []);
  assert.equal(plan.notes.length, 3);
});

test('conflicts: a directory user named in the file, a version an image lacks', () => {
  const now = { ...stateAfter(site(doc)), users: [userView({ name: 'alice', directory: { source: 'ad', login: 'alice' } })] };
  const plan = sitePlan(site({ ...doc, images: [{ ...doc.images[0], current: 3 }] }), now, { prune: false });
  assert.equal(plan.conflicts.length, 2);
  assert.match(plan.conflicts.join('\n'), /users\.alice: .*directory source ad/);
  assert.match(plan.conflicts.join('\n'), /images\.deb\.current: image deb has no version 3 \(it has 1\)/);
});

test('a user made disabled is made, then disabled, as two steps', () => {
  const plan = sitePlan(site({ users: [{ name: 'bob', disabled: true }] }), empty, { prune: false });
  assert.deepEqual(plan.steps.map(stepText), ['+ create user bob: fullName="", roles=["user"], groups=[], keyboardLayout=us, kiosk=false', '~ update user bob: disabled false → true']);
});

test('an export of a site plans no change, even with prune', () => {
  const now = stateAfter(site(doc));
  const exported = site(siteExport(now));
  assert.deepEqual(sitePlan(exported, now, { prune: true }).steps, []);
  assert.equal(exported.images[0]!.from, '/d/images/deb/1.qcow2');
});

test("an image's boot profile is fixed when it is made: a difference is a note, never a step", () => {
  const s = site(doc);
  const edited = site({ ...doc, images: [{ ...doc.images[0], boot: { memoryMiB: 1024, kernel: '/elsewhere/vmlinuz' } }] });
  const plan = sitePlan(edited, stateAfter(s), { prune: false });
  assert.deepEqual(plan.steps, []);
  assert.match(plan.notes.join('\n'), /^image deb: its boot profile differs from the file's \(.*"memoryMiB":512.*\); it is fixed when an image is made/m);
  const kernelOnly = site({ ...doc, images: [{ ...doc.images[0], boot: { kernel: '/elsewhere/vmlinuz' } }] });
  assert.deepEqual(sitePlan(kernelOnly, stateAfter(s), { prune: false }).notes, []);
});

test('host labels: set after images and before pools; unknown hosts and labels set by serve are conflicts; never pruned', () => {
  const have = { ...empty, hosts: [hostView('b1', ['ssd'], 'api'), hostView('b2', [], 'api'), hostView('b3', ['rack=a'], 'serve'), hostView('b4', [], 'api')] };
  const file = site({ ...doc, hosts: [{ name: 'b1', labels: ['ssd'] }, { name: 'b2', labels: ['gpu', 'ssd'] }, { name: 'b3', labels: ['rack=b'] }, { name: 'b9', labels: ['ssd'] }] });
  const plan = sitePlan(file, have, { prune: true });
  assert.deepEqual(plan.conflicts, [
    'hosts.b3.labels: that host\'s serve --host-label options set them (rack=a); change them there, or remove the options and restart its daemon',
    'hosts.b9: no host b9 has joined; a host joins when its daemon starts (ardesia serve --host-name b9)',
  ]);
  const hostSteps = plan.steps.filter((s) => s.resource === 'host');
  assert.deepEqual(hostSteps.map((s) => [s.action, s.name, s.call]), [['update', 'b2', { method: 'PUT', path: '/v1/hosts/b2/labels', body: { labels: ['gpu', 'ssd'] } }]]);
  const order = plan.steps.map((s) => s.resource);
  assert.ok(order.lastIndexOf('image') < order.indexOf('host') && order.indexOf('host') < order.indexOf('pool'), order.join(' '));
  assert.ok(!plan.steps.some((s) => s.resource === 'host' && s.action === 'delete'));
  assert.ok(plan.notes.includes('host b4 is kept: hosts leave with `ardesia host remove`, never by the site file'));
  assert.equal(stepText(hostSteps[0]!), '~ update host b2: labels [] → ["gpu","ssd"]');
});

test('netboot: one whole setting after the thin clients; compared, not set, when --netboot sets it; deleted only with prune', () => {
  const netboot = { interfaces: [{ address: '10.250.0.1', mode: 'full', ranges: [{ start: '10.250.0.100', end: '10.250.0.199' }] }] };
  const file = site({ ...doc, netboot });
  const plan = sitePlan(file, empty, { prune: false });
  const last = plan.steps.filter((s) => s.resource !== 'settings').at(-1)!;
  assert.deepEqual([last.resource, last.action, last.call.method, last.call.path], ['netboot', 'create', 'PUT', '/v1/netboot']);
  assert.equal(stepText(last), '+ create netboot netboot: interfaces=10.250.0.1 (full)');
  assert.deepEqual(sitePlan(file, stateAfter(file), { prune: true }).steps, [], 'defaults filled on both sides: no change');
  const fromServe = { ...stateAfter(file), netboot: { source: 'serve' as const, file: '/etc/ardesia/netboot.yaml', config: { ...file.netboot!, ipxeDir: '/srv/ipxe' }, running: true, error: null } };
  const refused = sitePlan(file, fromServe, { prune: true });
  assert.deepEqual(refused.steps, []);
  assert.deepEqual(refused.conflicts, ["netboot: the daemon's --netboot /etc/ardesia/netboot.yaml sets it; edit that file, or remove the option and restart the daemon to set it here"]);
  const without = site(doc);
  assert.deepEqual(sitePlan(without, stateAfter(file), { prune: false }).steps, []);
  assert.deepEqual(sitePlan(without, stateAfter(file), { prune: true }).steps.map((s) => [s.resource, s.action, s.call.method]), [['netboot', 'delete', 'DELETE']]);
  assert.deepEqual(sitePlan(without, fromServe, { prune: true }).steps, [], 'a --netboot file is never pruned');
  assert.deepEqual(siteExport(stateAfter(file)).netboot, file.netboot);
});
