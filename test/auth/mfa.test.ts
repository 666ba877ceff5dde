// Two-factor sign-in against a real daemon: enrolment (QR + secret, confirmed by a code), logins that need the code,
// wrong and replayed codes refused and counted by the login throttle, recovery codes single-use, `ardesia login`
// with --code and with the prompt, an administrator forced to enrol by the site setting, and the reset.
// Codes are computed here as a phone would (RFC 6238 from the secret the daemon showed).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { totpCode } from '../../src/auth/mfa.js';
import { runCli, TestDaemon } from '../helpers/daemon.js';
import { call, type Reply, sessionCookieOf, type Target } from './http.js';

let daemon: TestDaemon;
let url: string;
let rootToken: string;
const from = (n: number): Target => ({ url, localAddress: `127.0.0.${n}` });
const PW = { alice: 'wonderland-7', bob: 'builder-pass-8', carol: 'christmas-9x', dave: 'diving-deep-1' } as const;

before(async () => {
  daemon = await TestDaemon.start({ extraArgs: ['--listen', '127.0.0.1:0'] });
  url = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(daemon.output)![1]!;
  rootToken = readFileSync(join(daemon.dataDir, 'root.token'), 'utf8').trim();
  for (const [name, password] of Object.entries(PW)) {
    const r = await asRoot('POST', '/v1/users', { name, password, roles: name === 'carol' ? ['admin'] : ['user'] });
    assert.equal(r.status, 201, JSON.stringify(r.json));
  }
});
after(async () => {
  await daemon?.destroy();
});

const asRoot = (method: string, path: string, body?: unknown) => call({ socketPath: daemon.socket }, method, path, { token: rootToken, body });
const login = (t: Target, user: string, password: string, code?: string) => call(t, 'POST', '/v1/auth/login', { body: { user, password, code } });
const codeOf = (r: Reply): string | undefined => r.json?.error?.code;
/** A code of the step after now: newer than any step used so far in a test that spends at most one per step. */
const nextCode = (secret: string) => totpCode(secret, Date.now() + 30_000);

/** Enrols `user` through the API with their session; returns the secret and the recovery codes. */
async function enrol(t: Target, cookie: string, user: string): Promise<{ secret: string; recovery: string[] }> {
  const start = await call(t, 'POST', '/v1/auth/mfa/enrol', { cookie });
  assert.equal(start.status, 200, JSON.stringify(start.json));
  const { secret, uri, qrCode } = start.json as { secret: string; uri: string; qrCode: string };
  assert.match(secret, /^[A-Z2-7]{32}$/);
  assert.match(uri, new RegExp(`^otpauth://totp/Ardesia:${user}\\?.*secret=${secret}`));
  assert.match(Buffer.from(qrCode.replace(/^data:image\/svg\+xml;base64,/, ''), 'base64').toString(), /^<svg[^>]*>/);
  const pending = await call(t, 'GET', '/v1/auth/mfa', { cookie });
  assert.deepEqual(pending.json, { user, enabled: false, pending: true, recoveryCodesLeft: 0 }, 'not on before a code confirms it');
  const wrong = await call(t, 'POST', '/v1/auth/mfa/confirm', { cookie, body: { code: totpCode(secret, Date.now() - 600_000) } });
  assert.equal(codeOf(wrong), 'MFA_CODE_WRONG');
  const ok = await call(t, 'POST', '/v1/auth/mfa/confirm', { cookie, body: { code: totpCode(secret, Date.now()) } });
  assert.equal(ok.status, 200, JSON.stringify(ok.json));
  const recovery = ok.json.recoveryCodes as string[];
  assert.equal(recovery.length, 10);
  return { secret, recovery };
}

