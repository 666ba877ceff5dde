import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TimelineStage } from '../contract/timeline.js';
import { aggregateTimelines, percentile, type RecordedStage, stageAllowed, stageDurations, stagesBefore } from './login-timeline.js';

const at = (stage: TimelineStage, ms: number, skipped = false): RecordedStage => ({ stage, at: ms, skipped, detail: null });
const FULL: RecordedStage[] = [at('request', 0), at('authentication', 5), at('broker', 20), at('spare', 20, true), at('home-attached', 120), at('home-mounted', 900), at('session-started', 1500), at('first-frame', 1700)];

const ALLOWED: Array<{ name: string; before: RecordedStage[]; next: [TimelineStage, number]; why?: RegExp }> = [
  { name: 'the request first', before: [], next: ['request', 0] },
  { name: 'not authentication first', before: [], next: ['authentication', 0], why: /cannot follow nothing: request comes next/ },
  { name: 'authentication after the request', before: FULL.slice(0, 1), next: ['authentication', 1] },
  { name: 'the broker before authentication', before: FULL.slice(0, 1), next: ['broker', 1], why: /authentication comes next/ },
  { name: 'a duplicate request', before: FULL.slice(0, 2), next: ['request', 9], why: /already recorded/ },
  { name: 'a duplicate of the last stage', before: FULL.slice(0, 3), next: ['broker', 30], why: /already recorded/ },
  { name: 'home mounted before attached', before: FULL.slice(0, 4), next: ['home-mounted', 200], why: /home-attached comes next/ },
  { name: 'the first frame before the session', before: FULL.slice(0, 6), next: ['first-frame', 1600], why: /session-started comes next/ },
  { name: 'the first frame last', before: FULL.slice(0, 7), next: ['first-frame', 1700] },
  { name: 'nothing after the first frame', before: FULL, next: ['request', 1800], why: /ended with first-frame/ },
  { name: 'earlier in time than the stage before', before: FULL.slice(0, 3), next: ['spare', 10], why: /earlier than broker/ },
];

for (const c of ALLOWED) {
  test(`timeline transition: ${c.name}`, () => {
    const verdict = stageAllowed(c.before, { stage: c.next[0], at: c.next[1] });
    if (!c.why) return assert.deepEqual(verdict, { ok: true });
    assert.equal(verdict.ok, false);
    assert.match((verdict as { why: string }).why, c.why);
  });
}

test('stagesBefore: the stages in between, to be recorded as skipped', () => {
  assert.deepEqual(stagesBefore(FULL.slice(0, 3), 'session-started'), ['spare', 'home-attached', 'home-mounted']);
  assert.deepEqual(stagesBefore(FULL.slice(0, 3), 'spare'), []);
  assert.deepEqual(stagesBefore([], 'request'), []);
  assert.deepEqual(stagesBefore(FULL.slice(0, 7), 'first-frame'), []);
});

test('stageDurations: since the previous stage; a skipped one takes 0', () => {
  assert.deepEqual(stageDurations(FULL).map((s) => s.ms), [0, 5, 15, 0, 100, 780, 600, 200]);
});

test('percentile: nearest rank', () => {
  assert.equal(percentile([], 50), null);
  assert.equal(percentile([7], 95), 7);
  assert.equal(percentile([1, 2, 3, 4], 50), 2);
  assert.equal(percentile([5, 1, 4, 2, 3], 50), 3);
  assert.equal(percentile(Array.from({ length: 20 }, (_, i) => i + 1), 95), 19);
  assert.equal(percentile(Array.from({ length: 100 }, (_, i) => 100 - i), 95), 95);
});

test('aggregateTimelines: skipped stages not counted; totals only over timelines with a first frame', () => {
  const slow = FULL.map((s) => ({ ...s, at: s.at * 2 }));
  const unfinished = FULL.slice(0, 5);
  const agg = aggregateTimelines([FULL, slow, unfinished]);
  assert.equal(agg.sessions, 3);
  const spare = agg.stages.find((s) => s.stage === 'spare')!;
  assert.deepEqual(spare, { stage: 'spare', count: 0, p50Ms: null, p95Ms: null });
  const mounted = agg.stages.find((s) => s.stage === 'home-mounted')!;
  assert.deepEqual(mounted, { stage: 'home-mounted', count: 2, p50Ms: 780, p95Ms: 1560 });
  const attached = agg.stages.find((s) => s.stage === 'home-attached')!;
  assert.equal(attached.count, 3);
  assert.deepEqual(agg.total, { count: 2, p50Ms: 1700, p95Ms: 3400 });
  assert.equal(agg.stages.find((s) => s.stage === 'request')!.count, 0);
});
