import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSenderEnd, senderArgs, senderExitWhy, tftpSenderBinary } from './native-sender.js';
import { MAX_RETRANSMITS } from './transfer.js';

describe('parseSenderEnd', () => {
  const table: Array<[string, ReturnType<typeof parseSenderEnd>]> = [
    ['ok 31457280 21429 2', { ok: true, bytes: 31457280, blocks: 21429, resends: 2 }],
    ['ok 0 1 0', { ok: true, bytes: 0, blocks: 1, resends: 0 }],
    ['failed 5 no ACK for block 1 after 5 resends', { ok: false, why: 'no ACK for block 1 after 5 resends', resends: 5 }],
    ['failed 0 client error 0: user abort', { ok: false, why: 'client error 0: user abort', resends: 0 }],
    ['failed 0 server shutting down', { ok: false, why: 'server shutting down', resends: 0 }],
    ['ok 1 2', undefined],
    ['ok -1 2 3', undefined],
    ['failed 3', undefined],
    ['failed x why', undefined],
    ['', undefined],
  ];
  for (const [line, want] of table) it(JSON.stringify(line), () => assert.deepEqual(parseSenderEnd(line), want));
});

describe('senderArgs', () => {
  it('addresses, sizes, timeout, resends, parent, then the OACK pairs in order', () => {
    const spec = { size: 1000, blksize: 1468, timeoutMs: 2000, oack: { blksize: '1468', tsize: '1000' }, localAddress: '10.0.0.1', client: { address: '10.0.0.9', port: 2001 } };
    assert.deepEqual(senderArgs(spec, 77), ['10.0.0.1', '10.0.0.9', '2001', '1000', '1468', '2000', String(MAX_RETRANSMITS), '77', 'blksize', '1468', 'tsize', '1000']);
  });
  it('no options: no pairs (block 1 goes first)', () => {
    const spec = { size: 5, blksize: 512, timeoutMs: 1000, oack: {}, localAddress: '127.0.0.1', client: { address: '127.0.0.1', port: 9 } };
    assert.equal(senderArgs(spec, 1, 3).length, 8);
  });
});

describe('tftpSenderBinary', () => {
  it('off disables it; a missing file says how to build it', () => {
    assert.deepEqual(tftpSenderBinary({ ARDESIA_TFTP_SENDER: 'off' }), { why: 'disabled by ARDESIA_TFTP_SENDER=off' });
    const missing = tftpSenderBinary({ ARDESIA_TFTP_SENDER: '/nonexistent/tftp-sender' });
    assert.equal(missing.path, undefined);
    assert.match(missing.why!, /^\/nonexistent\/tftp-sender is missing .*setup\.mjs/);
  });
});

describe('senderExitWhy', () => {
  it('names the signal, else the exit code', () => {
    assert.equal(senderExitWhy(null, 'SIGKILL'), 'sender killed by SIGKILL');
    assert.equal(senderExitWhy(3, null), 'sender exited with code 3 without an end line');
  });
});
