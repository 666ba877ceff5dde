import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addressKey, retryText, SlidingWindowLimiter, userKey } from './rate-limit.js';

const MIN = 60_000;
type Step = ['fail' | 'check' | 'forget', string[], number, boolean?, number?];

const cases: Array<{ name: string; steps: Step[] }> = [
  {
    name: 'four failures leave the key open, the fifth closes it',
    steps: [['fail', ['u'], 0], ['fail', ['u'], 1], ['fail', ['u'], 2], ['fail', ['u'], 3], ['check', ['u'], 4, true], ['fail', ['u'], 4], ['check', ['u'], 5, false, 5 * MIN - 5]],
  },
  {
    name: 'the key reopens when the oldest failure leaves the window',
    steps: [['fail', ['u'], 0], ['fail', ['u'], MIN], ['fail', ['u'], MIN], ['fail', ['u'], MIN], ['fail', ['u'], MIN], ['check', ['u'], 5 * MIN - 1, false, 1], ['check', ['u'], 5 * MIN, true]],
  },
  {
    name: 'a closed address refuses every user; another address and user are open',
    steps: [
      ['fail', ['alice', 'A'], 0], ['fail', ['bob', 'A'], 0], ['fail', ['carol', 'A'], 0], ['fail', ['dave', 'A'], 0], ['fail', ['erin', 'A'], 0],
      ['check', ['frank', 'A'], 1, false], ['check', ['frank', 'B'], 1, true], ['check', ['alice', 'B'], 1, true],
    ],
  },
  {
    name: 'a closed user is refused from every address',
    steps: [['fail', ['u', 'A'], 0], ['fail', ['u', 'B'], 0], ['fail', ['u', 'C'], 0], ['fail', ['u', 'D'], 0], ['fail', ['u', 'E'], 0], ['check', ['u', 'F'], 1, false]],
  },
  {
    name: 'forgetting the user (a success) reopens it',
    steps: [['fail', ['u'], 0], ['fail', ['u'], 0], ['fail', ['u'], 0], ['fail', ['u'], 0], ['fail', ['u'], 0], ['forget', ['u'], 1], ['check', ['u'], 1, true]],
  },
];

for (const c of cases) {
  test(`rate limit: ${c.name}`, () => {
    const limiter = new SlidingWindowLimiter(5, 5 * MIN);
    for (const [op, keys, at, allowed, retry] of c.steps) {
      if (op === 'fail') limiter.fail(keys, at);
      else if (op === 'forget') limiter.forget(keys[0]!);
      else {
        const v = limiter.check(keys, at);
        assert.equal(v.allowed, allowed, `check ${keys.join(',')} at ${at}`);
        if (retry !== undefined) assert.equal(v.retryAfterMs, retry);
      }
    }
  });
}

test('refusal names the key that refused (the one closed longest)', () => {
  const limiter = new SlidingWindowLimiter(1, 10);
  limiter.fail([addressKey('A')], 0);
  limiter.fail([userKey('U')], 5);
  assert.equal(limiter.check([userKey('u'), addressKey('A')], 6).key, userKey('U'), 'user keys ignore case; later failure = longer wait');
});

test('retry text rounds up to whole seconds', () => {
  for (const [ms, text] of [[1, '1 s'], [999, '1 s'], [59_001, '1 min'], [61_000, '1 min 1 s'], [300_000, '5 min']] as const) {
    assert.equal(retryText(ms), text);
  }
});
