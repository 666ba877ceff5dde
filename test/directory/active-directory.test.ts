// Directory logins against a real Active Directory: a Samba AD DC provisioned from Debian's packages in its own network
// namespace (test/directory/samba.ts). Names as typed on a Windows PC (jdoe, jdoe@REALM, REALM\jdoe), nested groups via
// LDAP_MATCHING_RULE_IN_CHAIN, disabled and must-change accounts refused with their own codes, a local account's name
// never merged, and the sync ending the sessions of a user disabled in AD.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, TestDaemon, until } from '../helpers/daemon.js';
import { AD_USERS, BASE_DN, DC_NAME, READER, REALM, DOMAIN, type SambaDc, sambaDcStart } from './samba.js';
import { jsonCall } from './http.js';

const password = (user: string) => AD_USERS.find(([n]) => n === user)![1];
let dc: SambaDc;
let daemon: TestDaemon;
let url: string;
let rootToken: string;

const call = (method: string, path: string, body?: unknown, token?: string) => jsonCall(url, method, path, body, token);

before(async () => {
  dc = await sambaDcStart();
  console.log(`samba DC: ${dc.fromCache ? 'restored from .cache' : 'provisioned'} in ${dc.provisionMs} ms, LDAPS ready in ${dc.readyMs} ms`);
  const secret = join(dc.dir, 'reader.secret');
  writeFileSync(secret, `${READER.password}\n`, { mode: 0o600 });
  const file = join(dc.dir, 'directory.yaml');
  writeFileSync(file, [
    'syncIntervalSeconds: 2', // the periodic sync is what ends the disabled user's token below
    'sources:',
    '  - name: council',
    '    kind: ad',
    `    urls: ["${dc.url}"]`,
    `    caFile: ${dc.ca}`,
    `    tlsServerName: ${DC_NAME}`,
    `    bind: { dn: "${READER.dn}", password: "file:${secret}" }`,
    `    userBase: "${BASE_DN}"`,
    `    groupBase: "${BASE_DN}"`,
    `    realms: [${REALM}]`,
    '    groups: { Office: [office-users] }',
    '    adminGroups: ["Ardesia Admins"]',
  ].join('\n'));
  daemon = await TestDaemon.start({ extraArgs: ['--listen', '127.0.0.1:0', '--directory', file] });
  url = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(daemon.output)![1]!;
  rootToken = readFileSync(join(daemon.dataDir, 'root.token'), 'utf8').trim();
});
after(async () => {
  await daemon?.destroy();
  await dc?.stop();
});

