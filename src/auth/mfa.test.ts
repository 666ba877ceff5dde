import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  isRecoveryShaped,
  mfaSecretCreate,
  mfaUri,
  recoveryCodeHash,
  recoveryCodesCreate,
  totpCheck,
  totpCode,
  totpStep,
} from './mfa.js';

// RFC 6238 appendix B: the SHA-1 seed "12345678901234567890" (base32 below), 8-digit vectors → their last 6 digits.
const RFC_SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';

test('TOTP codes match the RFC 6238 vectors', () => {
  const vectors: Array<[number, string]> = [
    [59, '287082'],
    [1111111109, '081804'],
    [1111111111, '050471'],
    [1234567890, '005924'],
    [2000000000, '279037'],
  ];
  for (const [seconds, code] of vectors) assert.equal(totpCode(RFC_SECRET, seconds * 1000), code, `T=${seconds}`);
});

test('totpCheck: ±1 step window, wrong codes, replay of the same or an older step', () => {
  const t = 1_800_000_000_000;
  const step = totpStep(t);
  const cases: Array<[string, string, number | null, ReturnType<typeof totpCheck>]> = [
    ['current code', totpCode(RFC_SECRET, t), null, { ok: true, step }],
    ['typed with a space', totpCode(RFC_SECRET, t).replace(/^(\d{3})/, '$1 '), null, { ok: true, step }],
    ['previous step (slow phone)', totpCode(RFC_SECRET, t - 30_000), null, { ok: true, step: step - 1 }],
    ['next step (fast phone)', totpCode(RFC_SECRET, t + 30_000), null, { ok: true, step: step + 1 }],
    ['two steps old', totpCode(RFC_SECRET, t - 60_000), null, { ok: false, reason: 'wrong' }],
    ['wrong digits', totpCode(RFC_SECRET, t) === '000000' ? '111111' : '000000', null, { ok: false, reason: 'wrong' }],
    ['not six digits', '12345', null, { ok: false, reason: 'format' }],
    ['letters', 'abcdef', null, { ok: false, reason: 'format' }],
    ['same step used before', totpCode(RFC_SECRET, t), step, { ok: false, reason: 'replayed' }],
    ['older step after a newer one', totpCode(RFC_SECRET, t - 30_000), step, { ok: false, reason: 'replayed' }],
    ['newer step after an older one', totpCode(RFC_SECRET, t + 30_000), step, { ok: true, step: step + 1 }],
  ];
  for (const [what, code, last, want] of cases) assert.deepEqual(totpCheck(RFC_SECRET, code, t, last), want, what);
});

test('secrets are random base32 of 160 bits; the URI names issuer, user and the RFC parameters', () => {
  const a = mfaSecretCreate();
  assert.match(a, /^[A-Z2-7]{32}$/);
  assert.notEqual(a, mfaSecretCreate());
  const text = mfaUri(a, 'alice');
  assert.match(text, /^otpauth:\/\/totp\/Ardesia:alice\?/);
  const uri = new URL(text);
  assert.equal(uri.searchParams.get('secret'), a);
  assert.equal(uri.searchParams.get('issuer'), 'Ardesia');
  assert.equal(uri.searchParams.get('digits'), '6');
  assert.equal(uri.searchParams.get('period'), '30');
});

test('recovery codes: ten distinct, shaped, hashed as typed in any case or spacing', () => {
  const codes = recoveryCodesCreate();
  assert.equal(codes.length, 10);
  assert.equal(new Set(codes).size, 10);
  for (const c of codes) {
    assert.match(c, /^[a-z2-9]{5}-[a-z2-9]{5}$/);
    assert.ok(isRecoveryShaped(c));
    assert.equal(recoveryCodeHash(c.toUpperCase().replace('-', ' ')), recoveryCodeHash(c));
  }
  const cases: Array<[string, boolean]> = [['123456', false], ['abcde-fghjk', true], ['ABCDEFGHJK', true], ['abcde-fghj', false], ['abcde-fghi1', false]];
  for (const [text, shaped] of cases) assert.equal(isRecoveryShaped(text), shaped, text);
  assert.notEqual(recoveryCodeHash(codes[0]!), recoveryCodeHash(codes[1]!));
});
