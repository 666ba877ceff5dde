import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HostState } from '../contract/hosts.js';
import { HOST_SILENT_AFTER_MS, hostLiveness, type StorageLiveness, storageLivenessOf } from './host-liveness.js';

const LATE = HOST_SILENT_AFTER_MS + 1;
const cases: Array<[string, HostState, number, boolean, StorageLiveness | undefined, HostState, RegExp | null]> = [
  ['a host that heartbeats keeps its row\'s state', 'up', 5_000, false, 'renewing', 'up', null],
  ['even with an expired storage lease (it rejoined)', 'draining', 5_000, false, 'expired', 'draining', null],
  ['silent but renewing its storage lease: suspect, never down', 'up', LATE, false, 'renewing', 'suspect', /still renews its storage lease: cut off/],
  ['silent, its renewals late: still suspect', 'up', LATE, false, 'failing', 'suspect', /was renewing/],
  ['silent and its storage lease expired: down', 'up', LATE, false, 'expired', 'down', /storage lease has expired/],
  ['a silent draining host whose lease expired is down too', 'draining', 10 * LATE, false, 'expired', 'down', /expired/],
  ['silent with no storage lease to judge by: suspect, not down (network silence alone)', 'up', LATE, false, undefined, 'suspect', /cannot be told from a cut-off one/],
  ['the controller\'s own host is never judged', 'up', 10 * LATE, true, 'expired', 'up', null],
];

for (const [name, stored, age, isController, storage, want, reason] of cases) {
  test(name, () => {
    const got = hostLiveness(stored, age, isController, storage);
    assert.equal(got.state, want);
    if (reason === null) assert.equal(got.reason, null);
    else assert.match(got.reason ?? '', reason);
  });
}

test('sanlock host states map to storage liveness', () => {
  assert.deepEqual(['LIVE', 'FAIL', 'DEAD', 'FREE', 'UNKNOWN', 'x'].map(storageLivenessOf), ['renewing', 'failing', 'expired', undefined, undefined, undefined]);
});

test('a host its fence device confirmed off is down once silent, whatever its storage lease said last', () => {
  const table: Array<[string, number, StorageLiveness | undefined, HostState, RegExp | null]> = [
    ['silent, no lease to judge by', LATE, undefined, 'down', /fence device confirmed it powered off: nothing of it runs; the home leases it held free once/],
    ['silent, its renewals late', LATE, 'failing', 'down', /confirmed it powered off/],
    ['silent, lease expired too', LATE, 'expired', 'down', /nothing of it runs$/],
    ['heartbeating again (back on): its row stands', 5_000, undefined, 'up', null],
  ];
  for (const [what, age, storage, want, reason] of table) {
    const got = hostLiveness('up', age, false, storage, true);
    assert.equal(got.state, want, what);
    if (reason === null) assert.equal(got.reason, null, what);
    else assert.match(got.reason ?? '', reason, what);
  }
  assert.equal(hostLiveness('up', 10 * LATE, true, undefined, true).state, 'up', "the controller's own host is never judged");
});
