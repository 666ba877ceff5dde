import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeTftp, encodeAck, encodeData, encodeError, encodeOack, encodeRequest, MAX_TIMEOUT_SECONDS, negotiateOptions, TftpDecodeError, type TftpDecodeReason } from './codec.js';
import { checkRequestName } from './paths.js';

test('RRQ with options (RFC 2347 example shape) decodes; option names are case-insensitive', () => {
  const bytes = Buffer.from('\0\x01boot/undionly.kpxe\0OCTET\0BLKSIZE\x001468\0tsize\x000\0timeout\x002\0', 'latin1');
  assert.deepEqual(decodeTftp(bytes), { op: 'rrq', filename: 'boot/undionly.kpxe', mode: 'octet', options: { blksize: '1468', tsize: '0', timeout: '2' } });
  assert.deepEqual(decodeTftp(encodeRequest('rrq', 'a', 'octet', { blksize: '512' })), { op: 'rrq', filename: 'a', mode: 'octet', options: { blksize: '512' } });
});

test('DATA, ACK, ERROR, OACK round trips', () => {
  assert.deepEqual(decodeTftp(encodeData(65535, Buffer.from('xyz'))), { op: 'data', block: 65535, data: Buffer.from('xyz') });
  assert.deepEqual(decodeTftp(encodeAck(65536)), { op: 'ack', block: 0 });
  assert.deepEqual(decodeTftp(encodeError(1, 'File not found')), { op: 'error', code: 1, message: 'File not found' });
  assert.deepEqual(decodeTftp(encodeOack({ blksize: '1468', tsize: '42' })), { op: 'oack', options: { blksize: '1468', tsize: '42' } });
});

const BAD: Array<[string, Buffer, TftpDecodeReason]> = [
  ['empty', Buffer.alloc(0), 'truncated'],
  ['3 bytes', Buffer.from([0, 4, 0]), 'truncated'],
  ['opcode 9', Buffer.from([0, 9, 0, 0]), 'unknown-opcode'],
  ['RRQ without NUL after the name', Buffer.from('\0\x01name', 'latin1'), 'unterminated-string'],
  ['RRQ without mode', Buffer.from('\0\x01name\0', 'latin1'), 'bad-request'],
  ['RRQ with an option but no value', Buffer.from('\0\x01n\0octet\0blksize\0', 'latin1'), 'bad-request'],
  ['RRQ over 512 bytes', Buffer.concat([Buffer.from([0, 1]), Buffer.alloc(600, 0x61), Buffer.from('\0octet\0')]), 'oversized'],
  ['ACK of 6 bytes', Buffer.from([0, 4, 0, 1, 0, 0]), 'bad-request'],
  ['datagram over 65468 bytes', Buffer.alloc(70000), 'oversized'],
];
for (const [name, bytes, reason] of BAD) {
  test(`decode refuses ${name} (${reason})`, () => {
    assert.throws(() => decodeTftp(bytes), (err: unknown) => err instanceof TftpDecodeError && err.reason === reason);
  });
}

test('negotiation: blksize clamped to the server limit, tsize answered, timeout accepted in 1..MAX_TIMEOUT_SECONDS', () => {
  assert.deepEqual(negotiateOptions({ blksize: '1468', tsize: '0', timeout: '3' }, 1234, 65464), { accepted: { blksize: '1468', tsize: '1234', timeout: '3' }, blksize: 1468, timeoutMs: 3000 });
  assert.deepEqual(negotiateOptions({ blksize: '9000' }, 1, 1468).blksize, 1468);
  assert.deepEqual(negotiateOptions({ blksize: '4', timeout: '0', tsize: '5', windowsize: '8' }, 1, 1468), { accepted: {}, blksize: 512, timeoutMs: 1000 });
  assert.deepEqual(negotiateOptions({ blksize: 'lots', timeout: '999' }, 1, 1468).accepted, {});
  assert.deepEqual(negotiateOptions({ timeout: '255' }, 1, 1468), { accepted: {}, blksize: 512, timeoutMs: 1000 }, 'a long timeout is not acknowledged');
  assert.deepEqual(negotiateOptions({ timeout: String(MAX_TIMEOUT_SECONDS) }, 1, 1468).timeoutMs, MAX_TIMEOUT_SECONDS * 1000);
  assert.deepEqual(negotiateOptions({}, 10, 1468), { accepted: {}, blksize: 512, timeoutMs: 1000 });
});

const NAMES: Array<[string, string | false]> = [
  ['undionly.kpxe', 'undionly.kpxe'],
  ['boot/x86/snponly.efi', 'boot/x86/snponly.efi'],
  ['./a//b', 'a/b'],
  ['../etc/passwd', false],
  ['boot/../../etc/passwd', false],
  ['..', false],
  ['/etc/passwd', false],
  ['\\windows\\system32', false],
  ['a\x01b', false],
  ['x'.repeat(256), false],
  ['', false],
  ['..hidden-but-fine', '..hidden-but-fine'],
];
for (const [name, want] of NAMES) {
  test(`request name ${JSON.stringify(name.slice(0, 40))} → ${want === false ? 'refused' : want}`, () => {
    const got = checkRequestName(name);
    if (want === false) assert.equal(got.ok, false);
    else assert.deepEqual(got, { ok: true, relative: want });
  });
}
