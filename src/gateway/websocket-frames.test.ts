import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { BrowserFrameReader, type BrowserFrameEvent, closeFrame, closeReasonCut, frameHeader, upgradeProblem, upgradeResponse, websocketAccept } from './websocket-frames.js';

/** A browser frame: masked, any opcode and FIN, optional raw first byte override. */
function clientFrame(opcode: number, payload: Buffer, fin = true, mask = randomBytes(4)): Buffer {
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0, len]) : len < 65_536 ? Buffer.from([0, 126, len >> 8, len & 255]) : Buffer.alloc(10);
  if (len >= 65_536) (head[1] = 127), head.writeBigUInt64BE(BigInt(len), 2);
  head[0] = (fin ? 0x80 : 0) | opcode;
  head[1]! |= 0x80;
  return Buffer.concat([head, mask, Buffer.from(payload.map((b, i) => b ^ mask[i & 3]!))]);
}

/** Feeds `bytes` in chunks of `size`, merging consecutive data events (their split depends on the chunks). */
function read(bytes: Buffer, size: number): BrowserFrameEvent[] {
  const reader = new BrowserFrameReader();
  const out: Array<BrowserFrameEvent | Buffer[]> = [];
  for (let at = 0; at < bytes.length; at += size) {
    for (const e of reader.feed(bytes.subarray(at, at + size))) {
      const last = out.at(-1);
      if (e.kind !== 'data') out.push(e);
      else if (Array.isArray(last)) last.push(e.bytes);
      else out.push([e.bytes]);
    }
  }
  return out.map((e) => (Array.isArray(e) ? { kind: 'data', bytes: Buffer.concat(e) } : e));
}

