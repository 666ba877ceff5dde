import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cookiesParse, sessionCookie, sessionCookieClear } from './cookies.js';
import { SESSION_ABSOLUTE_MS, SESSION_IDLE_MS, sessionState } from './sessions.js';

test('cookie header parsing', () => {
  const cases: Array<[string | undefined, Record<string, string>]> = [
    [undefined, {}],
    ['', {}],
    ['ardesia_session=abc', { ardesia_session: 'abc' }],
    ['a=1; ardesia_session=x-y_z; b=2', { a: '1', ardesia_session: 'x-y_z', b: '2' }],
    ['ardesia_session="quoted"', { ardesia_session: 'quoted' }],
    ['ardesia_session=first; ardesia_session=second', { ardesia_session: 'first' }],
    ['junk; =novalue; ardesia_session=v=with=equals', { ardesia_session: 'v=with=equals' }],
    ['x=%E2%82%AC; bad=%E2%82', { x: '€', bad: '%E2%82' }],
  ];
  for (const [header, want] of cases) assert.deepEqual(cookiesParse(header), want, String(header));
});

test('the session cookie is HttpOnly, SameSite=Strict, Path=/ and Secure only over https', () => {
  const plain = sessionCookie('abc', { secure: false, maxAgeS: 3600 });
  assert.equal(plain, 'ardesia_session=abc; Path=/; HttpOnly; SameSite=Strict; Max-Age=3600');
  assert.equal(sessionCookie('abc', { secure: true, maxAgeS: 3600 }), `${plain}; Secure`);
  assert.equal(sessionCookieClear(false), 'ardesia_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0');
});

test('session state: idle and absolute limits', () => {
  const t0 = Date.parse('2025-01-01T00:00:00Z');
  const row = (lastSeenMs: number) => ({ last_seen_at: new Date(lastSeenMs).toISOString(), expires_at: new Date(t0 + SESSION_ABSOLUTE_MS).toISOString() });
  const cases: Array<[number, number, string]> = [
    [t0, t0, 'live'],
    [t0, t0 + SESSION_IDLE_MS - 1, 'live'],
    [t0, t0 + SESSION_IDLE_MS, 'idle-expired'],
    [t0 + SESSION_ABSOLUTE_MS - 1000, t0 + SESSION_ABSOLUTE_MS - 1, 'live'],
    [t0 + SESSION_ABSOLUTE_MS - 1000, t0 + SESSION_ABSOLUTE_MS, 'expired'],
  ];
  for (const [lastSeen, now, state] of cases) assert.equal(sessionState(row(lastSeen), now), state, `${lastSeen - t0} ${now - t0}`);
});
