import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSpareRule, type SpareRule } from '../contract/pool-schedule.js';
import { bootEstimateAfter, leadMs, type ScheduleInput, scheduleNow } from './spare-schedule.js';

const rule = (text: string): SpareRule => {
  const r = parseSpareRule(text);
  if (typeof r === 'string') throw new Error(r);
  return r;
};
const MORNING = [rule('mon-fri 07:45 40'), rule('mon-fri 18:00 4')];
const base = (over: Partial<ScheduleInput>): ScheduleInput => ({
  rules: MORNING, now: 0, timeZone: 'Europe/Paris', boot: { ms: 60_000, samples: 5 }, bootStormLimit: 4, capacity: null, inSession: 0, sizeText: '1024 MiB, 1 vCPU each', ...over,
});
const at = (s: string) => Date.parse(s);

// 40 − 4 = 36 boots at 4 at once, 60 s each: 9 waves + 1 = 10 minutes of lead → booting starts at 07:35 local.
const CASES: Array<{ name: string; input: Partial<ScheduleInput>; warm: number; inEffect: string | null; bootsFrom?: string }> = [
  { name: 'Friday evening: the evening rule', input: { now: at('2026-12-04T19:00:00Z') }, warm: 4, inEffect: 'mon-fri 18:00 4', bootsFrom: '2026-12-07T06:35:00.000Z' },
  { name: 'Saturday noon: Friday evening holds over the weekend', input: { now: at('2026-12-05T11:00:00Z') }, warm: 4, inEffect: 'mon-fri 18:00 4' },
  { name: 'Monday 07:34 local: not yet', input: { now: at('2026-12-07T06:34:00Z') }, warm: 4, inEffect: 'mon-fri 18:00 4' },
  { name: 'Monday 07:35 local: booting early for 07:45', input: { now: at('2026-12-07T06:35:00Z') }, warm: 40, inEffect: 'mon-fri 18:00 4' },
  { name: 'Monday 07:45 local: the morning rule', input: { now: at('2026-12-07T06:45:00Z') }, warm: 40, inEffect: 'mon-fri 07:45 40' },
  { name: 'Monday 18:00 local: down to 4', input: { now: at('2026-12-07T17:00:00Z') }, warm: 4, inEffect: 'mon-fri 18:00 4' },
  { name: 'slower boots start earlier (3 min each: 30 min of lead)', input: { now: at('2026-12-07T06:15:00Z'), boot: { ms: 180_000, samples: 3 } }, warm: 40, inEffect: 'mon-fri 18:00 4' },
  { name: 'no boot measured: assumed 2 min (20 min of lead)', input: { now: at('2026-12-07T06:24:00Z'), boot: null }, warm: 4, inEffect: 'mon-fri 18:00 4', bootsFrom: '2026-12-07T06:25:00.000Z' },
  { name: 'a higher storm limit starts later (36 at once: 2 min)', input: { now: at('2026-12-07T06:42:00Z'), bootStormLimit: 36 }, warm: 4, inEffect: 'mon-fri 18:00 4', bootsFrom: '2026-12-07T06:43:00.000Z' },
  // DST: Sunday 29 March 2026 Paris goes to CEST; Monday 07:45 is 05:45 UTC, the lead starts at 05:35 UTC.
  { name: 'after spring forward: Monday 07:45 CEST', input: { now: at('2026-03-30T05:34:00Z') }, warm: 4, inEffect: 'mon-fri 18:00 4', bootsFrom: '2026-03-30T05:35:00.000Z' },
  { name: 'after spring forward: 07:45 CEST reached', input: { now: at('2026-03-30T05:45:00Z') }, warm: 40, inEffect: 'mon-fri 07:45 40' },
  // Sunday 25 October 2026 back to CET: Monday 07:45 is 06:45 UTC again.
  { name: 'after fall back: 06:44 UTC is 07:44 CET, booting', input: { now: at('2026-10-26T06:44:00Z') }, warm: 40, inEffect: 'mon-fri 18:00 4' },
  { name: 'after fall back: 05:50 UTC is only 06:50 CET', input: { now: at('2026-10-26T05:50:00Z') }, warm: 4, inEffect: 'mon-fri 18:00 4', bootsFrom: '2026-10-26T06:35:00.000Z' },
  { name: 'a rule inside the spring-forward gap starts after the change', input: { rules: [rule('sun 02:30 9'), rule('sun 12:00 1')], now: at('2026-03-29T01:29:00Z'), boot: { ms: 1000, samples: 1 }, bootStormLimit: 100 }, warm: 1, inEffect: 'sun 12:00 1', bootsFrom: '2026-03-29T01:29:58.000Z' },
  { name: 'capacity caps the target (in-session desktops hold their share)', input: { now: at('2026-12-07T08:00:00Z'), capacity: 30, inSession: 10 }, warm: 20, inEffect: 'mon-fri 07:45 40' },
  { name: 'New York time zone', input: { now: at('2026-12-07T12:45:00Z'), timeZone: 'America/New_York' }, warm: 40, inEffect: 'mon-fri 07:45 40' },
];

