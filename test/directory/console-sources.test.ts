// Directory sources made in the console (the API), against a real slapd: a daemon WITHOUT --directory gets a source
// and its users log in at once; every problem of wrong settings listed; a typed bind password never comes back from
// any route nor the audit; Test connection names a refused bind; PUT without password keeps logins working; delete
// ends the users' sessions; a second daemon's --directory source stays read-only; every new route's replies match the document.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ALL_ROUTES } from '../../src/api/server.js';
import { runCli, TestDaemon } from '../helpers/daemon.js';
import { type OpenApiDoc, ResponseChecker } from '../api/responses-support.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { personLdif, type Slapd, slapdStart, SUFFIX, testCaMake } from './slapd.js';

let slapd: Slapd;
let daemon: TestDaemon;
let url: string;
let rootToken: string;
let bindPassword: string;

async function call(base: string, method: string, path: string, body?: unknown, token?: string, cookie?: string): Promise<{ status: number; body: any; text: string; cookie?: string }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(cookie ? { cookie } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, text, cookie: res.headers.get('set-cookie')?.split(';')[0] };
}
const api = (method: string, path: string, body?: unknown, token = rootToken) => call(url, method, path, body, token);

const sourceBody = (over: Record<string, unknown> = {}) => ({
  name: 'corp', kind: 'ldap', urls: [slapd.ldapsUrl], caFile: slapd.ca,
  bind: { dn: slapd.bindDn, password: bindPassword },
  userBase: `ou=people,${SUFFIX}`, groupBase: `ou=groups,${SUFFIX}`, groups: {}, adminGroups: [],
  ...over,
});

before(async () => {
  slapd = await slapdStart();
  slapd.modify([personLdif('carla', 'Carla Console', 'carla-pass-1'), personLdif('dan', 'Dan Deleted', 'dan-pass-1')].join('\n'));
  bindPassword = readFileSync(slapd.bindPasswordFile, 'utf8').split('\n')[0]!;
  daemon = await TestDaemon.start({ extraArgs: ['--listen', '127.0.0.1:0'] });
  url = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(daemon.output)![1]!;
  rootToken = readFileSync(join(daemon.dataDir, 'root.token'), 'utf8').trim();
});
after(async () => {
  await daemon?.destroy();
  await slapd?.stop();
});

