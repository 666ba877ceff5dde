import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LOGIN_THROTTLE, LoginThrottle, pairDelayMs, retryText, type ThrottlePolicy } from './rate-limit.js';

const S = 1000;
const policy: ThrottlePolicy = { pairFreeFailures: 3, pairFirstDelayMs: 10 * S, pairMaxDelayMs: 40 * S, pairForgetMs: 3600 * S, addressFailures: 6, addressWindowMs: 300 * S };

/** [user, address, at, outcome]: 'fail'/'ok' reserve and settle at once; 'refused' expects a refusal; 'hold' reserves and keeps it pending. */
type Step = [string, string, number, 'fail' | 'ok' | 'refused' | 'hold'];

const cases: Array<{ name: string; steps: Step[] }> = [
  { name: 'free failures, then a delay', steps: [['u', 'A', 0, 'fail'], ['u', 'A', 0, 'fail'], ['u', 'A', 0, 'fail'], ['u', 'A', 9 * S, 'refused'], ['u', 'A', 10 * S, 'fail'], ['u', 'A', 29 * S, 'refused'], ['u', 'A', 30 * S, 'fail']] },
  { name: 'the delay doubles and stops at the cap', steps: [['u', 'A', 0, 'fail'], ['u', 'A', 0, 'fail'], ['u', 'A', 0, 'fail'], ['u', 'A', 10 * S, 'fail'], ['u', 'A', 30 * S, 'fail'], ['u', 'A', 69 * S, 'refused'], ['u', 'A', 70 * S, 'fail'], ['u', 'A', 109 * S, 'refused']] },
  { name: "a stranger's failures never slow the user at another address", steps: [['admin', 'X', 0, 'fail'], ['admin', 'X', 0, 'fail'], ['admin', 'X', 0, 'fail'], ['admin', 'X', 1, 'refused'], ['admin', 'B', 1, 'ok']] },
  { name: 'pending attempts count: a burst gets only the free ones', steps: [['u', 'A', 0, 'hold'], ['u', 'A', 0, 'hold'], ['u', 'A', 0, 'hold'], ['u', 'A', 0, 'refused'], ['u', 'A', 0, 'refused']] },
  { name: 'one address spraying many users hits the address limit', steps: [['a', 'A', 0, 'fail'], ['b', 'A', 0, 'fail'], ['c', 'A', 0, 'fail'], ['d', 'A', 0, 'fail'], ['e', 'A', 0, 'fail'], ['f', 'A', 0, 'fail'], ['g', 'A', 1, 'refused'], ['g', 'B', 1, 'ok'], ['g', 'A', 300 * S, 'ok']] },
  { name: 'a success forgets the pair', steps: [['u', 'A', 0, 'fail'], ['u', 'A', 0, 'fail'], ['u', 'A', 0, 'ok'], ['u', 'A', 0, 'fail'], ['u', 'A', 0, 'fail'], ['u', 'A', 0, 'fail'], ['u', 'A', 0, 'refused']] },
  { name: 'user names ignore case', steps: [['U', 'A', 0, 'fail'], ['u', 'A', 0, 'fail'], ['u', 'A', 0, 'fail'], ['U', 'A', 1, 'refused']] },
  { name: 'a long quiet pair starts afresh', steps: [['u', 'A', 0, 'fail'], ['u', 'A', 0, 'fail'], ['u', 'A', 0, 'fail'], ['u', 'A', 3600 * S, 'fail'], ['u', 'A', 3600 * S, 'fail']] },
];

for (const c of cases) {
  test(`login throttle: ${c.name}`, () => {
    const t = new LoginThrottle(policy);
    for (const [i, [user, address, at, outcome]] of c.steps.entries()) {
      const v = t.reserve(user, address, at);
      assert.equal(v.allowed, outcome !== 'refused', `step ${i}: ${user}@${address} at ${at}`);
      if (v.allowed && outcome !== 'hold') t.settle(v.attempt, outcome === 'ok', at);
      if (!v.allowed) assert.ok(v.retryAfterMs > 0);
    }
  });
}

test('the default policy: 5 free failures, 30 s doubling to 15 min', () => {
  assert.deepEqual([4, 5, 6, 7, 10, 40].map((n) => pairDelayMs(LOGIN_THROTTLE, n)), [0, 30 * S, 60 * S, 120 * S, 900 * S, 900 * S]);
});

test('retry text', () => {
  assert.equal(retryText(250), '1 s');
  assert.equal(retryText(250_000), '4 min 10 s');
  assert.equal(retryText(120_000), '2 min');
});
