import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DesktopView, Pool, poolProblems } from './pools.js';

test('a minimal pool gets its defaults', () => {
  const p = Pool.parse({ name: 'lab', image: 'deb' });
  assert.deepEqual(p, {
    name: 'lab',
    image: 'deb',
    version: 'latest',
    minDesktops: 0,
    maxDesktops: 10,
    warmSpares: 1,
    coldSpares: 0,
    vcpus: 1,
    memoryMiB: 1024,
    homeSizeBytes: 2 ** 30,
    home: 'volume',
    persistent: false,
    onLogoff: 'reset',
    idleDisconnectMinutes: 0,
    idleLogoffMinutes: 0,
    maxDesktopsPerUser: 1,
    userReset: false,
    network: { mode: 'none' },
    entitled: { users: [], groups: [] },
    hostLabels: { require: [], avoid: [] },
    spareSchedule: [],
    startMode: 'boot',
  });
});

test('start mode restore is refused for a bridged pool (each desktop needs its own locked MAC), allowed with NAT', () => {
  assert.deepEqual(poolProblems({ name: 'lab', image: 'deb', startMode: 'restore', network: { mode: 'nat' } }), []);
  const problems = poolProblems({ name: 'lab', image: 'deb', startMode: 'restore', network: { mode: 'bridge', bridge: 'br0' } });
  assert.equal(problems.length, 1);
  assert.match(problems[0]!, /^startMode: .*bridge.*use startMode "boot"/);
});

test('scratch homes: only for a non-persistent pool whose desktops boot', () => {
  assert.deepEqual(poolProblems({ name: 'lab', image: 'deb', home: 'scratch', startMode: 'boot' }), []);
  const persistent = poolProblems({ name: 'lab', image: 'deb', home: 'scratch', startMode: 'boot', persistent: true });
  assert.equal(persistent.length, 1);
  assert.match(persistent[0]!, /^home: a persistent desktop keeps .* use home "volume"/);
  const restore = poolProblems({ name: 'lab', image: 'deb', home: 'scratch', startMode: 'restore' });
  assert.equal(restore.length, 1);
  assert.match(restore[0]!, /^home: a restored clone .* use startMode "boot"/);
  assert.match(poolProblems({ name: 'lab', image: 'deb', home: 'kept' })[0]!, /^home: /);
});

test('a schedule rule with the cold spares may not exceed maxDesktops', () => {
  const rule = { days: ['mon'], at: '07:45', warm: 9 };
  assert.deepEqual(poolProblems({ name: 'lab', image: 'deb', maxDesktops: 10, coldSpares: 1, spareSchedule: [rule] }), []);
  assert.deepEqual(poolProblems({ name: 'lab', image: 'deb', maxDesktops: 10, coldSpares: 2, spareSchedule: [rule] }), [
    "spareSchedule: schedule rule 'mon 07:45 9' plus coldSpares (2) exceeds maxDesktops (10): lower its count or raise maxDesktops",
  ]);
  assert.match(poolProblems({ name: 'lab', image: 'deb', spareSchedule: [{ days: ['mon'], at: '7:45', warm: 1 }] }).join('\n'), /spareSchedule\.0\.at: a schedule time is HH:MM/);
});

test('a SPICE display is off unless asked for, loopback by default, and only at an IP address', () => {
  assert.equal(Pool.parse({ name: 'lab', image: 'deb' }).spice, undefined);
  assert.deepEqual(Pool.parse({ name: 'lab', image: 'deb', spice: {} }).spice, { listen: '127.0.0.1' });
  assert.deepEqual(Pool.parse({ name: 'lab', image: 'deb', spice: { listen: '192.0.2.7' } }).spice, { listen: '192.0.2.7' });
  assert.equal(Pool.parse({ name: 'lab', image: 'deb', spice: null }).spice, null);
  assert.match(poolProblems({ name: 'lab', image: 'deb', spice: { listen: 'thin-clients.example' } }).join('\n'), /^spice\.listen: the SPICE listen address is an IPv4 or IPv6 address$/);
  assert.match(poolProblems({ name: 'lab', image: 'deb', spice: { port: 5900 } }).join('\n'), /^spice: Unrecognized key/);
});

test('onLogoff defaults by persistence', () => {
  assert.equal(Pool.parse({ name: 'lab', image: 'deb', persistent: true }).onLogoff, 'keep');
  assert.equal(Pool.parse({ name: 'lab', image: 'deb', persistent: true, onLogoff: 'keep-until-update' }).onLogoff, 'keep-until-update');
  assert.equal(Pool.parse({ name: 'lab', image: 'deb', onLogoff: 'reset' }).onLogoff, 'reset');
});

const PROBLEMS: Array<[string, Record<string, unknown>, RegExp[]]> = [
  ['min above max', { minDesktops: 5, maxDesktops: 3 }, [/^minDesktops: minDesktops \(5\) is above maxDesktops \(3\): lower minDesktops or raise maxDesktops$/]],
  ['spares above max', { warmSpares: 2, coldSpares: 2, maxDesktops: 3 }, [/^warmSpares: warmSpares \+ coldSpares \(2 \+ 2\) exceed maxDesktops \(3\)/]],
  ['per-user limit above max', { maxDesktops: 2, maxDesktopsPerUser: 3, warmSpares: 0 }, [/^maxDesktopsPerUser: .*lower it to at most 2/]],
  ['keeping a shared desktop', { onLogoff: 'keep' }, [/^onLogoff: a non-persistent pool .* set persistent: true/]],
  ['every problem at once', { minDesktops: 9, maxDesktops: 2, warmSpares: 3, onLogoff: 'keep-until-update' }, [/^minDesktops/, /^warmSpares/, /^onLogoff/]],
  ['pool name too long for desktop names', { name: 'p'.repeat(51) }, [/^name: a pool name is at most 50 characters/]],
  ['bad names and numbers', { name: '-x', image: 'a/b', version: 0, memoryMiB: 8, entitled: { users: ['ok', '../root'] } }, [/^name:/, /^image:/, /^version:/, /^memoryMiB:/, /^entitled\.users\.1:/]],
  ['unknown field', { maxDesktop: 3 }, [/Unrecognized key/]],
];

for (const [name, over, expected] of PROBLEMS) {
  test(`pool problem: ${name}`, () => {
    const problems = poolProblems({ name: 'lab', image: 'deb', ...over });
    assert.equal(problems.length, expected.length, problems.join('\n'));
    expected.forEach((re, i) => assert.match(problems[i]!, re));
  });
}

test('a valid pool has no problems', () => {
  assert.deepEqual(poolProblems({ name: 'lab', image: 'deb', version: 3, minDesktops: 2, maxDesktops: 4, warmSpares: 2, coldSpares: 2, persistent: true, onLogoff: 'keep-until-update' }), []);
});

test('desktop view wire type', () => {
  const view = { name: 'lab-1', pool: 'lab', state: 'in-use', user: 'ann', host: 'h1', imageVersion: 3, since: '2024-01-01T00:00:00Z' };
  assert.deepEqual(DesktopView.parse(view), view);
  assert.equal(DesktopView.safeParse({ ...view, state: 'sleeping' }).success, false);
});

test('idle limits take fractions of a minute (a test policy of seconds), never below zero', () => {
  assert.equal(Pool.parse({ name: 'lab', image: 'deb', idleDisconnectMinutes: 0.25 }).idleDisconnectMinutes, 0.25);
  assert.match(poolProblems({ name: 'lab', image: 'deb', idleLogoffMinutes: -1 }).join(), /idleLogoffMinutes/);
});
