import assert from 'node:assert/strict';
import { test } from 'node:test';
import { spareRuleText } from '../contract/pool-schedule.js';
import { type ForecastInput, forecastPool, type Interval, peakConcurrent, percentile, rulesFromHours, SESSION_ASSUMED_MAX_MS, sessionIntervals } from './forecast.js';

const H = 3_600_000;
const at = (s: string) => Date.parse(s);
const NOW = at('2026-12-05T12:00:00Z'); // a Saturday

/** Four weeks of weekdays: five users log in between 08:10 and 08:50 and work until 17:00 (UTC). */
function officeWeeks(extraMonday = 0): Interval[] {
  const out: Interval[] = [];
  for (let d = 1; d <= 28; d++) {
    const day = new Date(NOW - d * 24 * H);
    const wd = day.getUTCDay();
    if (wd === 0 || wd === 6) continue;
    const midnight = Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate());
    const users = 5 + (wd === 1 && d <= 7 ? extraMonday : 0);
    for (let u = 0; u < users; u++) out.push({ start: midnight + 8 * H + (10 + u * 5) * 60_000, end: midnight + 17 * H });
  }
  return out;
}
const input = (over: Partial<ForecastInput>): ForecastInput => ({ sessions: officeWeeks(), now: NOW, weeks: 4, timeZone: 'UTC', capacity: null, minWarm: 1, maxWarm: 100, ...over });
const hour = (f: ReturnType<typeof forecastPool>, day: string, h: number) => f.hours.find((x) => x.day === day && x.hour === h)!;

test('forecast: an office week — five logins at 8, five desktops until 17, one warm spare otherwise', () => {
  const f = forecastPool(input({}));
  assert.equal(f.hours.length, 168);
  assert.deepEqual(hour(f, 'mon', 8), { day: 'mon', hour: 8, desktops: 5, logins: 5 });
  assert.deepEqual(hour(f, 'wed', 12), { day: 'wed', hour: 12, desktops: 5, logins: 0 });
  assert.deepEqual(hour(f, 'fri', 17), { day: 'fri', hour: 17, desktops: 0, logins: 0 }, 'a session ending at 17:00 is not in the 17 hour');
  assert.deepEqual(hour(f, 'sat', 9), { day: 'sat', hour: 9, desktops: 0, logins: 0 });
  assert.deepEqual(f.proposed.map(spareRuleText), ['mon-fri 08:00 5', 'mon-fri 09:00 1']);
  assert.deepEqual(f.problems, []);
  assert.equal(f.sessionsSeen, 100);
});

test('forecast: p95 over four weeks is the busiest week (nearest rank)', () => {
  const f = forecastPool(input({ sessions: officeWeeks(3) }));
  assert.deepEqual(hour(f, 'mon', 8), { day: 'mon', hour: 8, desktops: 8, logins: 8 });
  assert.deepEqual(f.proposed.map(spareRuleText), ['mon 08:00 8', 'mon-fri 09:00 1', 'tue-fri 08:00 5']);
});

test('forecast: the hosts’ capacity limits the proposal and names the hours it cannot cover', () => {
  const f = forecastPool(input({ capacity: 7 }));
  assert.deepEqual(f.proposed.map(spareRuleText), ['mon-fri 08:00 2', 'mon-fri 09:00 1']);
  const short = forecastPool(input({ capacity: 4 }));
  assert.equal(short.problems.length, 45); // 9 hours × 5 days
  assert.equal(short.problems[0], 'mon 08:00 needs 5 desktops but the hosts can run 4 of this pool');
});

test('forecast: no sessions → one daily rule at the floor; maxWarm caps it', () => {
  assert.deepEqual(forecastPool(input({ sessions: [] })).proposed.map(spareRuleText), ['daily 00:00 1']);
  assert.deepEqual(forecastPool(input({ sessions: [], minWarm: 3, maxWarm: 2 })).proposed.map(spareRuleText), ['daily 00:00 2']);
});

test('forecast: hours are local — the same sessions read in New York fall five hours earlier', () => {
  const f = forecastPool(input({ timeZone: 'America/New_York' }));
  assert.deepEqual(hour(f, 'mon', 3), { day: 'mon', hour: 3, desktops: 5, logins: 5 });
  assert.deepEqual(f.proposed.map(spareRuleText), ['mon-fri 03:00 5', 'mon-fri 04:00 1']);
});

test('sessionIntervals: an end or the next connect closes a session; open ones run to now, capped', () => {
  const got = sessionIntervals([
    { at: 0, kind: 'connect', desktop: 'd1' },
    { at: 10, kind: 'end', desktop: 'd1' },
    { at: 5, kind: 'connect', desktop: 'd2' },
    { at: 20, kind: 'connect', desktop: 'd2' },
    { at: 30, kind: 'end', desktop: 'd3' },
  ], 100);
  assert.deepEqual(got, [{ start: 0, end: 10 }, { start: 5, end: 20 }, { start: 20, end: 100 }]);
  assert.deepEqual(sessionIntervals([{ at: 0, kind: 'connect', desktop: 'd' }], 24 * H), [{ start: 0, end: SESSION_ASSUMED_MAX_MS }]);
});

test('peakConcurrent and percentile', () => {
  const s = [{ start: 0, end: 10 }, { start: 5, end: 15 }, { start: 10, end: 20 }];
  assert.equal(peakConcurrent(s, 0, 20), 2, 'a handover at 10 is not three at once');
  assert.equal(peakConcurrent(s, 16, 30), 1);
  assert.equal(peakConcurrent(s, 20, 30), 0);
  assert.equal(percentile([], 0.95), 0);
  assert.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20], 0.95), 19);
});

test('rulesFromHours wraps the week: a change at Sunday 00:00 only when Saturday 23:00 differs', () => {
  const warm = Array.from({ length: 168 }, (_, i) => (i >= 24 && i < 48 ? 3 : 0));
  assert.deepEqual(rulesFromHours(warm).map(spareRuleText), ['mon 00:00 3', 'tue 00:00 0']);
});
