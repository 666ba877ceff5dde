// Logins against a real daemon: cookies, same answer for unknown user and wrong password, rate limits per user
// and per address, disabled users, logout, `ardesia login` as a new user would, and the append-only audit log.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import { runCli, TestDaemon } from '../helpers/daemon.js';
import { call, type Target, sessionCookieOf } from './http.js';

let daemon: TestDaemon;
let url: string;
let root: Target;
const from = (n: number): Target => ({ url, localAddress: `127.0.0.${n}` });
const PW: Record<string, string> = { alice: 'wonderland-7', bob: 'builder-pass-8', carol: 'christmas-9x', dave: 'diving-deep-1', erin: 'evening-star-2' };

before(async () => {
  daemon = await TestDaemon.start({ extraArgs: ['--listen', '127.0.0.1:0'] });
  url = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(daemon.output)![1]!;
  root = { socketPath: daemon.socket };
  const token = readFileSync(join(daemon.dataDir, 'root.token'), 'utf8').trim();
  assert.equal((await call(root, 'POST', '/v1/groups', { token, body: { name: 'staff' } })).status, 201);
  for (const [name, password] of Object.entries(PW)) {
    const r = await call(root, 'POST', '/v1/users', { token, body: { name, password, groups: name === 'alice' ? ['staff'] : [] } });
    assert.equal(r.status, 201, JSON.stringify(r.json));
  }
});
after(async () => {
  await daemon?.destroy();
});

const login = (t: Target, user: string, password: string) => call(t, 'POST', '/v1/auth/login', { body: { user, password } });
const asRoot = (method: string, path: string, body?: unknown) =>
  call(root, method, path, { token: readFileSync(join(daemon.dataDir, 'root.token'), 'utf8').trim(), body });

test('login sets an HttpOnly SameSite=Strict cookie that /v1/auth/me accepts', async () => {
  const r = await login(from(10), 'alice', PW.alice!);
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.deepEqual(r.json, { user: 'alice', admin: false, roles: ['user'], groups: ['staff'], keyboardLayout: 'us', mfa: { enabled: false, enrolmentRequired: false } });
  const setCookie = String(r.headers['set-cookie']);
  assert.match(setCookie, /^ardesia_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/, 'no Secure over plain http');
  const me = await call(from(10), 'GET', '/v1/auth/me', { cookie: sessionCookieOf(r) });
  assert.equal(me.status, 200);
  assert.equal(me.json.user, 'alice');
  const forged = await call(from(10), 'GET', '/v1/auth/me', { cookie: 'ardesia_session=forged' });
  assert.equal(forged.status, 401);
});

test('an unknown user and a wrong password get the same answer', async () => {
  const wrong = await login(from(11), 'alice', 'not-the-password');
  const unknown = await login(from(12), 'nosuchuser', 'not-the-password');
  assert.equal(wrong.status, 401);
  assert.equal(unknown.status, 401);
  assert.deepEqual(wrong.json, unknown.json);
  assert.equal(wrong.json.error.code, 'LOGIN_FAILED');
  assert.equal(sessionCookieOf(wrong), undefined);
});

test('rate limit per address: 429 with the retry time; a valid user from another address still gets in', async () => {
  for (let i = 0; i < 30; i++) assert.equal((await login(from(20), `u${i}`, 'guess-guess')).status, 401);
  const blocked = await login(from(20), 'bob', PW.bob!);
  assert.equal(blocked.status, 429, 'even the right password waits');
  assert.equal(blocked.json.error.code, 'LOGIN_RATE_LIMITED');
  assert.match(blocked.json.error.message, /address 127\.0\.0\.20; try again in \d+ min/);
  assert.equal((await login(from(21), 'bob', PW.bob!)).status, 200);
});

test('rate limit per user and address: a stranger locks only themself out, never the user', async () => {
  for (let i = 0; i < 5; i++) assert.equal((await login(from(30), 'carol', 'guess-guess')).status, 401);
  const blocked = await login(from(30), 'carol', PW.carol!);
  assert.equal(blocked.status, 429);
  assert.match(blocked.json.error.message, /user carol from address 127\.0\.0\.30; try again in 30 s/);
  assert.equal((await login(from(36), 'carol', PW.carol!)).status, 200, 'carol at her own address is not locked out');
  assert.equal((await login(from(30), 'bob', PW.bob!)).status, 200, 'the address itself is fine for other users');
});

test('a disabled user cannot log in, and their sessions and tokens stop working', async () => {
  const session = sessionCookieOf(await login(from(40), 'dave', PW.dave!));
  const token = (await call(from(40), 'POST', '/v1/auth/tokens', { body: { user: 'dave', password: PW.dave } })).json.token as string;
  assert.equal((await call(from(40), 'GET', '/v1/auth/me', { token })).status, 200);
  assert.equal((await asRoot('PATCH', '/v1/users/dave', { disabled: true })).status, 200);
  assert.equal((await call(from(40), 'GET', '/v1/auth/me', { cookie: session })).status, 401);
  assert.equal((await call(from(40), 'GET', '/v1/auth/me', { token })).status, 401);
  const again = await login(from(41), 'dave', PW.dave!);
  assert.equal(again.status, 401);
  assert.equal(again.json.error.message, 'wrong user name or password', 'disabled looks like any failure');
  assert.equal((await asRoot('PATCH', '/v1/users/dave', { disabled: false })).status, 200);
  assert.equal((await login(from(42), 'dave', PW.dave!)).status, 200);
});