for (const c of CASES) {
  test(`scheduleNow: ${c.name}`, () => {
    const s = scheduleNow(base(c.input));
    assert.equal(s.warmTarget, c.warm);
    assert.equal(s.inEffect, c.inEffect);
    if (c.bootsFrom) assert.equal(s.next?.bootsFrom, c.bootsFrom);
  });
}

test('scheduleNow: a rule above the hosts’ capacity is a problem naming it, its count and the capacity', () => {
  const s = scheduleNow(base({ now: at('2026-12-07T08:00:00Z'), capacity: 12 }));
  assert.equal(s.problems.length, 1);
  assert.match(s.problems[0]!, /rule 'mon-fri 07:45 40' asks for 40 warm desktops but the hosts can run 12 of this pool \(1024 MiB, 1 vCPU each\)/);
  assert.deepEqual(scheduleNow(base({ capacity: 40 })).problems, []);
  assert.deepEqual(scheduleNow(base({ capacity: null })).problems, []);
});

test('scheduleNow: the lead is computed on what the hosts can run, not on an unreachable count', () => {
  // 40 asked, 8 fit: 4 more boots, 1 wave + 1 → 2 minutes before 07:45.
  const s = scheduleNow(base({ now: at('2026-12-07T06:42:00Z'), capacity: 8 }));
  assert.equal(s.next?.bootsFrom, '2026-12-07T06:43:00.000Z');
  assert.equal(s.warmTarget, 4);
});

const LEADS: Array<[number, number, number, number, number]> = [
  // from, to, boot ms, storm limit → lead ms
  [4, 40, 60_000, 4, 600_000],
  [40, 4, 60_000, 4, 0],
  [0, 1, 30_000, 2, 60_000],
  [0, 5, 30_000, 2, 120_000],
];
for (const [from, to, ms, limit, lead] of LEADS) {
  test(`leadMs ${from}→${to}, ${ms} ms boots, ${limit} at once`, () => assert.equal(leadMs(from, to, { ms, samples: 1 }, limit), lead));
}

test('bootEstimateAfter: the first boot sets it, later ones move it by 30 %', () => {
  const first = bootEstimateAfter(null, 50_000);
  assert.deepEqual(first, { ms: 50_000, samples: 1 });
  assert.deepEqual(bootEstimateAfter(first, 100_000), { ms: 65_000, samples: 2 });
});

const PARSE: Array<[string, SpareRule | RegExp]> = [
  ['mon-fri 07:45 40', { days: ['mon', 'tue', 'wed', 'thu', 'fri'], at: '07:45', warm: 40 }],
  ['sat,sun 09:00 2', { days: ['sun', 'sat'], at: '09:00', warm: 2 }],
  ['fri-mon 18:00 4', { days: ['sun', 'mon', 'fri', 'sat'], at: '18:00', warm: 4 }],
  ['DAILY 00:00 0', { days: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'], at: '00:00', warm: 0 }],
  ['mon-fri 7:45 40', /not a time/],
  ['mon-fri 24:00 40', /not a time/],
  ['weekdays 07:45 40', /not a schedule rule/],
  ['mon-fri 07:45', /not a schedule rule/],
  ['mon-fri 07:45 -1', /not a count/],
];
for (const [text, want] of PARSE) {
  test(`parseSpareRule "${text}"`, () => {
    const got = parseSpareRule(text);
    if (want instanceof RegExp) assert.match(got as string, want);
    else assert.deepEqual(got, want);
  });
}
