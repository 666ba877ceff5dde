import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type HostLoad, type PlacementNeed, hostFreeMiB, hostFreeVcpus, hostMemoryLimitMiB, hostReserveMiB, placeDesktop, placeStateSavedOn, desktopsThatFit, qemuMismatchWithController, templateUnfitOn } from './placement.js';

const h = (name: string, over: Partial<HostLoad> = {}): HostLoad => ({
  name,
  state: 'up',
  labels: [],
  vcpus: 4,
  memoryMiB: 8192,
  memoryOvercommit: 1,
  cpuOvercommit: 4,
  usedMiB: 0,
  usedVcpus: 0,
  poolDesktops: {},
  ...over,
});
const need = (over: Partial<PlacementNeed> = {}): PlacementNeed => ({ memoryMiB: 1024, vcpus: 1, ...over });
const placed = (hosts: HostLoad[], n: PlacementNeed): string => {
  const p = placeDesktop(hosts, n);
  return p.kind === 'host' ? p.host : p.code;
};

const QEMU = { version: '7.2.22 (Debian 1:7.2+dfsg-7+deb12u18)', accel: 'tcg' as const };
const OLD_QEMU = { ...QEMU, version: '7.2.19 (Debian 1:7.2+dfsg-7+deb12u16)' };
const TEMPLATE = { qemuVersion: QEMU.version, accel: 'tcg' as const };

