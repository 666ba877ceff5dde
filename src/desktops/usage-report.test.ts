import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DesktopState } from '../contract/pools.js';
import { type UsageEvent, type UsageEventKind, usageCsv, usageEventsOf, usageReport } from './usage-report.js';

const T0 = Date.parse('2026-12-01T00:00:00Z');
const H = 3600_000;
const ev = (h: number, kind: UsageEventKind, pool: string, desktop: string, user: string | null = null): UsageEvent => ({ at: T0 + h * H, kind, pool, desktop, user });

const TRANSITIONS: Array<[DesktopState | undefined, DesktopState, UsageEventKind[]]> = [
  ['assigned', 'in-use', ['session-start']],
  ['disconnected', 'in-use', []],
  ['in-use', 'disconnected', []],
  ['in-use', 'logging-off', []],
  ['logging-off', 'resetting', ['session-end', 'reset']],
  ['stopped', 'resetting', ['reset']],
  ['in-use', 'stopped', ['session-end']],
  ['logging-off', 'stopped', ['session-end']],
  ['disconnected', 'failed', ['session-end']],
  ['stopped', 'booting', ['boot']],
  [undefined, 'booting', ['boot']],
  [undefined, 'in-use', []],
  [undefined, 'stopped', []],
  ['ready', 'ready', []],
  ['ready', 'assigned', []],
];
for (const [from, to, expected] of TRANSITIONS) {
  test(`usageEventsOf: ${from ?? '(unseen)'} → ${to}`, () => assert.deepEqual(usageEventsOf(from, to), expected));
}

test('usageReport: sessions per pool, user and day; peaks with sessions open before the window; boots and resets; waits', () => {
  const events = [
    ev(-2, 'session-start', 'a', 'a-1', 'ann'), // open when the window starts
    ev(1, 'boot', 'a', 'a-2'),
    ev(2, 'session-start', 'a', 'a-2', 'bob'),
    ev(3, 'session-start', 'b', 'b-1', 'ann'),
    ev(4, 'session-end', 'a', 'a-1'),
    ev(4, 'reset', 'a', 'a-1'),
    ev(5, 'session-start', 'a', 'a-1', 'ann'),
    ev(26, 'session-start', 'b', 'b-2', 'ann'), // the next day, two open in b
    ev(30, 'session-start', 'a', 'a-3', 'cid'), // after the window
  ];
  const waits = [{ pool: 'a', at: T0 + 2 * H, ms: 4000 }, { pool: 'a', at: T0 + 5 * H, ms: 1000 }, { pool: 'b', at: T0 - H, ms: 9 }];
  const r = usageReport(events, waits, T0, T0 + 28 * H);
  assert.deepEqual(r.sessions, [
    { pool: 'a', user: 'ann', day: '2026-12-01', sessions: 1 },
    { pool: 'a', user: 'bob', day: '2026-12-01', sessions: 1 },
    { pool: 'b', user: 'ann', day: '2026-12-01', sessions: 1 },
    { pool: 'b', user: 'ann', day: '2026-12-02', sessions: 1 },
  ]);
  assert.deepEqual(r.peaks, [
    { pool: 'a', peak: 2, at: '2026-12-01T02:00:00.000Z' },
    { pool: 'b', peak: 2, at: '2026-12-02T02:00:00.000Z' },
  ]);
  assert.deepEqual(r.desktops, [{ pool: 'a', day: '2026-12-01', booted: 1, reset: 1 }]);
  assert.deepEqual(r.waits, [{ pool: 'a', logins: 2, p50Ms: 1000, p95Ms: 4000 }]);
});

test('usageReport: a session open through the whole window still makes the peak', () => {
  const r = usageReport([ev(-5, 'session-start', 'a', 'a-1', 'ann')], [], T0, T0 + H);
  assert.deepEqual(r.peaks, [{ pool: 'a', peak: 1, at: '2026-12-01T00:00:00.000Z' }]);
  assert.deepEqual(r.sessions, []);
});

test('usageCsv: one row per figure; cells quoted, never read as formulas', () => {
  const csv = usageCsv({
    from: '', to: '',
    sessions: [{ pool: 'p', user: '=cmd', day: '2026-12-01', sessions: 2 }],
    peaks: [{ pool: 'p', peak: 1, at: '2026-12-01T05:00:00.000Z' }],
    waits: [{ pool: 'p', logins: 1, p50Ms: 10, p95Ms: null }],
    desktops: [{ pool: 'p', day: '2026-12-01', booted: 3, reset: 0 }],
  });
  assert.equal(csv, [
    'measure,pool,user,day,value',
    'sessions,p,"\'=cmd",2026-12-01,2',
    'peak-concurrent,p,,2026-12-01,1',
    'login-wait-p50-ms,p,,,10',
    'login-wait-p95-ms,p,,,',
    'desktops-booted,p,,2026-12-01,3',
    'desktops-reset,p,,2026-12-01,0',
    '',
  ].join('\r\n'));
});