test('enrolment, then the login needs a code; wrong and replayed codes are refused; a recovery code works once', async () => {
  const t = from(10);
  const cookie = sessionCookieOf(await login(t, 'alice', PW.alice))!;
  const { secret, recovery } = await enrol(t, cookie, 'alice');
  assert.equal((await call(t, 'POST', '/v1/auth/mfa/enrol', { cookie })).json.error.code, 'MFA_ALREADY_ENABLED');

  const noCode = await login(t, 'alice', PW.alice);
  assert.equal(noCode.status, 401);
  assert.equal(codeOf(noCode), 'MFA_CODE_REQUIRED');
  assert.equal(sessionCookieOf(noCode), undefined);
  const wrongPassword = await login(t, 'alice', 'not-her-password', nextCode(secret));
  assert.equal(codeOf(wrongPassword), 'LOGIN_FAILED', 'the code is never checked before the password');

  const code = nextCode(secret);
  const good = await login(t, 'alice', PW.alice, code);
  assert.equal(good.status, 200, JSON.stringify(good.json));
  assert.deepEqual(good.json.mfa, { enabled: true, enrolmentRequired: false });
  assert.ok(sessionCookieOf(good));
  const replay = await login(t, 'alice', PW.alice, code);
  assert.equal(codeOf(replay), 'MFA_CODE_WRONG');
  assert.match(replay.json.error.message, /already used/);
  const older = await login(t, 'alice', PW.alice, totpCode(secret, Date.now()));
  assert.equal(codeOf(older), 'MFA_CODE_WRONG', 'a code of a step before the last used one is refused too');

  const viaRecovery = await login(t, 'alice', PW.alice, recovery[0]!.toUpperCase());
  assert.equal(viaRecovery.status, 200, JSON.stringify(viaRecovery.json));
  const again = await login(t, 'alice', PW.alice, recovery[0]);
  assert.equal(codeOf(again), 'MFA_CODE_WRONG', 'a recovery code works once');
  assert.equal((await call(t, 'GET', '/v1/auth/mfa', { cookie })).json.recoveryCodesLeft, 9);

  const failed = (await asRoot('GET', '/v1/audit?action=auth.login-failed&limit=100')).json as Array<{ target: string; detail: { reason: string } }>;
  const reasons = failed.filter((e) => e.target === 'alice').map((e) => e.detail.reason);
  for (const reason of ['mfa-replayed', 'mfa-wrong', 'password']) assert.ok(reasons.includes(reason), `${reason} in ${reasons.join()}`);
});

test('wrong codes count in the login throttle: after the free failures even the right code waits', async () => {
  const t = from(20);
  const cookie = sessionCookieOf(await login(t, 'bob', PW.bob))!;
  const { secret } = await enrol(t, cookie, 'bob');
  const statuses: number[] = [];
  // Five free failures per user and address (the first, without a code, counts as one: asking never resets the count).
  statuses.push((await login(t, 'bob', PW.bob)).status);
  for (let i = 0; i < 4; i++) statuses.push((await login(t, 'bob', PW.bob, totpCode(secret, Date.now() - 3_600_000 * (i + 1)))).status);
  assert.deepEqual(statuses, [401, 401, 401, 401, 401]);
  const limited = await login(t, 'bob', PW.bob, nextCode(secret));
  assert.equal(limited.status, 429, JSON.stringify(limited.json));
  assert.equal(codeOf(limited), 'LOGIN_RATE_LIMITED');
  const elsewhere = await login(from(21), 'bob', PW.bob, nextCode(secret));
  assert.equal(elsewhere.status, 200, 'the real user at another address is not slowed');
});

