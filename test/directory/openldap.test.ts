// Directory logins against a real OpenLDAP (Debian's slapd, started here): LDAPS with the test's CA, nested groups
// → Ardesia groups and the admin role, a rename that keeps the account (and so the home), the sync ending the
// sessions of a removed user, the directory going down (local users still log in), every role on the directory
// routes, the routes' replies against the OpenAPI document, and the portal login in Chromium.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ALL_ROUTES } from '../../src/api/server.js';
import { runCli, TestDaemon, until } from '../helpers/daemon.js';
import { guestArtifacts } from '../helpers/guests.js';
import { type OpenApiDoc, ResponseChecker } from '../api/responses-support.js';
import { assertNoConsoleErrors, browserLaunch, login, pageOpen, screenshot } from '../web/browser.js';
import { DirectorySource } from '../../src/directory/client.js';
import { directoryConfigParse } from '../../src/directory/config.js';
import { ArdesiaError } from '../../src/contract/errors.js';
import { freePort, groupDn, groupLdif, personLdif, type Slapd, slapdStart, SUFFIX, testCaMake, userDn } from './slapd.js';
import { jsonCall } from './http.js';

const LOCAL_PASSWORD = 'local-password-7';
/** Folders the tests make beside the daemon's, removed at the end. */
const temps: string[] = [];
/** A fresh folder for a CA that did not sign slapd's certificate. */
const impostorDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'ard-impostor-'));
  temps.push(dir);
  return dir;
};
let slapd: Slapd;
let daemon: TestDaemon;
let url: string;
let rootToken: string;

const call = (method: string, path: string, body?: unknown, token?: string) => jsonCall(url, method, path, body, token);

const tokenOf = async (user: string, password: string) => {
  const r = await call('POST', '/v1/auth/tokens', { user, password });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.token as string;
};

