import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ArdesiaError } from '../contract/errors.js';
import { adAccountRefusal, adBindRefusal } from './account-state.js';
import { directoryConfigParse } from './config.js';
import { entitlementsOf, groupCn } from './mapping.js';
import { ardesiaNameFor, filterEscape, typedNameParse, userFilterFor } from './names.js';

const AD = { kind: 'ad' as const, loginAttribute: 'sAMAccountName', realms: ['COUNCIL.TEST'] };
const LDAP = { kind: 'ldap' as const, loginAttribute: 'uid', realms: [] };
const ADB = '(&(objectCategory=person)(objectClass=user))';

const filterCases: Array<[string, typeof AD | typeof LDAP, string | undefined]> = [
  ['jdoe', AD, `(&${ADB}(sAMAccountName=jdoe))`],
  ['COUNCIL\\jdoe', AD, `(&${ADB}(sAMAccountName=jdoe))`],
  ['council\\jdoe', AD, `(&${ADB}(sAMAccountName=jdoe))`],
  ['council.test\\jdoe', AD, `(&${ADB}(sAMAccountName=jdoe))`],
  ['jdoe@COUNCIL.TEST', AD, `(&${ADB}(|(userPrincipalName=jdoe@COUNCIL.TEST)(sAMAccountName=jdoe)))`],
  ['jdoe@council', AD, `(&${ADB}(|(userPrincipalName=jdoe@council)(sAMAccountName=jdoe)))`],
  ['OTHER\\jdoe', AD, undefined],
  ['jdoe@other.test', AD, undefined],
  ['jdoe', LDAP, '(&(objectClass=inetOrgPerson)(uid=jdoe))'],
  ['jdoe@council.test', LDAP, undefined],
  ['j*', LDAP, '(&(objectClass=inetOrgPerson)(uid=j\\2a))'],
  ['x)(uid=*', LDAP, '(&(objectClass=inetOrgPerson)(uid=x\\29\\28uid=\\2a))'],
  ['\\jdoe', AD, undefined],
  ['jdoe@', AD, undefined],
  ['a\\b\\c', AD, undefined],
  ['', LDAP, undefined],
  ['jd\u0000oe', LDAP, undefined],
];
for (const [typed, src, want] of filterCases) {
  test(`directory filter: ${JSON.stringify(typed)} on ${src.kind}`, () => assert.equal(userFilterFor(typed, src), want));
}

test('directory names: forms and escapes', () => {
  assert.deepEqual(typedNameParse('COUNCIL\\jdoe'), { account: 'jdoe', realm: 'COUNCIL', form: 'down-level' });
  assert.deepEqual(typedNameParse(' jdoe@council.test '), { account: 'jdoe', realm: 'council.test', form: 'upn' });
  assert.equal(filterEscape('a\\b*(c)'), 'a\\5cb\\2a\\28c\\29');
  assert.equal(ardesiaNameFor('JDoe'), 'jdoe');
  assert.equal(ardesiaNameFor('jdoe@council.test'), 'jdoe');
  assert.equal(ardesiaNameFor('j doe'), undefined);
});

const NOW = Date.parse('2026-12-04T00:00:00Z');
/** FILETIME of a date: 100 ns ticks since 1601. */
const ft = (iso: string) => String((BigInt(Date.parse(iso)) + 11_644_473_600_000n) * 10_000n);
const stateCases: Array<[string, Parameters<typeof adAccountRefusal>[0], ReturnType<typeof adAccountRefusal>]> = [
  ['normal', { userAccountControl: '512', accountExpires: '9223372036854775807', pwdLastSet: '134000000000000000' }, undefined],
  ['disabled', { userAccountControl: '514', pwdLastSet: '134000000000000000' }, 'disabled'],
  ['disabled wins over must-change', { userAccountControl: '514', pwdLastSet: '0' }, 'disabled'],
  ['never expires (0)', { userAccountControl: '512', accountExpires: '0', pwdLastSet: '1' }, undefined],
  ['expired yesterday', { userAccountControl: '512', accountExpires: ft('2026-12-03T00:00:00Z'), pwdLastSet: '1' }, 'expired'],
  ['expires tomorrow', { userAccountControl: '512', accountExpires: ft('2026-12-05T00:00:00Z'), pwdLastSet: '1' }, undefined],
  ['must change', { userAccountControl: '512', pwdLastSet: '0' }, 'must-change'],
  ['must change, but password never expires', { userAccountControl: String(512 | 0x10000), pwdLastSet: '0' }, undefined],
  ['locked', { userAccountControl: String(512 | 0x10), pwdLastSet: '1' }, 'locked'],
  ['no attributes (OpenLDAP)', {}, undefined],
];
for (const [name, attrs, want] of stateCases) test(`AD account state: ${name}`, () => assert.equal(adAccountRefusal(attrs, NOW), want));