describe('directory sources made in the console (real slapd, daemon without --directory)', () => {
  it('wrong settings are refused with every problem listed by path', async () => {
    const r = await api('POST', '/v1/directory/sources', { name: 'Bad Name', kind: 'nis', urls: ['http://x'], userBase: '', groupBase: 'ou=g', surprise: 1 });
    assert.deepEqual([r.status, r.body.error.code], [400, 'DIRECTORY_SOURCE_INVALID']);
    const paths = (r.body.error.details.problems as string[]).map((p) => p.split(':')[0]);
    for (const p of ['name', 'kind', 'urls.0', 'userBase', '(top)']) assert.ok(paths.includes(p), `${p} in ${JSON.stringify(r.body.error.details.problems)}`);
    const plain = await api('POST', '/v1/directory/sources', sourceBody({ urls: [slapd.ldapUrl] }));
    assert.deepEqual([plain.status, plain.body.error.code], [400, 'DIRECTORY_SOURCE_INVALID']);
    assert.match(plain.body.error.message, /urls: ldap:\/\/ without startTls/, 'the same cross-field checks as the file');
    const noFile = await api('POST', '/v1/directory/sources', sourceBody({ caFile: '/nonexistent/ca.pem' }));
    assert.match(noFile.body.error.message, /caFile: /);
    assert.equal((await api('GET', '/v1/directory/sources')).body.length, 0, 'nothing was saved');
  });

  it('Test connection: the right settings answer; a wrong bind password is named with its code; an unreachable server too', async () => {
    const good = await api('POST', '/v1/directory/connection-test', sourceBody());
    assert.deepEqual([good.status, good.body.ok, good.body.usersFound], [200, true, 2], JSON.stringify(good.body));
    const wrong = await api('POST', '/v1/directory/connection-test', sourceBody({ bind: { dn: slapd.bindDn, password: 'not-the-password' } }));
    assert.deepEqual([wrong.body.ok, wrong.body.problem, wrong.body.code], [false, 'bind-refused', 'DIRECTORY_UNREACHABLE'], JSON.stringify(wrong.body));
    const dead = await api('POST', '/v1/directory/connection-test', sourceBody({ urls: ['ldaps://127.0.0.1:1'] }));
    assert.deepEqual([dead.body.ok, dead.body.problem], [false, 'unreachable'], JSON.stringify(dead.body));
    const impostorDir = mkdtempSync(join(tmpdir(), 'ard-impostor-'));
    const tls = await api('POST', '/v1/directory/connection-test', sourceBody({ caFile: testCaMake(impostorDir).ca })).finally(() => rmSync(impostorDir, { recursive: true, force: true }));
    assert.deepEqual([tls.body.ok, tls.body.problem, tls.body.code], [false, 'tls', 'DIRECTORY_UNREACHABLE'], JSON.stringify(tls.body));
    assert.equal((await api('GET', '/v1/directory/sources')).body.length, 0, 'a test saves nothing');
  });

  it('an admin makes a source: a directory user logs in at once; the typed password is never returned nor audited', async () => {
    assert.equal((await call(url, 'POST', '/v1/auth/login', { user: 'carla', password: 'carla-pass-1' })).status, 401, 'no source yet');
    const made = await api('POST', '/v1/directory/sources', sourceBody());
    assert.equal(made.status, 201, made.text);
    assert.deepEqual([made.body.origin, made.body.bindPassword, made.body.reachable, made.body.usersFound], ['console', 'set', true, 2]);
    const login = await call(url, 'POST', '/v1/auth/login', { user: 'carla', password: 'carla-pass-1' });
    assert.equal(login.status, 200, login.text);
    const again = await api('POST', '/v1/directory/sources', sourceBody());
    assert.deepEqual([again.status, again.body.error.code], [409, 'DIRECTORY_SOURCE_EXISTS']);
    const list = await api('GET', '/v1/directory/sources');
    assert.deepEqual(list.body.map((s: { name: string; settings: { bind: unknown } }) => [s.name, s.settings.bind]), [['corp', { dn: slapd.bindDn }]]);
    const audit = await api('GET', '/v1/audit?limit=100');
    assert.ok(audit.text.includes('directory.source-create'), 'the change is audited');
    for (const r of [made, list, audit]) assert.ok(!r.text.includes(bindPassword), 'the bind password never leaves the store');
  });

  it('PUT without a password keeps the stored one: logins keep working, the new mapping applies, the reply has no password', async () => {
    const { bind: _bind, ...rest } = sourceBody();
    const put = await api('PUT', '/v1/directory/sources/corp', { ...rest, bind: { dn: slapd.bindDn }, groups: { staff: ['office-users'] } });
    assert.equal(put.status, 200, put.text);
    assert.deepEqual([put.body.bindPassword, put.body.reachable, put.body.settings.groups], ['set', true, { staff: ['office-users'] }]);
    assert.ok(!put.text.includes(bindPassword));
    assert.equal((await call(url, 'POST', '/v1/auth/login', { user: 'carla', password: 'carla-pass-1' })).status, 200);
    const check = await api('POST', '/v1/directory/connection-test', { ...rest, bind: { dn: slapd.bindDn } });
    assert.equal(check.body.ok, true, 'Test connection of a saved source uses its stored password');
    const audit = await api('GET', '/v1/audit?limit=100');
    assert.ok(audit.text.includes('directory.source-replace') && !audit.text.includes(bindPassword));
    const moved = await api('PUT', '/v1/directory/sources/corp', { ...rest, urls: [slapd.ldapUrl], startTls: true, bind: { dn: slapd.bindDn } });
    assert.deepEqual([moved.status, moved.body.error?.code], [400, 'DIRECTORY_SOURCE_INVALID']);
    assert.match(moved.body.error.message, /type the password again/, 'the stored password never follows changed servers');
    const missing = await api('PUT', '/v1/directory/sources/nosuch', rest);
    assert.deepEqual([missing.status, missing.body.error.code], [404, 'DIRECTORY_SOURCE_NOT_FOUND']);
  });

  it('delete: the users stay but their sessions and tokens end, and they log in through it no more', async () => {
    const session = await call(url, 'POST', '/v1/auth/login', { user: 'dan', password: 'dan-pass-1' });
    assert.equal(session.status, 200, session.text);
    const token = (await call(url, 'POST', '/v1/auth/tokens', { user: 'dan', password: 'dan-pass-1' })).body.token as string;
    assert.equal((await call(url, 'GET', '/v1/auth/me', undefined, undefined, session.cookie)).status, 200);
    const del = await api('DELETE', '/v1/directory/sources/corp');
    assert.equal(del.status, 200, del.text);
    assert.deepEqual(del.body, { deleted: 'corp', ended: ['carla', 'dan'] });
    assert.equal((await call(url, 'GET', '/v1/auth/me', undefined, undefined, session.cookie)).status, 401, 'the session ended');
    assert.equal((await call(url, 'GET', '/v1/auth/me', undefined, token)).status, 401, 'the token ended');
    assert.equal((await api('GET', '/v1/users/dan')).body.directory.source, 'corp', 'the user stays');
    assert.equal((await call(url, 'POST', '/v1/auth/login', { user: 'dan', password: 'dan-pass-1' })).status, 401);
    assert.equal((await api('GET', '/v1/directory/sources')).body.length, 0);
  });

  it('`ardesia directory add|set|try|remove` drive the same routes from a YAML file', async () => {
    const file = join(daemon.dataDir, 'cli-source.yaml');
    const yaml = (over: string) => `name: cli\nkind: ldap\nurls: ["${slapd.ldapsUrl}"]\ncaFile: ${slapd.ca}\nuserBase: "ou=people,${SUFFIX}"\ngroupBase: "ou=groups,${SUFFIX}"\n${over}`;
    writeFileSync(file, yaml(`bind: { dn: "${slapd.bindDn}", password: "file:${slapd.bindPasswordFile}" }\n`));
    const outside = await runCli(daemon.dataDir, ['directory', 'add', file]);
    assert.notEqual(outside.code, 0);
    assert.match(outside.stderr, /only files in .*directory-secrets/, 'a console source cannot name any file the daemon reads');
    const secrets = join(daemon.dataDir, 'directory-secrets');
    mkdirSync(secrets, { mode: 0o700, recursive: true });
    copyFileSync(slapd.bindPasswordFile, join(secrets, 'cli-bind'));
    writeFileSync(file, yaml(`bind: { dn: "${slapd.bindDn}", password: "file:${join(secrets, 'cli-bind')}" }\n`));
    const tried = await runCli(daemon.dataDir, ['directory', 'try', file]);
    assert.deepEqual([tried.code, tried.stdout.trim()], [0, `connection works: the directory answered: 2 user entries under ou=people,${SUFFIX}`], tried.stderr);
    const added = await runCli(daemon.dataDir, ['directory', 'add', file]);
    assert.deepEqual([added.code, added.stdout.trim()], [0, 'directory source cli made: reachable'], added.stderr);
    writeFileSync(file, yaml(`bind: { dn: "${slapd.bindDn}" }\nadminGroups: [admins]\n`));
    const set = await runCli(daemon.dataDir, ['directory', 'set', 'cli', file]);
    assert.deepEqual([set.code, set.stdout.trim()], [0, 'directory source cli saved: reachable'], set.stderr);
    writeFileSync(file, 'name: cli2\nkind: nis\nurls: []\n');
    const bad = await runCli(daemon.dataDir, ['directory', 'add', file]);
    assert.notEqual(bad.code, 0);
    for (const path of ['kind:', 'urls:', 'userBase:', 'groupBase:']) assert.ok(bad.stderr.includes(path), `${path} in ${bad.stderr}`);
    const removed = await runCli(daemon.dataDir, ['directory', 'remove', 'cli']);
    assert.deepEqual([removed.code, removed.stdout.trim()], [0, 'directory source cli deleted; sessions ended: none'], removed.stderr);
  });

  it("every role on the new routes; an administrator's replies match the OpenAPI document", async () => {
    const made = await api('POST', '/v1/users', { name: 'plain', password: 'tall-river-81' });
    assert.equal(made.status, 201, made.text);
    const user = (await call(url, 'POST', '/v1/auth/tokens', { user: 'plain', password: 'tall-river-81' })).body.token as string;
    const routes: Array<[string, string, unknown]> = [
      ['POST', '/v1/directory/sources', sourceBody({ name: 'x' })], ['PUT', '/v1/directory/sources/x', sourceBody()],
      ['DELETE', '/v1/directory/sources/x', undefined], ['POST', '/v1/directory/connection-test', sourceBody()],
    ];
    for (const [method, path, body] of routes) {
      assert.equal((await call(url, method, path, body)).status, 401, `${method} ${path} anonymous`);
      assert.equal((await call(url, method, path, body, user)).body?.error?.code, 'FORBIDDEN', `${method} ${path} as a user`);
    }
    const check = new ResponseChecker(url, (await api('GET', '/v1/openapi.json')).body as OpenApiDoc, ALL_ROUTES);
    const root = { token: rootToken };
    await check.call('POST /v1/directory/sources', '/v1/directory/sources', root, sourceBody({ name: 'checked' }));
    await check.call('PUT /v1/directory/sources/:name', '/v1/directory/sources/checked', root, sourceBody({ name: 'checked' }));
    await check.call('POST /v1/directory/connection-test', '/v1/directory/connection-test', root, sourceBody({ bind: { dn: slapd.bindDn, password: 'nope' } }));
    await check.call('DELETE /v1/directory/sources/:name', '/v1/directory/sources/checked', root);
    check.assertChecked(['POST /v1/directory/sources', 'PUT /v1/directory/sources/:name', 'POST /v1/directory/connection-test', 'DELETE /v1/directory/sources/:name']);
  });

  it("a source of the --directory file is shown read-only: never replaced, deleted, nor shadowed by a console source", async () => {
    const file = join(slapd.dir, 'console-directory.json');
    writeFileSync(file, JSON.stringify({ syncIntervalSeconds: 0, sources: [{ ...sourceBody({ name: 'filed' }), bind: { dn: slapd.bindDn, password: `file:${slapd.bindPasswordFile}` } }] }));
    const second = await TestDaemon.start({ extraArgs: ['--listen', '127.0.0.1:0', '--directory', file] });
    try {
      const base = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(second.output)![1]!;
      const root = readFileSync(join(second.dataDir, 'root.token'), 'utf8').trim();
      const [src] = (await call(base, 'GET', '/v1/directory/sources', undefined, root)).body;
      assert.deepEqual([src.name, src.origin, src.file, src.bindPassword], ['filed', 'file', file, 'reference']);
      for (const [method, body] of [['PUT', sourceBody({ name: 'filed' })], ['DELETE', undefined]] as const) {
        const r = await call(base, method, '/v1/directory/sources/filed', body, root);
        assert.deepEqual([r.status, r.body.error.code], [409, 'DIRECTORY_SOURCE_FROM_FILE'], `${method}`);
      }
      const shadow = await call(base, 'POST', '/v1/directory/sources', sourceBody({ name: 'filed' }), root);
      assert.deepEqual([shadow.status, shadow.body.error.code], [409, 'DIRECTORY_SOURCE_FROM_FILE']);
      assert.equal((await call(base, 'POST', '/v1/auth/login', { user: 'carla', password: 'carla-pass-1' })).status, 200, 'the file source still logs in');
    } finally {
      await second.destroy();
    }
  });
});
