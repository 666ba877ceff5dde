// Attacker: an unauthenticated network client guessing passwords. Defences: every attempt is reserved before the
// password is hashed (a concurrent burst gets no more checks than a slow one), lockouts are per (user, address)
// with growing delays (a stranger cannot lock an administrator out), and X-Forwarded-For is believed only from a
// configured trusted proxy (serve --trusted-proxy), so a client cannot pick a fresh address per guess.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { TestDaemon } from '../helpers/daemon.js';
import { call, type Target } from '../auth/http.js';

const PROXY = '127.0.0.2';
const ADMIN = { user: 'ada', password: 'correct horse battery 9' };
let daemon: TestDaemon;
let url: string;
let token: string;
const from = (n: number): Target => ({ url, localAddress: `127.0.0.${n}` });
const guess = (t: Target, password: string, headers?: Record<string, string>) => call(t, 'POST', '/v1/auth/login', { body: { user: ADMIN.user, password }, headers });
const failedChecks = async (address: string): Promise<number> => {
  const r = await call({ socketPath: daemon.socket }, 'GET', '/v1/audit?action=auth.login-failed&limit=10000', { token });
  return (r.json as Array<{ target: string; address: string }>).filter((e) => e.target === ADMIN.user && e.address === address).length;
};

before(async () => {
  daemon = await TestDaemon.start({ extraArgs: ['--listen', '127.0.0.1:0', '--trusted-proxy', PROXY] });
  url = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(daemon.output)![1]!;
  token = readFileSync(join(daemon.dataDir, 'root.token'), 'utf8').trim();
  const r = await call({ socketPath: daemon.socket }, 'POST', '/v1/users', { token, body: { name: ADMIN.user, password: ADMIN.password, roles: ['admin'] } });
  assert.equal(r.status, 201, JSON.stringify(r.json));
});
after(async () => {
  await daemon?.destroy();
});

test('200 parallel guesses get at most the allowed 5 password checks', async (t) => {
  const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => guess(from(10), `guess-${i}`)));
  const checked = replies.filter((r) => r.status === 401).length;
  const limited = replies.filter((r) => r.status === 429).length;
  t.diagnostic(`200 parallel guesses: ${checked} password checks, ${limited} refused before hashing`);
  assert.equal(checked + limited, 200, `only 401 and 429: ${[...new Set(replies.map((r) => r.status))].join(',')}`);
  assert.ok(checked <= 5, `${checked} passwords were checked; at most 5 may be`);
  assert.equal(await failedChecks('127.0.0.10'), checked, 'the audit log shows exactly the checks made');
  const right = await guess(from(10), ADMIN.password);
  assert.equal(right.status, 429, 'the attacker address waits even with the right password');
  assert.match(right.json.error.message, /user ada from address 127\.0\.0\.10; try again in \d+ s/);
});

test('the stranger has not locked the administrator out: from her own address she logs in at once', async () => {
  const r = await guess(from(11), ADMIN.password);
  assert.equal(r.status, 200, JSON.stringify(r.json));
});

test('a client that writes X-Forwarded-For itself does not get a fresh address', async () => {
  const spoofed = await guess(from(10), 'another-guess', { 'x-forwarded-for': '198.51.100.7' });
  assert.equal(spoofed.status, 429, 'still counted as 127.0.0.10');
  assert.equal(await failedChecks('198.51.100.7'), 0);
});

test('behind the trusted proxy the forwarded client is the one throttled, and audited', async () => {
  const viaProxy = (client: string, password: string) => guess(from(2), password, { 'x-forwarded-for': client });
  assert.equal((await viaProxy('127.0.0.10', ADMIN.password)).status, 429, 'the proxy passes the attacker on, still throttled');
  // The client writes a left-most hop of its own; the proxy appends the address it saw: only that one counts.
  assert.equal((await viaProxy('127.0.0.10, 203.0.113.5', 'wrong-once')).status, 401);
  assert.equal(await failedChecks('203.0.113.5'), 1);
  assert.equal((await viaProxy('203.0.113.6', ADMIN.password)).status, 200);
});