describe('the opening handshake', () => {
  it('Sec-WebSocket-Accept is the RFC 6455 example', () => {
    assert.equal(websocketAccept('dGhlIHNhbXBsZSBub25jZQ=='), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });
  const ok = { upgrade: 'websocket', connection: 'keep-alive, Upgrade', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' };
  const rows: Array<[string, string | undefined, Record<string, string | undefined>, RegExp | undefined]> = [
    ['a browser handshake', 'GET', ok, undefined],
    ['POST', 'POST', ok, /opens with GET/],
    ['no Upgrade header', 'GET', { ...ok, upgrade: undefined }, /Upgrade: websocket/],
    ['Upgrade: h2c', 'GET', { ...ok, upgrade: 'h2c' }, /Upgrade: websocket/],
    ['Connection without upgrade', 'GET', { ...ok, connection: 'keep-alive' }, /Connection: Upgrade/],
    ['version 8', 'GET', { ...ok, 'sec-websocket-version': '8' }, /version 13/],
    ['a short key', 'GET', { ...ok, 'sec-websocket-key': 'abc' }, /16 bytes in base64/],
  ];
  for (const [name, method, headers, problem] of rows) {
    it(name, () => {
      const got = upgradeProblem({ method, headers });
      if (problem) assert.match(got ?? '', problem);
      else assert.equal(got, undefined);
    });
  }
  it('the 101 names "binary" only when the browser offered it', () => {
    const withBinary = upgradeResponse({ method: 'GET', headers: { ...ok, 'sec-websocket-protocol': 'base64, binary' } });
    assert.equal(withBinary, 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: binary\r\n\r\n');
    assert.doesNotMatch(upgradeResponse({ method: 'GET', headers: { ...ok, 'sec-websocket-protocol': 'base64' } }), /Sec-WebSocket-Protocol/);
  });
});

describe('server frames', () => {
  const rows: Array<[number, string]> = [[0, '8200'], [125, '827d'], [126, '827e007e'], [65_535, '827effff'], [65_536, '827f0000000000010000']];
  for (const [length, hex] of rows) it(`a header for ${length} bytes`, () => assert.equal(frameHeader(2, length).toString('hex'), hex));
  it('close frames: code and reason, no body for an echo of none, reasons cut on a character boundary', () => {
    assert.equal(closeFrame(4409, 'DISCONNECTED x').toString('hex'), `8810113944495343${Buffer.from('ONNECTED x').toString('hex')}`);
    assert.equal(closeFrame().toString('hex'), '8800');
    assert.equal(closeReasonCut('é'.repeat(70)).toString(), 'é'.repeat(61));
    assert.equal(closeFrame(1000, 'x'.repeat(200)).length, 2 + 2 + 123);
  });
});

describe('BrowserFrameReader, at every chunk size down to one byte', () => {
  const big = randomBytes(70_000);
  const cases: Array<[string, Buffer, BrowserFrameEvent[]]> = [
    ['one binary message', clientFrame(2, Buffer.from('RFB 003.008\n')), [{ kind: 'data', bytes: Buffer.from('RFB 003.008\n') }]],
    ['a 64-bit length', clientFrame(2, big), [{ kind: 'data', bytes: big }]],
    ['an empty message yields nothing', clientFrame(2, Buffer.alloc(0)), []],
    [
      'fragments with a ping between them',
      Buffer.concat([clientFrame(2, Buffer.from('RFB '), false), clientFrame(9, Buffer.from('hi')), clientFrame(0, Buffer.from('003'), true)]),
      [{ kind: 'data', bytes: Buffer.from('RFB ') }, { kind: 'ping', payload: Buffer.from('hi') }, { kind: 'data', bytes: Buffer.from('003') }],
    ],
    ['a pong', clientFrame(10, Buffer.from('x')), [{ kind: 'pong' }]],
    ['a close with code and reason', clientFrame(8, Buffer.concat([Buffer.from([0x03, 0xe9]), Buffer.from('going away')])), [{ kind: 'close', code: 1001, reason: 'going away' }]],
    ['a close without a body', clientFrame(8, Buffer.alloc(0)), [{ kind: 'close', reason: '' }]],
    ['a text message: once, its payload dropped (fragments too)', Buffer.concat([clientFrame(1, Buffer.from('he'), false), clientFrame(0, Buffer.from('llo'))]), [{ kind: 'text' }]],
    ['an unmasked frame', Buffer.from([0x82, 0x03, 1, 2, 3]), [{ kind: 'violation', why: 'an unmasked frame from the browser' }]],
    ['reserved bits', Buffer.from([0xc2, 0x80, 0, 0, 0, 0]), [{ kind: 'violation', why: 'reserved bits set (no extension was agreed)' }]],
    ['a continuation without a start', clientFrame(0, Buffer.from('x')), [{ kind: 'violation', why: 'a continuation without a message' }]],
    ['a new message inside a fragmented one', Buffer.concat([clientFrame(2, Buffer.from('a'), false), clientFrame(2, Buffer.from('b'))]), [{ kind: 'data', bytes: Buffer.from('a') }, { kind: 'violation', why: 'a new message inside a fragmented one' }]],
    ['a fragmented ping', clientFrame(9, Buffer.from('p'), false), [{ kind: 'violation', why: 'a fragmented control frame' }]],
    ['a ping longer than 125 bytes', clientFrame(9, Buffer.alloc(126)), [{ kind: 'violation', why: 'a control frame longer than 125 bytes' }]],
    ['a 1-byte close body', clientFrame(8, Buffer.from([3])), [{ kind: 'violation', why: 'a close frame with a 1-byte body' }]],
    ['an unknown opcode', clientFrame(3, Buffer.from('x')), [{ kind: 'violation', why: 'unknown opcode 3' }]],
    ['nothing after a violation', Buffer.concat([clientFrame(3, Buffer.alloc(0)), clientFrame(2, Buffer.from('late'))]), [{ kind: 'violation', why: 'unknown opcode 3' }]],
  ];
  for (const [name, bytes, expected] of cases) {
    it(name, () => {
      for (const size of [1, 2, 3, 7, 1000, bytes.length || 1]) assert.deepEqual(read(bytes, size), expected, `in ${size}-byte chunks`);
    });
  }
});
