// Attacker: someone holding a user's old credentials (a stolen cookie or token, an open tab on a shared PC).
// Defences: changing the password ends every other session and token; disabling or deleting a user closes their
// live display, console and event connections at once (not at their next request); login tokens expire
// (serve --token-ttl) and can be listed and revoked, which also closes what they opened.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import { TestDaemon, until } from '../helpers/daemon.js';
import { guestArtifacts } from '../helpers/guests.js';
import { call, sessionCookieOf, type Target } from '../auth/http.js';
import { eventStream, socketOpen, within } from './live.js';

const g = guestArtifacts();
const PW = { ada: 'correct horse battery 9', bo: 'the-builder-42', cy: 'tandem-rider-43' };
let daemon: TestDaemon;
let url: string;
let web: Target;
let root: string;

const asRoot = (method: string, path: string, body?: unknown) => call({ socketPath: daemon.socket }, method, path, { token: root, body });
const cookieOf = async (user: keyof typeof PW, password = PW[user]) => {
  const r = await call(web, 'POST', '/v1/auth/login', { body: { user, password }, origin: url });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return sessionCookieOf(r)!;
};
const tokenOf = async (user: keyof typeof PW, password = PW[user]) => {
  const r = await call(web, 'POST', '/v1/auth/tokens', { body: { user, password, label: 'test' } });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return r.json as { token: string; expiresAt: string };
};
const meStatus = async (auth: { cookie?: string; token?: string }) => (await call(web, 'GET', '/v1/auth/me', auth)).status;

before(async () => {
  daemon = await TestDaemon.start({ extraArgs: ['--listen', '127.0.0.1:0', '--token-ttl', '2h'] });
  url = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(daemon.output)![1]!;
  web = { url };
  root = readFileSync(join(daemon.dataDir, 'root.token'), 'utf8').trim();
  for (const [name, password] of Object.entries(PW)) {
    const r = await asRoot('POST', '/v1/users', { name, password, roles: name === 'ada' ? ['admin'] : ['user'] });
    assert.equal(r.status, 201, JSON.stringify(r.json));
  }
  // A running VM for the console and the display; nothing needs to boot inside it.
  const conf = join(daemon.dataDir, 'box.conf');
  writeFileSync(conf, `vm "box" {\n memory 96M\n boot "${g.amd64.kernel}"\n initrd "${g.amd64.initrd}"\n cmdline "console=ttyS0 quiet"\n disable\n}\n`);
  assert.equal((await asRoot('POST', '/v1/config/load', { path: conf })).status, 200);
  const started = await asRoot('POST', '/v1/vms/box/start', {});
  assert.equal(started.status, 200, JSON.stringify(started.json));
});
after(async () => {
  await daemon?.destroy();
});

test('changing your password ends your other sessions and tokens, not the one you changed it with', async () => {
  const here = await cookieOf('bo');
  const elsewhere = await cookieOf('bo');
  const { token } = await tokenOf('bo');
  const stream = await eventStream(url, { cookie: elsewhere });
  const r = await call(web, 'POST', '/v1/users/bo/password', { cookie: here, body: { current: PW.bo, password: 'a-new-password-77' } });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.equal(await meStatus({ cookie: here }), 200, 'the session that changed it goes on');
  assert.equal(await meStatus({ cookie: elsewhere }), 401, 'the other session is over');
  assert.equal(await meStatus({ token }), 401, 'the old token is over');
  await within('the other session’s event stream', stream.closed);
  PW.bo = 'a-new-password-77';
});

test("disabling a user closes their display, console and event connections at once", async () => {
  const cookie = await cookieOf('ada');
  const { token } = await tokenOf('ada');
  const ticket = await call(web, 'POST', '/v1/desktops/box/display', { cookie, body: {} });
  assert.equal(ticket.status, 200, JSON.stringify(ticket.json));
  const ws = url.replace('http', 'ws');
  const live = [
    await eventStream(url, { cookie }),
    await socketOpen('console', `${ws}/v1/vms/box/console`, { authorization: `Bearer ${token}` }),
    await socketOpen('display', `${ws}${ticket.json.path as string}`, { cookie, origin: url }),
  ];
  assert.equal((await asRoot('PATCH', '/v1/users/ada', { disabled: true })).status, 200);
  for (const c of live) await within(`ada's ${c.what}`, c.closed);
  assert.equal(await meStatus({ cookie }), 401);
  assert.equal(await meStatus({ token }), 401);
  assert.equal((await asRoot('PATCH', '/v1/users/ada', { disabled: false })).status, 200);
});

test('deleting a user ends every token and session that was theirs, and their open streams', async () => {
  const cookie = await cookieOf('cy');
  const { token } = await tokenOf('cy');
  const stream = await eventStream(url, { token });
  assert.equal((await asRoot('DELETE', '/v1/users/cy')).status, 200);
  await within("cy's event stream", stream.closed);
  assert.equal(await meStatus({ cookie }), 401);
  assert.equal(await meStatus({ token }), 401);
  // A new account of the same name inherits nothing.
  assert.equal((await asRoot('POST', '/v1/users', { name: 'cy', password: PW.cy })).status, 201);
  assert.equal(await meStatus({ cookie }), 401);
  assert.equal(await meStatus({ token }), 401);
});

test('login tokens expire as configured, and are listed and revoked with the CLI', async () => {
  const { token, expiresAt } = await tokenOf('bo');
  const ttl = Date.parse(expiresAt) - Date.now();
  assert.ok(ttl > 7_000_000 && ttl <= 7_200_000, `serve --token-ttl 2h is used: ${expiresAt}`);
  const env = { ARDESIA_TOKEN: token };
  const list = await daemon.cli(['--url', url, '--json', 'token', 'list'], { env });
  assert.equal(list.code, 0, list.stderr);
  const mine = (JSON.parse(list.stdout) as Array<{ id: number; user: string; current: boolean }>).find((t) => t.current)!;
  assert.equal(mine.user, 'bo');
  // Another user cannot revoke it (nor learn that it exists).
  const other = await tokenOf('cy');
  const refused = await daemon.cli(['--url', url, 'token', 'revoke', String(mine.id)], { env: { ARDESIA_TOKEN: other.token } });
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /no token/);
  assert.equal(await meStatus({ token }), 200);

  const stream = await eventStream(url, { token });
  const revoked = await daemon.cli(['--url', url, 'token', 'revoke', String(mine.id)], { env: { ARDESIA_TOKEN: (await tokenOf('bo')).token } });
  assert.equal(revoked.code, 0, revoked.stderr);
  assert.equal(await meStatus({ token }), 401);
  await within('the revoked token’s event stream', stream.closed);

  // Expiry is the daemon's: a token whose end has passed is refused (its end moved to the past in the store).
  const short = await tokenOf('bo');
  assert.equal(await meStatus({ token: short.token }), 200);
  const db = new SqliteDatabase(join(daemon.dataDir, 'ardesia.db'));
  try {
    db.prepare("update api_tokens set expires_at = '2000-01-01T00:00:00.000Z' where kind = 'user' and principal = 'bo'").run();
  } finally {
    db.close();
  }
  await until('the expired token refused', async () => (await meStatus({ token: short.token })) === 401, 10_000);
});
