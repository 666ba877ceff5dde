// Table tests of the battery's pure parts: each invariant caught on a snapshot made to break it, none on a
// sound one; the seeded script is the same for the same seed and covers every operation.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ChaosSnapshot, findViolations, type Violation } from './invariants.js';
import { OPERATIONS, planChaos } from './plan.js';

const sound: ChaosSnapshot = {
  vms: [{ name: 'd1', desired: 'running', source: 'pool p' }, { name: 'd2', desired: 'stopped', source: 'pool p' }, { name: 'vm', desired: 'running', source: 'api' }, { name: 'maint-bb', desired: 'running', source: 'maintenance of image bb' }],
  poolDesktops: [
    { name: 'd1', pool: 'p', state: 'in-use', user: 'alice' },
    { name: 'd2', pool: 'p', state: 'stopped', user: null },
  ],
  pools: [{ name: 'p', maxDesktops: 2, persistent: false }],
  desktops: [],
  homes: [{ user: 'alice', leasedTo: 'd1' }, { user: 'bob', leasedTo: null }],
  maintenance: [{ image: 'bb', overlay: '/d/maintenance/bb/2.qcow2', vm: 'maint-bb' }],
  cloneDirs: ['d1', 'd2'],
  maintenanceFiles: ['/d/maintenance/bb/2.qcow2'],
  imageVersions: [{ image: 'bb', version: 1 }],
  versionFiles: [{ image: 'bb', version: 1 }],
  qemus: [{ pid: 10, vm: 'd1', homes: ['alice'] }, { pid: 11, vm: 'vm', homes: [] }, { pid: 12, vm: 'maint-bb', homes: [] }],
};

const kinds = (vs: Violation[]) => vs.map((v) => v.invariant).sort();

const CASES: Array<[string, (s: ChaosSnapshot) => ChaosSnapshot, Violation['invariant'][]]> = [
  ['a sound snapshot', (s) => s, []],
  ['a QEMU the store does not know', (s) => ({ ...s, qemus: [...s.qemus, { pid: 13, vm: 'ghost', homes: [] }] }), ['orphan-qemu']],
  ['one VM run twice', (s) => ({ ...s, qemus: [...s.qemus, { pid: 14, vm: 'vm', homes: [] }] }), ['duplicate-qemu']],
  ['a home open in two desktops', (s) => ({
    ...s, poolDesktops: s.poolDesktops.map((d) => (d.name === 'd2' ? { ...d, state: 'in-use' as const, user: 'bob' } : d)),
    qemus: [...s.qemus, { pid: 15, vm: 'd2', homes: ['alice'] }],
  }), ['home-lease', 'home-twice']],
  ['a lease to a desktop that does not exist', (s) => ({ ...s, homes: [{ user: 'alice', leasedTo: 'd1' }, { user: 'bob', leasedTo: 'gone' }] }), ['home-lease']],
  ['a clone folder without its desktop', (s) => ({ ...s, cloneDirs: [...s.cloneDirs, 'd9'] }), ['leaked-clone']],
  ['a desktop without its system disk', (s) => ({ ...s, cloneDirs: ['d1'] }), ['lost-desktop']],
  ['an in-use desktop without QEMU', (s) => ({ ...s, qemus: s.qemus.filter((q) => q.vm !== 'd1') }), ['store-vs-process']],
  ['a stopped desktop whose QEMU runs', (s) => ({ ...s, qemus: [...s.qemus, { pid: 16, vm: 'd2', homes: [] }] }), ['store-vs-process']],
  ['a maintenance overlay without its session', (s) => ({ ...s, maintenanceFiles: [...s.maintenanceFiles, '/d/maintenance/bb/3.qcow2'] }), ['leaked-overlay']],
  ['a maintenance VM left defined after its session ended', (s) => ({ ...s, maintenance: [], maintenanceFiles: [], qemus: s.qemus.filter((q) => q.vm !== 'maint-bb') }), ['leaked-maintenance-vm']],
  ['a VM its owner named maint-… is not a leftover', (s) => ({ ...s, vms: [...s.vms, { name: 'maint-xy', desired: 'stopped', source: 'cli' }] }), []],
  ['a version file written but never recorded', (s) => ({ ...s, versionFiles: [...s.versionFiles, { image: 'bb', version: 2 }] }), ['unrecorded-version']],
  ['two sessions of one user in a non-persistent pool', (s) => ({
    ...s, poolDesktops: s.poolDesktops.map((d) => (d.name === 'd2' ? { ...d, state: 'in-use' as const, user: 'alice' } : d)),
    qemus: [...s.qemus, { pid: 17, vm: 'd2', homes: [] }],
  }), ['duplicate-session']],
  ['more desktops than the pool allows', (s) => ({ ...s, pools: [{ name: 'p', maxDesktops: 1, persistent: false }] }), ['pool-size']],
];

for (const [name, make, expected] of CASES) {
  test(`invariants: ${name}`, () => {
    assert.deepEqual(kinds(findViolations(make(structuredClone(sound)))), [...expected].sort());
  });
}

test('the script: the same seed gives the same steps; every operation and some kills appear', () => {
  const opts = { seed: 42, operations: 200, users: 3, killEvery: 4, maxKillDelayMs: 4000, maxSpares: 2 };
  assert.deepEqual(planChaos(opts), planChaos(opts));
  assert.notDeepEqual(planChaos(opts), planChaos({ ...opts, seed: 43 }));
  const steps = planChaos(opts);
  assert.deepEqual(new Set(steps.map((s) => s.op)), new Set(OPERATIONS));
  const kills = steps.filter((s) => s.killAfterMs !== null).length;
  assert.ok(kills > 20 && kills < 100, `${kills} kills for 200 operations at one in four`);
  assert.ok(steps.every((s) => s.user >= 0 && s.user < 3 && s.spares >= 0 && s.spares <= 2));
});
