import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type HostLoad, hostFreeMiB, hostReserveMiB, placeDesktop } from './placement.js';

const h = (name: string, over: Partial<HostLoad> = {}): HostLoad => ({ name, state: 'up', cpus: 4, memoryMiB: 8192, usedMiB: 0, runningVms: 0, ...over });
const placed = (hosts: HostLoad[], memoryMiB = 1024): string => {
  const p = placeDesktop(hosts, { memoryMiB });
  return p.kind === 'host' ? p.host.name : p.code;
};

const CASES: Array<[string, HostLoad[], number, string]> = [
  ['one host up', [h('a')], 1024, 'a'],
  ['draining and down hosts are skipped', [h('a', { state: 'draining' }), h('b', { state: 'down' }), h('c', { usedMiB: 6000 })], 1024, 'c'],
  ['least memory used first', [h('a', { usedMiB: 4096 }), h('b', { usedMiB: 1024 })], 1024, 'b'],
  ['share of memory, not MiB: the bigger host wins', [h('a', { usedMiB: 2048 }), h('b', { memoryMiB: 32768, usedMiB: 4096 })], 1024, 'b'],
  ['same memory load: fewer VMs per CPU', [h('a', { runningVms: 6 }), h('b', { runningVms: 2 })], 1024, 'b'],
  ['same VMs, more CPUs wins', [h('a', { runningVms: 4 }), h('b', { runningVms: 4, cpus: 16 })], 1024, 'b'],
  ['complete tie: by name, whatever the order', [h('b'), h('a')], 1024, 'a'],
  ['the host reserve is kept: 8192 - 820 reserved - 6400 used leaves 972', [h('a', { usedMiB: 6400 })], 1024, 'PLACEMENT_NO_CAPACITY'],
  ['exactly fitting is fine', [h('a', { usedMiB: 6348 })], 1024, 'a'],
  ['a fitting host over an emptier but too small one', [h('small', { memoryMiB: 1024 }), h('big', { usedMiB: 5000 })], 1024, 'big'],
  ['no host up', [h('a', { state: 'down' })], 1024, 'PLACEMENT_NO_HOST_UP'],
  ['no host at all', [], 1024, 'PLACEMENT_NO_HOST_UP'],
];

for (const [name, hosts, memoryMiB, expected] of CASES) {
  test(`placement: ${name}`, () => {
    assert.equal(placed(hosts, memoryMiB), expected);
    assert.equal(placed([...hosts].reverse(), memoryMiB), expected, 'independent of input order');
  });
}

test('reserve is the larger of 512 MiB and 10 %', () => {
  assert.equal(hostReserveMiB({ memoryMiB: 2048 }), 512);
  assert.equal(hostReserveMiB({ memoryMiB: 65536 }), 6554);
  assert.equal(hostFreeMiB(h('a', { memoryMiB: 2048, usedMiB: 2000 })), 0);
});

test('refusals say what to do', () => {
  const full = placeDesktop([h('a', { usedMiB: 7000 }), h('b', { usedMiB: 6000 })], { memoryMiB: 2048 });
  assert.ok(full.kind === 'refuse' && /most is 1372 MiB on b\): add a host/.test(full.message), JSON.stringify(full));
  const down = placeDesktop([h('a', { state: 'draining' })], { memoryMiB: 512 });
  assert.ok(down.kind === 'refuse' && /a draining/.test(down.message), JSON.stringify(down));
});

test('placing one after another spreads the load in proportion to memory', () => {
  let hosts = [h('a'), h('b'), h('c', { memoryMiB: 16384 })];
  const order: string[] = [];
  for (let i = 0; i < 6; i++) {
    const p = placeDesktop(hosts, { memoryMiB: 1024 });
    assert.equal(p.kind, 'host');
    if (p.kind !== 'host') return;
    order.push(p.host.name);
    hosts = hosts.map((x) => (x.name === p.host.name ? { ...x, usedMiB: x.usedMiB + 1024, runningVms: x.runningVms + 1 } : x));
  }
  // c has twice the usable memory of a and b, so it takes two desktops for each of theirs.
  assert.deepEqual(order, ['c', 'c', 'a', 'b', 'c', 'c']);
});
