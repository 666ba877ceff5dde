import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type FenceClock, fenceDue, fenceReason } from './agent-fence.js';

const cases: Array<[string, FenceClock, number, boolean]> = [
  ['off by default: never, however long the controller is gone', { fenceAfterMs: undefined, lostSinceMs: 0, fenced: false }, 10 ** 9, false],
  ['linked: never', { fenceAfterMs: 5_000, lostSinceMs: null, fenced: false }, 10 ** 9, false],
  ['lost for less than --fence-after: not yet', { fenceAfterMs: 5_000, lostSinceMs: 1_000, fenced: false }, 5_999, false],
  ['lost for --fence-after: due', { fenceAfterMs: 5_000, lostSinceMs: 1_000, fenced: false }, 6_000, true],
  ['already fenced for this loss: not again', { fenceAfterMs: 5_000, lostSinceMs: 1_000, fenced: true }, 60_000, false],
];

for (const [name, clock, now, want] of cases) test(name, () => assert.equal(fenceDue(clock, now), want));

test('the reason says who stopped it and why', () => {
  assert.equal(fenceReason(90_000), "stopped by its host's agent: no controller for 90 s (ardesia agent --fence-after)");
});