test('`ardesia login` takes --code or asks for it; `ardesia user mfa reset` turns it off', async () => {
  const cookie = sessionCookieOf(await login(from(30), 'dave', PW.dave))!;
  const { recovery } = await enrol(from(30), cookie, 'dave');
  const home = mkdtempSync(join(tmpdir(), 'ah-'));
  const noTokens = mkdtempSync(join(tmpdir(), 'ad-'));
  const env = { HOME: home, XDG_CONFIG_HOME: '', ARDESIA_TOKEN: '' };
  const cli = (args: string[], input?: string) => runCli(noTokens, ['--socket', daemon.socket, ...args], { env, input });
  try {
    const withFlag = await cli(['login', '--user', 'dave', '--code', recovery[1]!], `${PW.dave}\n`);
    assert.equal(withFlag.code, 0, withFlag.stderr);
    const asked = await cli(['login', '--user', 'dave'], `${PW.dave}\n${recovery[2]}\n`);
    assert.equal(asked.code, 0, asked.stderr);
    assert.equal((await call(from(30), 'GET', '/v1/auth/mfa', { cookie })).json.recoveryCodesLeft, 8, 'the asked code (stdin) was the one used');
    const wrong = await cli(['login', '--user', 'dave', '--code', recovery[1]!], `${PW.dave}\n`);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /wrong two-factor code/);
    const notAdmin = await cli(['user', 'mfa', 'reset', 'dave']);
    assert.equal(notAdmin.code, 1, 'a user cannot reset it, not even their own');
    const reset = await daemon.cli(['user', 'mfa', 'reset', 'dave']);
    assert.equal(reset.code, 0, reset.stderr);
    assert.match(reset.stdout, /two-factor sign-in of dave reset; user dave: two-factor sign-in off/);
    assert.equal((await login(from(31), 'dave', PW.dave)).status, 200, 'after the reset the password alone logs in');
    const reuse = await login(from(31), 'dave', PW.dave, recovery[3]);
    assert.equal(reuse.status, 200, 'a code given to an account without two-factor is ignored');
  } finally {
    rmSync(home, { recursive: true, force: true });
    rmSync(noTokens, { recursive: true, force: true });
  }
});

test('"administrators must use two-factor": an admin without it reaches only enrolment until enrolled', async () => {
  const t = from(40);
  const set = await daemon.cli(['settings', 'set', '--admins-must-use-mfa', 'yes']);
  assert.equal(set.code, 0, set.stderr);
  try {
    const r = await login(t, 'carol', PW.carol);
    assert.equal(r.status, 200, 'the password logs in; the session can only enrol');
    assert.deepEqual(r.json.mfa, { enabled: false, enrolmentRequired: true });
    const cookie = sessionCookieOf(r)!;
    for (const [method, path] of [['GET', '/v1/users'], ['GET', '/v1/pools'], ['GET', '/v1/images'], ['GET', '/v1/settings'], ['GET', '/v1/host']] as const) {
      const refused = await call(t, method, path, { cookie });
      assert.equal(refused.status, 403, `${method} ${path}`);
      assert.equal(codeOf(refused), 'MFA_ENROLMENT_REQUIRED', `${method} ${path}`);
      assert.match(refused.json.error.hint, /set it up first/);
    }
    const token = (await call(t, 'POST', '/v1/auth/tokens', { body: { user: 'carol', password: PW.carol } })).json.token as string;
    assert.equal(codeOf(await call(t, 'GET', '/v1/users', { token })), 'MFA_ENROLMENT_REQUIRED', 'an API token of hers too');
    assert.equal((await call(t, 'GET', '/v1/auth/me', { cookie })).status, 200);
    const { secret } = await enrol(t, cookie, 'carol');
    assert.equal((await call(t, 'GET', '/v1/users', { cookie })).status, 200, 'enrolled: the session works in full');
    assert.equal(codeOf(await login(from(41), 'carol', PW.carol)), 'MFA_CODE_REQUIRED');
    assert.equal((await login(from(41), 'carol', PW.carol, nextCode(secret))).status, 200);
    assert.equal((await asRoot('POST', '/v1/users', { name: 'erin', password: 'evening-star-2' })).status, 201);
    const plain = sessionCookieOf(await login(from(43), 'erin', 'evening-star-2'))!;
    assert.equal((await call(from(43), 'GET', '/v1/pools', { cookie: plain })).status, 200, 'the rule is for administrators only');
  } finally {
    assert.equal((await daemon.cli(['settings', 'set', '--admins-must-use-mfa', 'no'])).code, 0);
  }
});