const CASES: Array<[string, HostLoad[], PlacementNeed, string]> = [
  ['one host up', [h('a')], need(), 'a'],
  ["an agent's host whose agent has no link is skipped, however free", [h('a', { agentUnlinked: true }), h('b', { usedMiB: 6000 })], need(), 'b'],
  ['only unlinked agents: no host up', [h('a', { agentUnlinked: true })], need(), 'PLACEMENT_NO_HOST_UP'],
  ["an agent's host linked but not heartbeating yet (joining the lockspace) is skipped, however free", [h('a', { agentNotReady: true }), h('b', { usedMiB: 6000 })], need(), 'b'],
  ['only agents not ready: no host up', [h('a', { agentNotReady: true })], need(), 'PLACEMENT_NO_HOST_UP'],
  ['draining, maintenance and down hosts are skipped', [h('a', { state: 'draining' }), h('b', { state: 'down' }), h('m', { state: 'maintenance' }), h('c', { usedMiB: 6000 })], need(), 'c'],
  ['least memory used first', [h('a', { usedMiB: 4096 }), h('b', { usedMiB: 1024 })], need(), 'b'],
  ['share of memory, not MiB: the bigger host wins', [h('a', { usedMiB: 2048 }), h('b', { memoryMiB: 32768, usedMiB: 4096 })], need(), 'b'],
  ['same memory load: fewer vCPUs promised per limit', [h('a', { usedVcpus: 6 }), h('b', { usedVcpus: 2 })], need(), 'b'],
  ['same vCPUs, more CPUs wins', [h('a', { usedVcpus: 4 }), h('b', { usedVcpus: 4, vcpus: 16 })], need(), 'b'],
  ['complete tie: by name, whatever the order', [h('b'), h('a')], need(), 'a'],
  ['the host reserve is kept: 8192 - 820 reserved - 6400 used leaves 972', [h('a', { usedMiB: 6400 })], need(), 'PLACEMENT_NO_CAPACITY'],
  ['exactly fitting is fine', [h('a', { usedMiB: 6348 })], need(), 'a'],
  ['memory overcommit 1.5 makes room: limit 11058', [h('a', { usedMiB: 9000, memoryOvercommit: 1.5 })], need(), 'a'],
  ['memory overcommit 1.5, still full', [h('a', { usedMiB: 10100, memoryOvercommit: 1.5 })], need(), 'PLACEMENT_NO_CAPACITY'],
  ['vCPUs short: 4 × 4 = 16, 15 used, 2 needed', [h('a', { usedVcpus: 15 })], need({ vcpus: 2 }), 'PLACEMENT_NO_VCPUS'],
  ['vCPUs exactly fitting', [h('a', { usedVcpus: 14 })], need({ vcpus: 2 }), 'a'],
  ['no overcommit of vCPUs: ratio 1', [h('a', { cpuOvercommit: 1, usedVcpus: 4 })], need(), 'PLACEMENT_NO_VCPUS'],
  ['a fitting host over an emptier but too small one', [h('small', { memoryMiB: 1024 }), h('big', { usedMiB: 5000 })], need(), 'big'],
  ['a pool spreads: the host with fewer of its desktops, though busier', [h('a', { poolDesktops: { p: 3 } }), h('b', { usedMiB: 5000, poolDesktops: { p: 1, q: 9 } })], need({ pool: 'p' }), 'b'],
  ["another pool's desktops do not count for spread", [h('a', { poolDesktops: { q: 5 } }), h('b', { usedMiB: 3000 })], need({ pool: 'p' }), 'a'],
  ['a VM outside pools ignores spread', [h('a', { poolDesktops: { p: 5 } }), h('b', { usedMiB: 3000 })], need(), 'a'],
  ['required label', [h('a'), h('b', { labels: ['ssd'], usedMiB: 5000 })], need({ requireLabels: ['ssd'] }), 'b'],
  ['every required label', [h('a', { labels: ['ssd'] }), h('b', { labels: ['ssd', 'rack=b'], usedMiB: 5000 })], need({ requireLabels: ['ssd', 'rack=b'] }), 'b'],
  ['avoided label', [h('a', { labels: ['gpu'] }), h('b', { usedMiB: 5000 })], need({ avoidLabels: ['gpu'] }), 'b'],
  ['no host with the label', [h('a'), h('b')], need({ requireLabels: ['ssd'] }), 'PLACEMENT_NO_LABELED_HOST'],
  ['labelled host full says memory, not labels', [h('a'), h('b', { labels: ['ssd'], usedMiB: 7000 })], need({ requireLabels: ['ssd'] }), 'PLACEMENT_NO_CAPACITY'],
  ['the only host draining', [h('a', { state: 'draining' })], need(), 'PLACEMENT_NO_HOST_UP'],
  ['no host up', [h('a', { state: 'down' })], need(), 'PLACEMENT_NO_HOST_UP'],
  ['no host at all', [], need(), 'PLACEMENT_NO_HOST_UP'],
  ['a host with local storage takes a desktop that keeps nothing on the shared folder', [h('a', { storage: 'local' }), h('b', { usedMiB: 5000 })], need(), 'a'],
  ['a home volume passes over local storage, however free', [h('a', { storage: 'local' }), h('b', { usedMiB: 5000 })], need({ sharedStorage: 'a home volume' }), 'b'],
  ['only local storage: refused for the home volume', [h('a', { storage: 'local' })], need({ sharedStorage: 'a home volume' }), 'PLACEMENT_NO_SHARED_STORAGE'],
  // A restore template's clone: the hosts whose QEMU can load it come first at equal spread, never at the cost of spread.
  ['a clone goes to the host that runs its QEMU, though busier', [h('a', { qemu: OLD_QEMU }), h('b', { qemu: QEMU, usedMiB: 5000 })], need({ restoreFrom: TEMPLATE }), 'b'],
  ['a clone passes over a host without KVM', [h('a', { qemu: { ...QEMU, accel: 'tcg' } }), h('b', { qemu: { ...QEMU, accel: 'kvm' }, usedMiB: 5000 })], need({ restoreFrom: { ...TEMPLATE, accel: 'kvm' } }), 'b'],
  ['a host whose QEMU is not known is taken as fitting (its agent checks at launch)', [h('a'), h('b', { qemu: QEMU, usedMiB: 5000 })], need({ restoreFrom: TEMPLATE }), 'a'],
  ["a pool's spread comes before the template's fit", [h('a', { qemu: QEMU, poolDesktops: { p: 2 } }), h('b', { qemu: OLD_QEMU, poolDesktops: { p: 1 } })], need({ pool: 'p', restoreFrom: TEMPLATE }), 'b'],
  ['only unfit hosts: placed all the same (it boots there)', [h('a', { qemu: OLD_QEMU })], need({ restoreFrom: TEMPLATE }), 'a'],
  ['a clone that asks for TCG fits a KVM host whose QEMU is the same', [h('a', { qemu: { ...QEMU, accel: 'kvm' }, usedMiB: 5000 }), h('b', { qemu: OLD_QEMU })], need({ restoreFrom: { ...TEMPLATE, vmAccel: 'tcg' } }), 'a'],
  ['a boot ignores QEMU builds', [h('a', { qemu: OLD_QEMU }), h('b', { qemu: QEMU, usedMiB: 5000 })], need(), 'a'],
  ['a shared host that is full says memory, not storage', [h('a', { storage: 'local' }), h('b', { usedMiB: 7000 })], need({ sharedStorage: 'a home volume' }), 'PLACEMENT_NO_CAPACITY'],
];

