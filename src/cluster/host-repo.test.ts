import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HOST_SILENT_AFTER_MS } from './host-liveness.js';
import type { HostLoad } from './placement.js';
import { agentReady, agentViewOf, hostLoadsOf, hostStateNow, hostViewOf, type HostsSnapshot } from './host-repo.js';

const NOW = Date.parse('2026-12-04T06:00:00.000Z');
const ago = (ms: number) => new Date(NOW - ms).toISOString();

const CASES: Array<[string, string, number, string]> = [
  ['up with a fresh heartbeat', 'up', 1_000, 'up'],
  ['draining stays draining', 'draining', 1_000, 'draining'],
  ['maintenance stays maintenance', 'maintenance', 0, 'maintenance'],
  ['exactly at the limit: still up', 'up', HOST_SILENT_AFTER_MS, 'up'],
  ['silent past the limit, no storage lease known: suspect', 'up', HOST_SILENT_AFTER_MS + 1, 'suspect'],
  ['silent past the limit, its storage lease expired: down', 'up', HOST_SILENT_AFTER_MS + 1, 'down'],
  ['silent draining host, its storage lease still renewed: suspect', 'draining', 5 * HOST_SILENT_AFTER_MS, 'suspect'],
];
const STORAGE = new Map([['b2', 'expired' as const], ['b3', 'renewing' as const]]);
for (const [name, state, silentMs, expected] of CASES) {
  const host = name.includes('expired') ? 'b2' : name.includes('still renewed') ? 'b3' : 'b4';
  test(`host state now: ${name}`, () => assert.equal(hostStateNow({ name: host, state, heartbeat_at: ago(silentMs) }, NOW, 'b1', STORAGE), expected));
}

test("the controller's own host is never judged down by its heartbeat: it is the one asking", () => {
  assert.equal(hostStateNow({ name: 'b1', state: 'up', heartbeat_at: ago(10 * HOST_SILENT_AFTER_MS) }, NOW, 'b1'), 'up');
  assert.equal(hostStateNow({ name: 'b1', state: 'draining', heartbeat_at: ago(10 * HOST_SILENT_AFTER_MS) }, NOW, 'b1'), 'draining');
});

test('loads from a snapshot: usage and per-pool counts by host; a host with nothing has zeros', () => {
  const row = (name: string) => ({ name, state: 'up', labels: '["ssd"]', labels_from: 'serve', memory_mib: 8192, vcpus: 4, memory_overcommit: 1.5, cpu_overcommit: 16, heartbeat_at: ago(0), agent_credential_sha256: null, cert_fingerprint: null, agent_report: null, agent_linked_at: null, created_at: ago(0), updated_at: ago(0) });
  const snap: HostsSnapshot = {
    rows: [row('a'), row('b')],
    usage: new Map([['a', { memoryMiB: 1024, vcpus: 2, runningVms: 2, desktopsInSession: 1, spares: 1 }]]),
    poolDesktops: new Map([['a', { lab: 2 }]]),
  };
  const [a, b] = hostLoadsOf(snap, NOW);
  assert.deepEqual(a, { name: 'a', state: 'up', labels: ['ssd'], memoryMiB: 8192, vcpus: 4, memoryOvercommit: 1.5, cpuOvercommit: 16, usedMiB: 1024, usedVcpus: 2, poolDesktops: { lab: 2 }, storage: 'shared' });
  assert.equal(b!.usedMiB, 0);
  assert.deepEqual(b!.poolDesktops, {});
  // A host joined by a remote agent takes plain VMs only: desktops need their display through the agent, not there yet.
  const remote = { ...row('c'), agent_credential_sha256: 'ab'.repeat(32), agent_report: '{}', agent_linked_at: ago(0) };
  assert.deepEqual(hostLoadsOf({ ...snap, rows: [row('a'), remote] }, NOW).map((l) => l.name), ['a']);
  assert.deepEqual(hostLoadsOf({ ...snap, rows: [row('a'), remote] }, NOW, undefined, undefined, true).map((l) => l.name), ['a', 'c']);
  // Its storage as its agent's hello said: shared unless it said local (agents before protocol 7 said nothing).
  const local = { ...remote, name: 'd', agent_report: '{"storage":"local"}' };
  assert.deepEqual(hostLoadsOf({ ...snap, rows: [row('a'), remote, local] }, NOW, undefined, undefined, true).map((l) => l.storage), ['shared', 'shared', 'local']);
  // Its QEMU as its hello said (placement's fit for a template's clone); not known without a report that says it.
  const reported = { ...remote, name: 'e', agent_report: '{"qemuVersion":"7.2.22","accel":"kvm"}' };
  assert.deepEqual(hostLoadsOf({ ...snap, rows: [row('a'), remote, reported] }, NOW, undefined, undefined, true).map((l) => l.qemu), [undefined, undefined, { version: '7.2.22', accel: 'kvm' }]);
});

