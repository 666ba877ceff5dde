import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ArdesiaError, ERROR_REGISTRY, errorForUser, type ErrorCode } from './errors.js';

test('every registry code has an HTTP error status and a hint that says what to do, never "a bug"', () => {
  for (const [code, entry] of Object.entries(ERROR_REGISTRY)) {
    assert.match(code, /^[A-Z][A-Z0-9_]+$/, code);
    assert.ok(entry.status >= 400 && entry.status <= 599, `${code}: status ${entry.status}`);
    assert.ok(entry.hint.trim().length >= 20, `${code} has no real hint`);
    assert.doesNotMatch(entry.hint, /\bbug\b/i, `${code}: a hint must say what to do, not "this is a bug"`);
  }
});

test('an occurrence may carry its own hint; otherwise the registry one', () => {
  const plain = new ArdesiaError('FORBIDDEN', 'no');
  assert.equal(plain.hint, ERROR_REGISTRY.FORBIDDEN.hint);
  assert.equal(plain.hasOwnHint, false);
  const own = new ArdesiaError('FORBIDDEN', 'no', undefined, 'Only an administrator may do this.');
  assert.equal(own.toBody().error.hint, 'Only an administrator may do this.');
  assert.equal(own.status, 403);
});

test('a user is never told the text of an unexpected error, only a reference', () => {
  const known = new ArdesiaError('VM_NOT_FOUND' satisfies ErrorCode, 'vm x is not defined');
  assert.equal(errorForUser(known, 'r1'), known);
  const out = errorForUser(new Error('EACCES: permission denied, open /var/lib/ardesia/root.token'), 'abcd1234');
  assert.equal(out.code, 'INTERNAL');
  assert.doesNotMatch(JSON.stringify(out.toBody()), /EACCES|root\.token/);
  assert.match(out.message, /abcd1234/);
  assert.equal(errorForUser('a string thrown', 'r2').code, 'INTERNAL');
});
