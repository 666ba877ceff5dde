// The console's source input: the file's schema with a write-only bind password; what is stored, kept and shown.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ArdesiaError } from '../contract/errors.js';
import { settingsOf, sourceInputParse, sourceResolve, type StoredSource } from './stored.js';

const BASE = { name: 'corp', kind: 'ldap', urls: ['ldaps://dc1:636'], userBase: 'ou=p,dc=x', groupBase: 'ou=g,dc=x' };
const ENV = { secretDirs: ['/srv/ardesia-secrets'], env: { ARDESIA_DIRECTORY_BIND: 'from-env', ARDESIA_DATABASE: 'postgres://u:pw@db/ardesia' } };
const problemsOf = (fn: () => unknown): string[] => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ArdesiaError && err.code === 'DIRECTORY_SOURCE_INVALID', String(err));
    return (err.details as { problems: string[] }).problems;
  }
  return assert.fail('no problem reported');
};

describe('console directory sources: input, stored form, view', () => {
  it('every problem is listed by path, with the same cross-field checks as the file', () => {
    const problems = problemsOf(() => sourceInputParse({ ...BASE, name: 'Bad', urls: ['ldap://dc1'], realms: ['X'], extra: 1 }));
    assert.deepEqual(problems.map((p) => p.split(':')[0]).sort(), ['(top)', 'name', 'realms', 'urls']);
  });

  const table: Array<{ what: string; password: string | undefined; previous?: StoredSource; secret: string | undefined; shown: unknown; view: string }> = [
    { what: 'a literal is kept apart and never shown', password: 's3cret!', secret: 's3cret!', shown: { dn: 'cn=r' }, view: 'set' },
    { what: 'a reference is stored and shown as written', password: 'env:ARDESIA_DIRECTORY_BIND', secret: undefined, shown: { dn: 'cn=r', password: 'env:ARDESIA_DIRECTORY_BIND' }, view: 'reference' },
    {
      what: 'no password on a PUT keeps the stored literal',
      password: undefined,
      previous: { config: { ...sourceInputParse(BASE), bind: { dn: 'cn=r', password: '' } }, secret: 'kept', version: 'v1' },
      secret: 'kept',
      shown: { dn: 'cn=r' },
      view: 'set',
    },
  ];
  for (const row of table) {
    it(row.what, () => {
      const input = sourceInputParse({ ...BASE, bind: { dn: 'cn=r', ...(row.password === undefined ? {} : { password: row.password }) } });
      const { config, secret } = sourceResolve(input, row.previous, ENV);
      assert.equal(secret, row.secret);
      const view = settingsOf(config);
      assert.deepEqual([view.settings.bind, view.bindPassword], [row.shown, row.view]);
      assert.ok(!JSON.stringify(view).includes('s3cret!') && !JSON.stringify(view).includes('kept'));
    });
  }

  it('no password and nothing stored, an unset variable, a missing CA file: each named', () => {
    assert.match(problemsOf(() => sourceResolve(sourceInputParse({ ...BASE, bind: { dn: 'cn=r' } }), undefined, ENV))[0]!, /^bind\.password: give/);
    assert.match(problemsOf(() => sourceResolve(sourceInputParse({ ...BASE, bind: { dn: 'cn=r', password: 'env:ARDESIA_DIRECTORY_NOPE' } }), undefined, ENV))[0]!, /ARDESIA_DIRECTORY_NOPE is not set/);
    assert.match(problemsOf(() => sourceResolve(sourceInputParse({ ...BASE, caFile: '/nonexistent/ca.pem' }), undefined, ENV))[0]!, /^caFile: /);
  });

  it("a console source names only its own files and variables, and a stored password never follows changed servers", () => {
    const refused = (password: string) => problemsOf(() => sourceResolve(sourceInputParse({ ...BASE, bind: { dn: 'cn=r', password } }), undefined, ENV))[0]!;
    assert.match(refused('env:ARDESIA_DATABASE'), /only variables ARDESIA_DIRECTORY_/);
    assert.match(refused('file:/etc/shadow'), /only files in \/srv\/ardesia-secrets/);
    assert.match(refused('file:/srv/ardesia-secrets/../../etc/shadow'), /only files in/);
    const previous: StoredSource = { config: { ...sourceInputParse(BASE), bind: { dn: 'cn=r', password: '' } }, secret: 'kept', version: 'v1' };
    const moved = sourceInputParse({ ...BASE, urls: ['ldaps://elsewhere.example'], bind: { dn: 'cn=r' } });
    assert.match(problemsOf(() => sourceResolve(moved, previous, ENV))[0]!, /type the password again/);
    const insecure = sourceInputParse({ ...BASE, urls: ['ldap://dc1'], allowInsecure: true, bind: { dn: 'cn=r' } });
    assert.match(problemsOf(() => sourceResolve(insecure, previous, ENV))[0]!, /type the password again/);
    const other = sourceInputParse({ ...BASE, bind: { dn: 'cn=someone-else' } });
    assert.match(problemsOf(() => sourceResolve(other, previous, ENV))[0]!, /type the password again/);
    assert.equal(sourceResolve(sourceInputParse({ ...BASE, adminGroups: ['a'], bind: { dn: 'cn=r' } }), previous, ENV).secret, 'kept', 'other changes keep it');
  });
});