test("a host's view: the controller's QEMU from its host check, an agent's from its hello, flagged when it differs", () => {
  const row = (name: string, report: string | null) => ({ name, state: 'up', labels: '[]', labels_from: 'api', memory_mib: 8192, vcpus: 4, memory_overcommit: 1.5, cpu_overcommit: 16, heartbeat_at: ago(0), agent_credential_sha256: report === null ? null : 'ab'.repeat(32), cert_fingerprint: null, agent_report: report, agent_linked_at: ago(0), created_at: ago(0), updated_at: ago(0) });
  const rows = [row('ctl', null), row('same', '{"qemuVersion":"7.2.22","accel":"tcg"}'), row('newer', '{"qemuVersion":"8.0.0","accel":"tcg"}'), row('silent', '{}')];
  const snap: HostsSnapshot = { rows, usage: new Map(), poolDesktops: new Map() };
  const own = { version: '7.2.22', accel: 'tcg' as const };
  const views = rows.map((r) => hostViewOf(r, snap, 'ctl', NOW, null, undefined, own));
  assert.deepEqual(views.map((v) => v.qemu), [own, own, { version: '8.0.0', accel: 'tcg' }, null]);
  assert.deepEqual(views.map((v) => v.qemuMismatch === null), [true, true, false, true]);
  assert.match(views[2]!.qemuMismatch!, /^runs QEMU 8\.0\.0 \(the controller's: 7\.2\.22\)/);
  // Without the controller's own (a view built before its host check answered), nothing is flagged.
  assert.equal(hostViewOf(rows[2]!, snap, 'ctl', NOW).qemuMismatch, null);
});

test("an agent is ready once it heartbeats on its current link: linked but silent since (joining the lockspace) it takes nothing", () => {
  const remote = (heartbeatAt: string, linkedAt: string | null) => ({ name: 'c', state: 'up', labels: '[]', labels_from: 'api', memory_mib: 8192, vcpus: 4, memory_overcommit: 1.5, cpu_overcommit: 16, heartbeat_at: heartbeatAt, agent_credential_sha256: 'ab'.repeat(32), cert_fingerprint: null, agent_report: '{}', agent_linked_at: linkedAt, created_at: ago(0), updated_at: ago(0) });
  const snap = (row: ReturnType<typeof remote>): HostsSnapshot => ({ rows: [row], usage: new Map(), poolDesktops: new Map() });
  const CASES: Array<[string, ReturnType<typeof remote>, { linked: boolean; ready: boolean }, Partial<HostLoad>]> = [
    ['never linked', remote(ago(1000), null), { linked: false, ready: false }, { agentUnlinked: true }],
    ['linked 2 s ago, last heartbeat from its previous link', remote(ago(3000), ago(2000)), { linked: true, ready: false }, { agentNotReady: true }],
    ['linked, then a heartbeat on the link', remote(ago(1000), ago(2000)), { linked: true, ready: true }, {}],
    ['a heartbeat in the same millisecond as the hello', remote(ago(2000), ago(2000)), { linked: true, ready: true }, {}],
  ];
  for (const [name, row, view, flags] of CASES) {
    const agent = agentViewOf(row)!;
    assert.deepEqual({ linked: agent.linked, ready: agent.ready }, view, name);
    assert.equal(agentReady(row), view.ready, name);
    const [load] = hostLoadsOf(snap(row), NOW, undefined, undefined, true);
    assert.equal(load!.agentUnlinked, flags.agentUnlinked, name);
    assert.equal(load!.agentNotReady, flags.agentNotReady, name);
  }
});