test('placement: the refusal for local storage names the host and what needs the shared folder', () => {
  const p = placeDesktop([h('blade4', { storage: 'local' })], need({ pool: 'office', sharedStorage: 'its home volume' }));
  assert.equal(p.kind, 'refuse');
  assert.match(p.kind === 'refuse' ? p.message : '', /blade4 does not mount the shared data folder \(agent --storage local\), which its home volume needs/);
});

for (const [name, hosts, n, expected] of CASES) {
  test(`placement: ${name}`, () => {
    assert.equal(placed(hosts, n), expected);
    assert.equal(placed([...hosts].reverse(), n), expected, 'independent of input order');
  });
}

test('a refusal names each host and what is short there', () => {
  const p = placeDesktop([h('b1', { state: 'draining' }), h('b2', { usedMiB: 7000 }), h('b3', { usedVcpus: 16 }), h('b4')], need({ pool: 'lab', requireLabels: ['x'] }));
  assert.equal(p.kind, 'refuse');
  assert.equal(p.kind === 'refuse' && p.code, 'PLACEMENT_NO_LABELED_HOST');
  const q = placeDesktop([h('b1', { state: 'draining' }), h('b2', { usedMiB: 7000 }), h('b3', { usedVcpus: 16 })], need({ pool: 'lab' }));
  assert.ok(q.kind === 'refuse');
  assert.equal(q.code, 'PLACEMENT_NO_CAPACITY');
  assert.match(q.message, /a desktop of pool lab \(1024 MiB, 1 vCPU\)/);
  assert.match(q.message, /b1 is draining/);
  assert.match(q.message, /b2 has 372 MiB of memory free of 7372 \(1024 needed\)/);
  assert.match(q.message, /b3 has 0 vCPUs free of 16 \(1 needed\)/);
});

test('reserve, limits and free amounts', () => {
  assert.equal(hostReserveMiB(h('a', { memoryMiB: 2048 })), 512);
  assert.equal(hostReserveMiB(h('a', { memoryMiB: 65536 })), 6554);
  assert.equal(hostMemoryLimitMiB(h('a', { memoryOvercommit: 2 })), 14744);
  assert.equal(hostFreeMiB(h('a', { usedMiB: 7372 })), 0);
  assert.equal(hostFreeMiB(h('a', { usedMiB: 9000 })), 0, 'never negative');
  assert.equal(hostFreeVcpus(h('a', { usedVcpus: 20 })), 0);
  assert.equal(hostFreeVcpus(h('a', { cpuOvercommit: 2.5 })), 10);
});

// 8192 MiB less an 820 MiB reserve = 7372 MiB for guests; 4 vCPUs × 4 = 16.
const FITS: Array<[string, HostLoad[], PlacementNeed, number]> = [
  ['memory bounds one host', [h('a')], need(), 7],
  ['vCPUs bound it', [h('a')], need({ memoryMiB: 256, vcpus: 4 }), 4],
  ['the pool’s running desktops count, and what still fits', [h('a', { usedMiB: 3072, usedVcpus: 3, poolDesktops: { p: 3 } })], need({ pool: 'p' }), 7],
  ['other VMs take their share', [h('a', { usedMiB: 3072, usedVcpus: 3, poolDesktops: { q: 3 } })], need({ pool: 'p' }), 4],
  ['hosts add up; a drained one and one without the label do not', [h('a'), h('b'), h('c', { state: 'draining' }), h('d', { labels: ['gpu'] })], need({ avoidLabels: ['gpu'] }), 14],
  ['no host', [], need(), 0],
];
for (const [name, hosts, n, want] of FITS) test(`desktopsThatFit: ${name}`, () => assert.equal(desktopsThatFit(hosts, n), want));