const bindCases: Array<[string, ReturnType<typeof adBindRefusal>]> = [
  ['80090308: LdapErr: DSID-0C09042A, comment: AcceptSecurityContext error, data 52e, v3839', undefined],
  ['80090308: LdapErr: DSID-0C09042A, comment: AcceptSecurityContext error, data 533, v3839', 'disabled'],
  ['80090308: LdapErr: DSID-0C09042A, comment: AcceptSecurityContext error, data 773, v3839', 'must-change'],
  ['80090308: LdapErr: DSID-0C09042A, comment: AcceptSecurityContext error, data 701, v3839', 'expired'],
  ['80090308: LdapErr: DSID-0C09042A, comment: AcceptSecurityContext error, data 775, v3839', 'locked'],
  ['', undefined],
  ['Invalid credentials', undefined],
];
for (const [diag, want] of bindCases) test(`AD bind sub-code: ${diag || '(none)'}`, () => assert.equal(adBindRefusal(diag), want));

test('group mapping: DN or cn keys, nested groups, admin role', () => {
  const dns = ['CN=Staff,OU=Groups,DC=council,DC=test', 'cn=it-admins,ou=groups,dc=example,dc=org', 'CN=Comma\\, Group,DC=x'];
  const mapping = { groups: { staff: ['office'], 'cn=IT-Admins,ou=groups,dc=example,dc=org': ['it', 'office'], Nobody: ['never'] }, adminGroups: ['it-admins'] };
  assert.deepEqual(entitlementsOf(dns, mapping), { groups: ['it', 'office'], admin: true });
  assert.deepEqual(entitlementsOf([], mapping), { groups: [], admin: false });
  assert.deepEqual(entitlementsOf(['cn=staff-x,dc=x'], mapping), { groups: [], admin: false });
  assert.equal(groupCn('CN=Comma\\, Group,DC=x'), 'Comma, Group');
  assert.equal(groupCn('plain'), 'plain');
});

const good = { sources: [{ name: 'ad', kind: 'ad', urls: ['ldaps://10.0.0.1'], userBase: 'DC=council,DC=test', groupBase: 'DC=council,DC=test' }] };
const configCases: Array<[string, unknown, string[] | undefined]> = [
  ['a minimal AD source', good, undefined],
  ['plain LDAP without allowInsecure', { sources: [{ ...good.sources[0], urls: ['ldap://10.0.0.1'] }] }, ['sources.0.urls: ldap:// without startTls']],
  ['plain LDAP with startTls', { sources: [{ ...good.sources[0], urls: ['ldap://10.0.0.1'], startTls: true }] }, undefined],
  ['an inline password and a bad URL, both listed', { sources: [{ ...good.sources[0], urls: ['http://x'], bind: { dn: 'cn=x', password: 'secret' } }] }, ['sources.0.urls.0:', 'sources.0.bind.password: give the password as file:']],
  ['a duplicate name', { sources: [good.sources[0], good.sources[0]] }, ['sources.1.name: the name ad is used twice']],
  ['an unknown key', { sources: [{ ...good.sources[0], pasword: 'x' }] }, ['sources.0: Unrecognized key']],
  ['realms on OpenLDAP', { sources: [{ ...good.sources[0], kind: 'ldap', realms: ['X'] }] }, ['sources.0.realms: realms are for kind ad']],
  ['no sources', { sources: [] }, ['sources: Array must contain at least 1']],
];
for (const [name, data, problems] of configCases) {
  test(`directory config: ${name}`, () => {
    if (!problems) return void directoryConfigParse(data, 'f');
    assert.throws(() => directoryConfigParse(data, 'f'), (err: unknown) => {
      assert.ok(err instanceof ArdesiaError && err.code === 'DIRECTORY_CONFIG_INVALID');
      for (const p of problems) assert.ok(err.message.includes(p), `${err.message} lacks ${p}`);
      return true;
    });
  });
}
