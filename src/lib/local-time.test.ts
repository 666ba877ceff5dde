import assert from 'node:assert/strict';
import { test } from 'node:test';
import { localParts, localToInstant } from './local-time.js';

// Local date and time → UTC instant, including the two daylight-saving changes of two zones.
const CASES: Array<{ name: string; zone: string; local: [number, number, number, number, number]; utc: string }> = [
  { name: 'Paris winter', zone: 'Europe/Paris', local: [2026, 1, 12, 7, 45], utc: '2026-01-12T06:45:00.000Z' },
  { name: 'Paris summer', zone: 'Europe/Paris', local: [2026, 7, 1, 7, 45], utc: '2026-07-01T05:45:00.000Z' },
  { name: 'Paris spring forward: 02:30 never happens → 03:30 CEST', zone: 'Europe/Paris', local: [2026, 3, 29, 2, 30], utc: '2026-03-29T01:30:00.000Z' },
  { name: 'Paris spring-forward day, after the change', zone: 'Europe/Paris', local: [2026, 3, 29, 7, 45], utc: '2026-03-29T05:45:00.000Z' },
  { name: 'Paris fall back: 02:30 happens twice → the first (CEST)', zone: 'Europe/Paris', local: [2026, 10, 25, 2, 30], utc: '2026-10-25T00:30:00.000Z' },
  { name: 'Paris fall-back day, after the change', zone: 'Europe/Paris', local: [2026, 10, 25, 7, 45], utc: '2026-10-25T06:45:00.000Z' },
  { name: 'New York spring forward: 02:15 → 03:15 EDT', zone: 'America/New_York', local: [2026, 3, 8, 2, 15], utc: '2026-03-08T07:15:00.000Z' },
  { name: 'New York fall back: 01:30 twice → the first (EDT)', zone: 'America/New_York', local: [2026, 11, 1, 1, 30], utc: '2026-11-01T05:30:00.000Z' },
  { name: 'UTC', zone: 'UTC', local: [2026, 12, 4, 0, 0], utc: '2026-12-04T00:00:00.000Z' },
  { name: 'Half-hour zone (India)', zone: 'Asia/Kolkata', local: [2026, 12, 4, 7, 45], utc: '2026-12-04T02:15:00.000Z' },
];

for (const c of CASES) {
  test(`localToInstant: ${c.name}`, () => {
    assert.equal(new Date(localToInstant(...c.local, c.zone)).toISOString(), c.utc);
  });
}

test('localParts: the local date, time and weekday of an instant', () => {
  assert.deepEqual(localParts(Date.parse('2026-12-04T23:30:00Z'), 'Europe/Paris'), { year: 2026, month: 12, day: 5, hour: 0, minute: 30, weekday: 6 });
  assert.deepEqual(localParts(Date.parse('2026-12-04T03:30:00Z'), 'America/New_York'), { year: 2026, month: 12, day: 3, hour: 22, minute: 30, weekday: 4 });
});
