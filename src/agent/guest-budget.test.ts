import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GuestBudget, guestTextForLog, GUEST_TEXT_LOGGED_MAX } from './guest-budget.js';

test('a burst, then one message a second; refusals are counted and reported once', () => {
  const b = new GuestBudget({ burst: 3, perSecond: 1 }, 0);
  assert.deepEqual([0, 0, 0].map(() => b.take(0).accepted), [true, true, true]);
  assert.deepEqual(b.take(0), { accepted: false, firstRefused: true });
  assert.deepEqual(b.take(500), { accepted: false, firstRefused: false });
  assert.deepEqual(b.take(1000), { accepted: true, refusedBefore: 2 });
  assert.equal(b.take(1000).accepted, false);
  assert.deepEqual(b.take(10_000), { accepted: true, refusedBefore: 1 });
  assert.equal(b.take(10_000).accepted, true, 'refilled up to the burst');
});

test('guest text in a log line is one bounded line', () => {
  assert.equal(guestTextForLog('a\r\nb\nc'), 'a b c');
  const long = guestTextForLog('x'.repeat(10_000));
  assert.ok(long.length < GUEST_TEXT_LOGGED_MAX + 40);
  assert.match(long, /10000 characters/);
});