before(async () => {
  slapd = await slapdStart();
  slapd.modify([
    `${personLdif('jdoe', 'John Doe', 'jdoe-pass-1')}description: de\n`, // the mapped keyboard layout attribute
    personLdif('asmith', 'Ann Smith', 'asmith-pass-1'),
    personLdif('lina', 'Lina Directory', 'lina-dir-pass-1'),
    personLdif('bob', 'Bob Nogroup', 'bob-pass-1'),
    groupLdif('staff', [userDn('jdoe')]),
    groupLdif('office', [groupDn('staff')]), // nested: jdoe is in office through staff
    groupLdif('it', [userDn('asmith')]),
    groupLdif('admins', [groupDn('it')]),
  ].join('\n'));
  // The first URL has nobody listening: sources try their URLs in order.
  const deadPort = await freePort();
  const file = join(slapd.dir, 'directory.json');
  writeFileSync(file, JSON.stringify({
    syncIntervalSeconds: 0,
    sources: [{
      name: 'corp', kind: 'ldap', urls: [`ldaps://127.0.0.1:${deadPort}`, slapd.ldapsUrl], caFile: slapd.ca,
      bind: { dn: slapd.bindDn, password: `file:${slapd.bindPasswordFile}` },
      userBase: `ou=people,${SUFFIX}`, groupBase: `ou=groups,${SUFFIX}`,
      groups: { office: ['office-users'], [groupDn('it')]: ['it-staff'] }, adminGroups: ['admins'], keyboardLayoutAttribute: 'description',
    }],
  }));
  daemon = await TestDaemon.start({ extraArgs: ['--listen', '127.0.0.1:0', '--directory', file] });
  url = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(daemon.output)![1]!;
  rootToken = readFileSync(join(daemon.dataDir, 'root.token'), 'utf8').trim();
  assert.equal((await call('POST', '/v1/users', { name: 'lina', password: LOCAL_PASSWORD }, rootToken)).status, 201);
});
after(async () => {
  await daemon?.destroy();
  await slapd?.stop();
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

describe('OpenLDAP directory logins (real slapd over LDAPS)', () => {
  it('a directory user logs in: made just in time with nested groups mapped; an admin through a nested group', async () => {
    const r = await call('POST', '/v1/auth/login', { user: 'jdoe', password: 'jdoe-pass-1' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual([r.body.user, r.body.admin, r.body.groups], ['jdoe', false, ['office-users']]);
    const shown = await call('GET', '/v1/users/jdoe', undefined, rootToken);
    assert.deepEqual([shown.body.fullName, shown.body.keyboardLayout], ['John Doe', 'de']);
    assert.deepEqual(shown.body.directory, { source: 'corp', login: 'jdoe' });
    assert.equal((await call('GET', '/v1/users/lina', undefined, rootToken)).body.directory, null, 'a local account');
    const a = await call('POST', '/v1/auth/login', { user: 'asmith', password: 'asmith-pass-1' });
    assert.deepEqual([a.body.user, a.body.admin, a.body.groups], ['asmith', true, ['it-staff']]);
    const wrong = await call('POST', '/v1/auth/login', { user: 'jdoe', password: 'not-it' });
    assert.deepEqual([wrong.status, wrong.body.error.code], [401, 'LOGIN_FAILED']);
    const nobody = await call('POST', '/v1/auth/login', { user: 'nobody', password: 'x' });
    assert.deepEqual([nobody.status, nobody.body.error.code], [401, 'LOGIN_FAILED']);
    const injected = await call('POST', '/v1/auth/login', { user: '*', password: 'jdoe-pass-1' });
    assert.deepEqual([injected.status, injected.body.error.code], [401, 'LOGIN_FAILED'], 'a filter character is a literal, never a wildcard');
  });

  it('pools entitle mapped directory groups as local ones: the pool of office-users is listed for jdoe only', async () => {
    const g = guestArtifacts();
    const op = await call('POST', '/v1/images', { name: 'dir-gold', from: g.amd64.rootQcow2, boot: { kernel: g.amd64.kernel, initrd: g.amd64.initrd, memoryMiB: 128 } }, rootToken);
    assert.equal(op.status, 202, JSON.stringify(op.body));
    await until('the image import', async () => {
      const now = await call('GET', `/v1/operations/${op.body.id}`, undefined, rootToken);
      if (now.body.state === 'running') return false;
      assert.equal(now.body.state, 'succeeded', JSON.stringify(now.body));
      return true;
    }, 120_000, 250);
    const pool = await call('POST', '/v1/pools', { name: 'office', image: 'dir-gold', maxDesktops: 1, warmSpares: 0, entitled: { users: [], groups: ['office-users'] } }, rootToken);
    assert.equal(pool.status, 201, JSON.stringify(pool.body));
    const names = async (user: string, password: string) => (await call('GET', '/v1/pools', undefined, await tokenOf(user, password))).body.map((p: { name: string }) => p.name);
    assert.deepEqual(await names('jdoe', 'jdoe-pass-1'), ['office'], 'office-users (through staff → office in the directory) is entitled');
    assert.deepEqual(await names('bob', 'bob-pass-1'), [], 'a directory user in no mapped group is not');
    const refused = await call('POST', '/v1/pools/office/connect', {}, await tokenOf('bob', 'bob-pass-1'));
    assert.equal(refused.body.error.code, 'POOL_NOT_ENTITLED');
  });

  it('StartTLS works; a certificate from another CA and plain LDAP are refused before any password is sent', async () => {
    const base = { name: 'probe', kind: 'ldap', userBase: `ou=people,${SUFFIX}`, groupBase: `ou=groups,${SUFFIX}`, bind: { dn: slapd.bindDn, password: `file:${slapd.bindPasswordFile}` } };
    const source = (over: Record<string, unknown>) => new DirectorySource(directoryConfigParse({ sources: [{ ...base, ...over }] }, 'test').sources[0]!);
    const viaStartTls = await source({ urls: [slapd.ldapUrl], startTls: true, caFile: slapd.ca }).lookup('asmith');
    assert.equal(viaStartTls?.dn, userDn('asmith'));
    const impostorCa = testCaMake(impostorDir());
    await assert.rejects(source({ urls: [slapd.ldapsUrl], caFile: impostorCa.ca }).authenticate('asmith', 'asmith-pass-1', Date.now()), (err: unknown) => err instanceof ArdesiaError && err.code === 'DIRECTORY_UNREACHABLE' && /certificate/i.test(err.message));
    await assert.rejects(source({ urls: [slapd.ldapUrl], allowInsecure: true }).lookup('asmith'), (err: unknown) => err instanceof ArdesiaError && /confidentiality|TLS/i.test(err.message), 'slapd refuses a simple bind without TLS');
  });

  it('a local account keeps its name: the directory user of that name is never merged into it', async () => {
    assert.equal((await call('POST', '/v1/auth/login', { user: 'lina', password: LOCAL_PASSWORD })).status, 200);
    const dir = await call('POST', '/v1/auth/login', { user: 'lina', password: 'lina-dir-pass-1' });
    assert.deepEqual([dir.status, dir.body.error.code], [401, 'LOGIN_FAILED']);
    const test = await call('POST', '/v1/directory/test', { user: 'lina' }, rootToken);
    assert.equal(test.body.refusal, 'name-taken');
  });

  it('`ardesia directory test` shows the entry, nested groups and entitlements without a password; `status` the source', async () => {
    const r = await runCli(daemon.dataDir, ['directory', 'test', 'asmith']);
    assert.equal(r.code, 0, r.stderr);
    for (const want of [userDn('asmith'), groupDn('admins'), groupDn('it'), 'admin:         yes', 'it-staff']) assert.ok(r.stdout.includes(want), `${want} in:\n${r.stdout}`);
    const missing = await runCli(daemon.dataDir, ['directory', 'test', 'nobody']);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /DIRECTORY_USER_NOT_FOUND|no directory source has the user nobody/);
    const sync = await runCli(daemon.dataDir, ['directory', 'sync']);
    assert.equal(sync.code, 0, sync.stderr);
    const status = await runCli(daemon.dataDir, ['--json', 'directory', 'status']);
    const [src] = JSON.parse(status.stdout);
    assert.deepEqual([src.name, src.reachable, src.usersFound, src.tls], ['corp', true, 4, 'ldaps']);
    assert.ok(src.lastSyncAt);
  });

  it('a user renamed in the directory keeps the same Ardesia account (homes are keyed by it), found by entryUUID', async () => {
    const before = await call('GET', '/v1/users/jdoe', undefined, rootToken);
    slapd.modify(`dn: ${userDn('jdoe')}\nchangetype: modrdn\nnewrdn: uid=john.doe\ndeleteoldrdn: 1\n`, false);
    const r = await call('POST', '/v1/auth/login', { user: 'john.doe', password: 'jdoe-pass-1' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.user, 'jdoe', 'the renamed user is the same account');
    const after = (await call('GET', '/v1/users/jdoe', undefined, rootToken)).body;
    assert.deepEqual([after.createdAt, after.directory], [before.body.createdAt, { source: 'corp', login: 'john.doe' }]);
    assert.equal((await call('GET', '/v1/users/john.doe', undefined, rootToken)).status, 404, 'no second account');
    assert.equal((await call('POST', '/v1/auth/login', { user: 'jdoe', password: 'jdoe-pass-1' })).status, 401, 'the old name is gone');
  });

  it('the sync follows group changes and ends the sessions and tokens of a removed user', async () => {
    const jdoe = await tokenOf('john.doe', 'jdoe-pass-1');
    const ann = await tokenOf('asmith', 'asmith-pass-1');
    assert.equal((await call('GET', '/v1/auth/me', undefined, ann)).status, 200);
    slapd.modify(`dn: ${groupDn('staff')}\nchangetype: modify\ndelete: member\nmember: uid=john.doe,ou=people,${SUFFIX}\n-\nadd: member\nmember: ${userDn('asmith')}\n`, false);
    slapd.modify(`dn: ${groupDn('it')}\nchangetype: modify\nreplace: member\nmember: ${groupDn('staff')}\n`, false);
    slapd.modify(`dn: ${userDn('asmith')}\nchangetype: delete\n`, false);
    const sync = await call('POST', '/v1/directory/sync', {}, rootToken);
    assert.equal(sync.status, 200, JSON.stringify(sync.body));
    assert.deepEqual(sync.body[0].ended, ['asmith']);
    assert.equal((await call('GET', '/v1/auth/me', undefined, ann)).status, 401, "the removed user's token ends");
    const me = await call('GET', '/v1/auth/me', undefined, jdoe);
    assert.deepEqual([me.status, me.body.groups], [200, []], 'the group left in the directory is left in Ardesia');
  });

  it('every role on the directory routes: anonymous 401, a user 403, an administrator gets replies matching the document', async () => {
    const user = await tokenOf('john.doe', 'jdoe-pass-1');
    const routes: Array<[string, string, unknown]> = [['GET', '/v1/directory/sources', undefined], ['POST', '/v1/directory/test', { user: 'john.doe' }], ['POST', '/v1/directory/sync', {}]];
    for (const [method, path, body] of routes) {
      assert.equal((await call(method, path, body)).status, 401, `${method} ${path} anonymous`);
      assert.equal((await call(method, path, body, user)).body?.error?.code, 'FORBIDDEN', `${method} ${path} as a user`);
    }
    const check = new ResponseChecker(url, (await call('GET', '/v1/openapi.json', undefined, rootToken)).body as OpenApiDoc, ALL_ROUTES);
    const root = { token: rootToken };
    await check.call('GET /v1/directory/sources', '/v1/directory/sources', root);
    await check.call('POST /v1/directory/test', '/v1/directory/test', root, { user: 'john.doe' });
    await check.call('POST /v1/directory/sync', '/v1/directory/sync', root, {});
    check.assertChecked(['GET /v1/directory/sources', 'POST /v1/directory/test', 'POST /v1/directory/sync']);
  });

  it('the portal login in Chromium works for a directory user; the console lists the source with its state', async () => {
    const browser = await browserLaunch();
    try {
      const p = await pageOpen(browser);
      await login(p.page, url, 'john.doe', 'jdoe-pass-1');
      await p.page.getByRole('heading', { name: 'Your desktops' }).waitFor();
      assertNoConsoleErrors(p);
      assert.equal((await call('POST', '/v1/users', { name: 'ada', password: LOCAL_PASSWORD, roles: ['admin'] }, rootToken)).status, 201);
      const a = await pageOpen(browser);
      await login(a.page, `${url}/admin/directory`, 'ada', LOCAL_PASSWORD);
      const row = a.page.getByRole('row').filter({ hasText: 'corp' });
      await row.filter({ hasText: 'reachable' }).waitFor();
      const cells = (await row.innerText()).split('\t').map((c) => c.trim());
      // Name, kind, servers, TLS, state, last sync, users found (jdoe, lina, bob: asmith was removed), Ardesia users (jdoe, asmith, bob).
      assert.deepEqual([cells[0], cells[1], cells[3], cells[4], cells[6], cells[7]], ['corp', 'LDAP', 'ldaps', 'reachable', '3', '3'], cells.join(' | '));
      await screenshot(a.page, 'admin-directory-sources');
      await a.page.getByRole('button', { name: 'Sync now' }).click();
      await a.page.getByText('Directory sync finished').waitFor();
      assertNoConsoleErrors(a);
    } finally {
      await browser.close();
    }
  });

  it('the directory down: its users are told it cannot be reached, local users still log in, the source shows unreachable', async () => {
    await slapd.stop();
    const r = await call('POST', '/v1/auth/login', { user: 'john.doe', password: 'jdoe-pass-1' });
    assert.deepEqual([r.status, r.body.error.code], [503, 'DIRECTORY_UNREACHABLE']);
    assert.match(r.body.error.hint, /local accounts still log in/);
    assert.equal((await call('POST', '/v1/auth/login', { user: 'lina', password: LOCAL_PASSWORD })).status, 200);
    const [src] = (await call('GET', '/v1/directory/sources', undefined, rootToken)).body;
    assert.equal(src.reachable, false);
  });
});

describe('directory configuration at start', () => {
  it('a bad file stops the daemon with every problem listed by its path', async () => {
    const file = join(daemon.dataDir, 'bad-directory.json');
    writeFileSync(file, JSON.stringify({ sources: [{ name: 'x', kind: 'ldap', urls: ['ldap://127.0.0.1'], userBase: 'ou=p', groupBase: 'ou=g', bind: { dn: 'cn=r', password: 'inline-secret' } }] }));
    const badDataDir = `${daemon.dataDir}-bad`;
    temps.push(badDataDir);
    const r = await runCli(badDataDir, ['serve', '--directory', file], { timeoutMs: 60_000 });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /DIRECTORY_CONFIG_INVALID|directory configuration/);
    assert.match(r.stderr, /sources\.0\.urls: ldap:\/\/ without startTls/);
    assert.match(r.stderr, /sources\.0\.bind\.password: give the password as file:/);
    assert.doesNotMatch(r.stderr, /inline-secret/);
  });
});
