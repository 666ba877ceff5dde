// Where the store is (--database / ARDESIA_DATABASE), and the dialect forms that must stay as they were on SQLite.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ArdesiaError } from '../contract/errors.js';
import { redactUrl, storeLocation } from './db.js';
import { appendOnlyTriggers, jsonSetMissingKey } from './dialect.js';

test('storeLocation: sqlite by default, postgres URLs as given, anything else refused', () => {
  const ok: [string | undefined, ReturnType<typeof storeLocation>][] = [
    [undefined, { kind: 'sqlite', path: '/d/ardesia.db' }],
    ['', { kind: 'sqlite', path: '/d/ardesia.db' }],
    ['sqlite', { kind: 'sqlite', path: '/d/ardesia.db' }],
    ['postgres://ardesia@db.example:5433/ardesia', { kind: 'postgres', url: 'postgres://ardesia@db.example:5433/ardesia' }],
    ['postgresql://u:p@127.0.0.1/a?host=/run/pg', { kind: 'postgres', url: 'postgresql://u:p@127.0.0.1/a?host=/run/pg' }],
    // libpq's socket form with a user and no host (no WHATWG URL): the same connection, spelled as one.
    ['postgres://ardesia@/ardesia?host=/run/postgresql', { kind: 'postgres', url: 'postgres:///ardesia?host=%2Frun%2Fpostgresql&user=ardesia' }],
    ['postgres://ard%40x:s%2Fcret@/db?host=/run/pg', { kind: 'postgres', url: 'postgres:///db?host=%2Frun%2Fpg&user=ard%40x&password=s%2Fcret' }],
    ['postgres:///db?host=/run/pg', { kind: 'postgres', url: 'postgres:///db?host=/run/pg' }],
  ];
  for (const [given, want] of ok) assert.deepEqual(storeLocation(given, '/d'), want, String(given));
  for (const bad of ['mysql://h/db', 'postgres://h', 'postgres://h/', 'db.sqlite', 'postgres://u:secret@h:port/db', 'postgres://u:secret@/', 'postgres://u:secret@']) {
    assert.throws(() => storeLocation(bad, '/d'), (e: unknown) => e instanceof ArdesiaError && e.code === 'DATABASE_URL_INVALID' && !e.message.includes('secret'), bad);
  }
});

test('redactUrl hides the password only', () => {
  assert.equal(redactUrl('postgres://ardesia:s3cret@h:5432/db'), 'postgres://ardesia:***@h:5432/db');
  assert.equal(redactUrl('postgres://ardesia@h/db'), 'postgres://ardesia@h/db');
  assert.equal(redactUrl('postgres:///db?host=%2Frun&user=a&password=s3cret'), 'postgres:///db?host=%2Frun&user=a&password=***');
});

test('SQLite forms are the statements earlier versions ran', () => {
  assert.deepEqual(appendOnlyTriggers('sqlite', 'audit', 'the audit log is append-only'), [
    "create trigger audit_no_update before update on audit begin select raise(abort, 'the audit log is append-only'); end",
    "create trigger audit_no_delete before delete on audit begin select raise(abort, 'the audit log is append-only'); end",
  ]);
  assert.equal(jsonSetMissingKey('sqlite', 'pools', 'spec', 'network', '{"mode":"none"}'), `update pools set spec = json_set(spec, '$.network', json('{"mode":"none"}')) where json_extract(spec, '$.network') is null`);
});