describe('Active Directory logins (real Samba AD DC over LDAPS)', () => {
  it('jdoe, jdoe@REALM and REALM\\jdoe are one account, with groups nested in AD mapped', async () => {
    for (const typed of ['jdoe', `jdoe@${REALM}`, `jdoe@${REALM.toLowerCase()}`, `${DOMAIN}\\jdoe`, `${DOMAIN.toLowerCase()}\\jdoe`]) {
      const r = await call('POST', '/v1/auth/login', { user: typed, password: password('jdoe') });
      assert.equal(r.status, 200, `${typed}: ${JSON.stringify(r.body)}`);
      assert.deepEqual([r.body.user, r.body.admin, r.body.groups], ['jdoe', false, ['office-users']], typed);
    }
    assert.equal((await call('GET', '/v1/users/jdoe', undefined, rootToken)).body.fullName, 'John Doe');
    const wrong = await call('POST', '/v1/auth/login', { user: `${DOMAIN}\\jdoe`, password: 'Wrong-Pass-1234' });
    assert.deepEqual([wrong.status, wrong.body.error.code], [401, 'LOGIN_FAILED']);
    const otherRealm = await call('POST', '/v1/auth/login', { user: 'OTHER\\jdoe', password: password('jdoe') });
    assert.deepEqual([otherRealm.status, otherRealm.body.error.code], [401, 'LOGIN_FAILED'], 'a realm no source serves');
  });

  it('a member of a group nested in the admin group is an administrator', async () => {
    const r = await call('POST', '/v1/auth/login', { user: `itadmin@${REALM}`, password: password('itadmin') });
    assert.deepEqual([r.status, r.body.user, r.body.admin], [200, 'itadmin', true], JSON.stringify(r.body));
  });

  it('disabled, must-change and expired accounts are refused with their own codes and what to do', async () => {
    const dis = await call('POST', '/v1/auth/login', { user: `${DOMAIN}\\dis`, password: password('dis') });
    assert.deepEqual([dis.status, dis.body.error.code], [403, 'DIRECTORY_ACCOUNT_DISABLED'], JSON.stringify(dis.body));
    assert.match(dis.body.error.hint, /directory's administrator/);
    const chg = await call('POST', '/v1/auth/login', { user: 'chg', password: password('chg') });
    assert.deepEqual([chg.status, chg.body.error.code], [403, 'DIRECTORY_PASSWORD_MUST_CHANGE'], JSON.stringify(chg.body));
    assert.match(chg.body.error.hint, /change it on a PC/);
    for (const u of ['dis', 'chg']) {
      const wrong = await call('POST', '/v1/auth/login', { user: u, password: 'Wrong-Pass-1234' });
      assert.deepEqual([wrong.status, wrong.body.error.code], [401, 'LOGIN_FAILED'], `${u}: without the password the account's state is not told`);
    }
    dc.tool(['user', 'add', 'gone', 'Gone-Pass-1234']);
    dc.tool(['user', 'setexpiry', 'gone', '--days=0']);
    const exp = await call('POST', '/v1/auth/login', { user: `gone@${REALM}`, password: 'Gone-Pass-1234' });
    assert.deepEqual([exp.status, exp.body.error.code], [403, 'DIRECTORY_ACCOUNT_EXPIRED'], JSON.stringify(exp.body));
    const audit = await call('GET', '/v1/audit?limit=50', undefined, rootToken);
    assert.ok(audit.body.some((e: { action: string; target: string }) => e.action === 'directory.login-refused' && e.target === `${DOMAIN}\\dis`), 'refusals are audited');
    for (const u of ['dis', 'chg', 'gone']) assert.equal((await call('GET', `/v1/users/${u}`, undefined, rootToken)).status, 404, `no Ardesia account for ${u}`);
  });

  it('a local account of the same name is never merged: the directory user is refused with DIRECTORY_NAME_TAKEN', async () => {
    assert.equal((await call('POST', '/v1/users', { name: 'clash', password: 'Local-Secret-pass-9' }, rootToken)).status, 201);
    const r = await call('POST', '/v1/auth/login', { user: `${DOMAIN}\\clash`, password: password('clash') });
    assert.deepEqual([r.status, r.body.error.code], [409, 'DIRECTORY_NAME_TAKEN'], JSON.stringify(r.body));
    assert.equal((await call('POST', '/v1/auth/login', { user: 'clash', password: 'Local-Secret-pass-9' })).status, 200, 'the local account is untouched');
  });

  it('`directory test` shows the nested groups; disabling in AD ends the token at the periodic sync (and `directory sync`), then the login is refused', async () => {
    const t = await runCli(daemon.dataDir, ['--json', 'directory', 'test', `${DOMAIN}\\jdoe`]);
    assert.equal(t.code, 0, t.stderr);
    const found = JSON.parse(t.stdout);
    assert.deepEqual([found.ardesiaUser, found.existing, found.groups, found.refusal], ['jdoe', true, ['office-users'], null]);
    assert.ok(found.directoryGroups.some((g: string) => /^CN=Office,/i.test(g)), `nested Office in ${found.directoryGroups}`);
    assert.match(found.stableId, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const tok = await call('POST', '/v1/auth/tokens', { user: 'jdoe', password: password('jdoe') });
    assert.equal((await call('GET', '/v1/auth/me', undefined, tok.body.token)).status, 200);
    dc.tool(['user', 'disable', 'jdoe']);
    await until('the periodic sync to end the disabled user\'s token', async () => (await call('GET', '/v1/auth/me', undefined, tok.body.token)).status === 401, 60_000, 250);
    const sync = await call('POST', '/v1/directory/sync', {}, rootToken);
    assert.deepEqual([sync.body[0].ok, sync.body[0].ended], [true, ['jdoe']], JSON.stringify(sync.body));
    assert.equal((await call('GET', '/v1/auth/me', undefined, tok.body.token)).status, 401, 'the token of the disabled user ends');
    const again = await call('POST', '/v1/auth/login', { user: 'jdoe', password: password('jdoe') });
    assert.equal(again.body.error.code, 'DIRECTORY_ACCOUNT_DISABLED');
    const [src] = (await call('GET', '/v1/directory/sources', undefined, rootToken)).body;
    assert.deepEqual([src.reachable, src.kind, src.ardesiaUsers], [true, 'ad', 2]);
    assert.ok(src.usersFound >= AD_USERS.length + 1, `users found: ${src.usersFound}`);
  });
});
