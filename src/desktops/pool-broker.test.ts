import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ArdesiaError } from '../contract/errors.js';
import { connectAfterFailure, desktopGivenUp, spareLostBeforeAssign } from './pool-broker.js';

const unreachable = new ArdesiaError('DESKTOP_HOST_UNREACHABLE', 'desktop p-1 is on host h2, which stopped answering');
const spareFailed = new ArdesiaError('DESKTOP_FAILED', 'desktop p-1 could not start your session: the VM exited', { state: 'failed', handedOut: true });
const spareResetting = new ArdesiaError('DESKTOP_FAILED', 'desktop p-1 could not start your session: the reset waits', { state: 'resetting', handedOut: true, desktop: 'p-1' });
const ownFailed = new ArdesiaError('DESKTOP_FAILED', 'desktop p-1 could not start your session: the VM exited', { state: 'failed' });
const full = new ArdesiaError('POOL_FULL', 'all 2 desktops of pool p are taken and none is spare');
const noHost = new ArdesiaError('PLACEMENT_NO_HOST_UP', 'no host is up');
const leased = new ArdesiaError('HOME_LEASE_HELD', 'your home volume is held by desktop p-1');
const bug = new RangeError('bug');

const CASES: Array<[string, unknown, ArdesiaError | undefined, number, number, { retry: ArdesiaError } | { fail: unknown }]> = [
  ['a desktop on a host gone silent: another', unreachable, undefined, 1, 60_000, { retry: unreachable }],
  ['a spare handed out that failed: another', spareFailed, undefined, 1, 60_000, { retry: spareFailed }],
  ['a spare handed out whose reset waits for its host: another', spareResetting, undefined, 1, 60_000, { retry: spareResetting }],
  ["the user's own desktop that failed: its error", ownFailed, undefined, 1, 60_000, { fail: ownFailed }],
  ['attempts used up: the last error', spareFailed, spareFailed, 3, 60_000, { fail: spareFailed }],
  ["the connect's wait used up: the error", unreachable, undefined, 1, 0, { fail: unreachable }],
  ['no other desktop after a failed spare: why that one failed', full, spareFailed, 2, 60_000, { fail: spareFailed }],
  ['no host for another after a silent host: why that one was given up', noHost, unreachable, 2, 60_000, { fail: unreachable }],
  ['the pool full at the first attempt: the refusal itself', full, undefined, 1, 60_000, { fail: full }],
  ['not a broker refusal after a give-up: the new error (a home held says what to do)', leased, spareFailed, 2, 60_000, { fail: leased }],
  ['not an Ardesia error: passed on as it is', bug, undefined, 1, 60_000, { fail: bug }],
];

for (const [name, err, givenUp, attempt, leftMs, expected] of CASES) {
  test(`connect after a failure: ${name}`, () => {
    const next = connectAfterFailure(err, givenUp, attempt, leftMs);
    // The very error objects, not look-alikes.
    if ('retry' in expected) assert.ok('retry' in next && next.retry === expected.retry);
    else assert.ok('fail' in next && next.fail === expected.fail);
  });
}

test('the desktop given up is the one the error names', () => {
  assert.equal(desktopGivenUp(spareResetting), 'p-1');
  assert.equal(desktopGivenUp(ownFailed), undefined);
  assert.equal(desktopGivenUp(new ArdesiaError('DESKTOP_HOST_UNREACHABLE', 'x', { desktop: 'p-2', host: 'h2' })), 'p-2');
});

test('a spare gone another way between the decision and its assign is given up, and the connect brokers again', () => {
  const retired = new ArdesiaError('DESKTOP_NOT_FOUND', 'desktop p-2 does not exist');
  const lost = spareLostBeforeAssign(retired, 'cold-start', 'p-2');
  assert.ok(lost instanceof ArdesiaError && lost.code === 'DESKTOP_FAILED');
  assert.equal(desktopGivenUp(lost), 'p-2');
  assert.ok('retry' in connectAfterFailure(lost, undefined, 1, 60_000));
  const moved = new ArdesiaError('DESKTOP_STATE', 'desktop p-2 (retiring): refused');
  assert.equal(desktopGivenUp(spareLostBeforeAssign(moved, 'warm', 'p-2') as ArdesiaError), 'p-2');
  // The user's own desktop, a new clone, or another error: passed on as they are.
  assert.equal(spareLostBeforeAssign(retired, 'existing', 'p-2'), retired);
  assert.equal(spareLostBeforeAssign(retired, 'clone', 'p-2'), retired);
  assert.equal(spareLostBeforeAssign(bug, 'warm', 'p-2'), bug);
  assert.equal(spareLostBeforeAssign(full, 'warm', 'p-2'), full);
});