test("why a host's QEMU cannot load a template: its build, its accelerator, or both; nothing when it fits or is not known", () => {
  assert.equal(templateUnfitOn(h('a', { qemu: QEMU }), { restoreFrom: TEMPLATE }), null);
  assert.equal(templateUnfitOn(h('a'), { restoreFrom: TEMPLATE }), null);
  assert.equal(templateUnfitOn(h('a', { qemu: OLD_QEMU }), {}), null);
  assert.equal(templateUnfitOn(h('a2', { qemu: OLD_QEMU }), { restoreFrom: TEMPLATE }), `host a2 runs QEMU ${OLD_QEMU.version} (the template's: ${QEMU.version})`);
  assert.equal(templateUnfitOn(h('a2', { qemu: { ...QEMU, accel: 'kvm' } }), { restoreFrom: { ...TEMPLATE, vmAccel: 'tcg' } }), null);
  assert.equal(templateUnfitOn(h('a2', { qemu: { version: null, accel: 'kvm' } }), { restoreFrom: TEMPLATE }), `host a2 runs QEMU of an unknown version (the template's: ${QEMU.version}) and KVM (the template's: TCG)`);
});

const AFRESH = "restore templates cannot load here, so restore pools' desktops boot afresh on this host";
const MISMATCHES: Array<[string, HostLoad['qemu'] | null, HostLoad['qemu'] | null, string | null]> = [
  ['the same build and accelerator', QEMU, QEMU, null],
  ["the host's QEMU not known yet", null, QEMU, null],
  ["the controller's QEMU missing", OLD_QEMU, { version: null, accel: 'tcg' }, null],
  ['another build', OLD_QEMU, QEMU, `runs QEMU ${OLD_QEMU.version} (the controller's: ${QEMU.version}): ${AFRESH}`],
  ['KVM where the controller has TCG', { ...QEMU, accel: 'kvm' }, QEMU, `runs KVM (the controller's: TCG): ${AFRESH}`],
  ['no QEMU on the host', { version: null, accel: 'tcg' }, QEMU, `runs QEMU of an unknown version (the controller's: ${QEMU.version}): ${AFRESH}`],
];
for (const [name, host, controller, want] of MISMATCHES) test(`a host's QEMU against the controller's: ${name}`, () => assert.equal(qemuMismatchWithController(host ?? null, controller ?? null), want));

const SAVED = { qemuVersion: QEMU.version, accel: 'tcg' as const, vmAccel: 'auto' as const };
const FULL = { usedMiB: 7000 };
const SAVED_CASES: Array<[string, HostLoad[], PlacementNeed, string]> = [
  ['the host it was saved on takes it, though another is freer', [h('ctl', { qemu: QEMU, usedMiB: 4000 }), h('a1', { qemu: QEMU })], need(), 'ctl'],
  ['its host full: another host with the same QEMU', [h('ctl', { qemu: QEMU, ...FULL }), h('a1', { qemu: QEMU })], need(), 'a1'],
  ['its host drained: the freest of the hosts with its QEMU', [h('ctl', { qemu: QEMU, state: 'draining' }), h('a1', { qemu: OLD_QEMU }), h('a2', { qemu: QEMU, usedMiB: 3000 }), h('a3', { qemu: QEMU })], need(), 'a3'],
  ["a host whose QEMU is not known yet (its agent's check at launch decides)", [h('ctl', { qemu: QEMU, ...FULL }), h('a1')], need(), 'a1'],
  ['a VM that asks for TCG loads on a KVM host', [h('ctl', { qemu: QEMU, ...FULL }), h('a1', { qemu: { ...QEMU, accel: 'kvm' } })], need(), 'a1'],
  [
    'nowhere: its host is full, one host runs another build, one has no room',
    [h('ctl', { qemu: QEMU, ...FULL }), h('a1', { qemu: OLD_QEMU }), h('a2', { qemu: QEMU, ...FULL })],
    need(),
    `ctl has 372 MiB of memory free of 7372 (1024 needed); host a1 runs QEMU ${OLD_QEMU.version} (the state's: ${QEMU.version}), so the state cannot load there; a2 has 372 MiB of memory free of 7372 (1024 needed)`,
  ],
  ['nowhere: only its host, drained', [h('ctl', { qemu: QEMU, state: 'draining' })], need(), 'ctl is draining'],
];
for (const [name, hosts, n, want] of SAVED_CASES) {
  test(`a state saved on the controller's host: ${name}`, () => {
    const vmAccel = name.includes('asks for TCG') ? 'tcg' as const : 'auto' as const;
    const p = placeStateSavedOn('ctl', hosts, n, { ...SAVED, vmAccel });
    assert.equal(p.kind === 'host' ? p.host : p.message, want);
  });
}