test('logout ends the session and clears the cookie', async () => {
  const cookie = sessionCookieOf(await login(from(50), 'alice', PW.alice!));
  const out = await call(from(50), 'POST', '/v1/auth/logout', { cookie });
  assert.equal(out.status, 200);
  assert.match(String(out.headers['set-cookie']), /^ardesia_session=; Path=\/; HttpOnly; SameSite=Strict; Max-Age=0/);
  assert.equal((await call(from(50), 'GET', '/v1/auth/me', { cookie })).status, 401);
});

test('`ardesia login` as a new user: the token is kept 0600 and used; logout revokes it', async () => {
  const home = mkdtempSync(join(tmpdir(), 'ah-'));
  const noTokens = mkdtempSync(join(tmpdir(), 'ad-')); // a data dir without root.token: as a user without one would
  const env = { HOME: home, XDG_CONFIG_HOME: '', ARDESIA_TOKEN: '' };
  const cli = (args: string[], input?: string) => runCli(noTokens, ['--socket', daemon.socket, ...args], { env, input });
  try {
    const anon = await cli(['user', 'show']);
    assert.equal(anon.code, 1, 'not logged in yet');
    const r = await cli(['login', '--user', 'erin'], `${PW.erin}\n`);
    assert.equal(r.code, 0, r.stderr);
    const tokenFile = join(home, '.config', 'ardesia', 'token');
    assert.equal(statSync(tokenFile).mode & 0o777, 0o600);
    const show = await cli(['--json', 'user', 'show']);
    assert.equal(show.code, 0, show.stderr);
    assert.equal(JSON.parse(show.stdout).name, 'erin');
    const audit = await cli(['audit']);
    assert.equal(audit.code, 1);
    assert.match(audit.stderr, /only an administrator/);
    const token = readFileSync(tokenFile, 'utf8').trim();
    const out = await cli(['logout']);
    assert.equal(out.code, 0, out.stderr);
    assert.equal(existsSync(tokenFile), false);
    assert.equal((await call(root, 'GET', '/v1/auth/me', { token })).status, 401, 'revoked in the daemon too');
    const bad = await cli(['login', '--user', 'erin'], 'wrong-password\n');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /wrong user name or password/);
  } finally {
    rmSync(home, { recursive: true, force: true });
    rmSync(noTokens, { recursive: true, force: true });
  }
});

test('`ardesia user add` without a password prints a generated one that logs in', async () => {
  const r = await daemon.cli(['user', 'add', 'frank', '--groups', 'staff']);
  assert.equal(r.code, 0, r.stderr);
  const password = /^password: (\S+)$/m.exec(r.stdout)?.[1];
  assert.ok(password, r.stdout);
  assert.equal((await login(from(60), 'frank', password)).status, 200);
  const listed = JSON.parse((await daemon.cli(['--json', 'user', 'list'])).stdout) as Array<{ name: string; lastLoginAt: string | null }>;
  assert.ok(listed.find((u) => u.name === 'frank')?.lastLoginAt, 'last login recorded');
  assert.ok(!JSON.stringify(listed).includes(password), 'never shown again');
});

test('the audit log shows who, what, when and from where, and cannot be rewritten', async () => {
  const cookie = sessionCookieOf(await login(from(70), 'bob', PW.bob!));
  assert.equal((await call(from(70), 'PATCH', '/v1/users/bob', { cookie, body: { keyboardLayout: 'de' } })).status, 200);
  const entries = (await asRoot('GET', '/v1/audit?principal=bob&action=user.update')).json as Array<Record<string, unknown>>;
  assert.equal(entries.length, 1);
  assert.equal(entries[0]!.target, 'bob');
  assert.equal(entries[0]!.address, '127.0.0.70');
  assert.deepEqual(entries[0]!.detail, { keyboardLayout: 'de' });
  assert.ok(Math.abs(Date.parse(String(entries[0]!.at)) - Date.now()) < 600_000);
  const created = (await asRoot('GET', '/v1/audit?action=user.create&limit=100')).json as Array<Record<string, unknown>>;
  assert.ok(created.some((e) => e.principal === 'root' && e.target === 'alice' && e.address === 'local'));
  assert.equal((await login(from(71), 'alice', 'not-her-password')).status, 401); // this test's own failure: it runs alone too
  const failed = (await asRoot('GET', '/v1/audit?action=auth.login-failed&limit=1000')).json as Array<Record<string, unknown>>;
  assert.ok(failed.some((e) => e.target === 'alice' && e.address === '127.0.0.71'));
  const text = await daemon.cli(['audit', '--limit', '5']);
  assert.match(text.stdout, /WHEN\s+WHO\s+FROM\s+ACTION/);

  const db = new SqliteDatabase(join(daemon.dataDir, 'ardesia.db'));
  try {
    assert.throws(() => db.prepare("update audit set principal = 'nobody'").run(), /append-only/);
    assert.throws(() => db.prepare('delete from audit').run(), /append-only/);
  } finally {
    db.close();
  }
});

test('a user may change only their own keyboard layout and read only their own account', async () => {
  const cookie = sessionCookieOf(await login(from(80), 'alice', PW.alice!));
  const up = await call(from(80), 'PATCH', '/v1/users/alice', { cookie, body: { roles: ['admin'] } });
  assert.equal(up.status, 403);
  assert.equal((await call(from(80), 'GET', '/v1/users/bob', { cookie })).status, 403);
  const pw = await call(from(80), 'POST', '/v1/users/alice/password', { cookie, body: { current: 'wrong-current', password: 'a-newer-pass-3' } });
  assert.equal(pw.json.error.code, 'PASSWORD_CURRENT_WRONG');
  const weak = await call(from(80), 'POST', '/v1/users/alice/password', { cookie, body: { current: PW.alice, password: 'short' } });
  assert.equal(weak.json.error.code, 'PASSWORD_WEAK');
});
