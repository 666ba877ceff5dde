import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DesktopView } from '../contract/pools.js';
import { type ClientActivity, idleTimeouts } from './idle-plan.js';

const NOW = Date.parse('2026-11-26T12:00:00Z');
const minutesAgo = (m: number) => new Date(NOW - m * 60_000).toISOString();
const desk = (name: string, state: DesktopView['state'], sinceMinutes: number): DesktopView => ({ name, pool: 'p', state, user: 'u', host: null, imageVersion: 1, since: minutesAgo(sinceMinutes) });

const CASES: Array<{ name: string; policy: { idleDisconnectMinutes: number; idleLogoffMinutes: number }; desktop: DesktopView; activity?: ClientActivity; expect: string[] }> = [
  { name: 'a fraction of a minute, past', policy: { idleDisconnectMinutes: 0, idleLogoffMinutes: 0.25 }, desktop: desk('d', 'disconnected', 0.3), expect: ['d:disconnected-too-long'] },
  { name: 'a fraction of a minute, not yet', policy: { idleDisconnectMinutes: 0, idleLogoffMinutes: 0.25 }, desktop: desk('d', 'disconnected', 0.2), expect: [] },
  { name: 'disconnected past the logoff limit', policy: { idleDisconnectMinutes: 0, idleLogoffMinutes: 30 }, desktop: desk('d', 'disconnected', 31), expect: ['d:disconnected-too-long'] },
  { name: 'disconnected exactly at the limit', policy: { idleDisconnectMinutes: 0, idleLogoffMinutes: 30 }, desktop: desk('d', 'disconnected', 30), expect: ['d:disconnected-too-long'] },
  { name: 'disconnected, not yet', policy: { idleDisconnectMinutes: 0, idleLogoffMinutes: 30 }, desktop: desk('d', 'disconnected', 29), expect: [] },
  { name: 'logoff limit 0 means never', policy: { idleDisconnectMinutes: 0, idleLogoffMinutes: 0 }, desktop: desk('d', 'disconnected', 10_000), expect: [] },
  { name: 'in use, clients idle past the limit', policy: { idleDisconnectMinutes: 15, idleLogoffMinutes: 0 }, desktop: desk('d', 'in-use', 100), activity: { count: 1, activityAt: NOW - 16 * 60_000 }, expect: ['d:no-input'] },
  { name: 'in use, recent input', policy: { idleDisconnectMinutes: 15, idleLogoffMinutes: 0 }, desktop: desk('d', 'in-use', 100), activity: { count: 2, activityAt: NOW - 60_000 }, expect: [] },
  { name: 'in use with no display client (nothing to disconnect)', policy: { idleDisconnectMinutes: 15, idleLogoffMinutes: 0 }, desktop: desk('d', 'in-use', 100), activity: { count: 0, activityAt: 0 }, expect: [] },
  { name: 'in use, never seen a client', policy: { idleDisconnectMinutes: 15, idleLogoffMinutes: 0 }, desktop: desk('d', 'in-use', 100), expect: [] },
  { name: 'a spare is never idle', policy: { idleDisconnectMinutes: 1, idleLogoffMinutes: 1 }, desktop: { ...desk('d', 'ready', 100), user: null }, activity: { count: 1, activityAt: 0 }, expect: [] },
  { name: 'logging off already', policy: { idleDisconnectMinutes: 1, idleLogoffMinutes: 1 }, desktop: desk('d', 'logging-off', 100), activity: { count: 1, activityAt: 0 }, expect: [] },
];

for (const c of CASES) {
  test(`idle policy: ${c.name}`, () => {
    const got = idleTimeouts(c.policy, [c.desktop], () => c.activity, NOW).map((t) => `${t.desktop}:${t.reason}`);
    assert.deepEqual(got, c.expect);
  });
}
