// Table tests of the RFB input meter: every client message alone, whole streams, and the same streams split
// at every byte (noVNC-style framing tests), plus the streams it must give up on (counted as input).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RfbInputMeter } from './rfb-input.js';

const u8 = (n: number) => Buffer.from([n]);
const u16 = (n: number) => { const b = Buffer.alloc(2); b.writeUInt16BE(n); return b; };
const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32BE(n >>> 0); return b; };
const i32 = (n: number) => { const b = Buffer.alloc(4); b.writeInt32BE(n); return b; };
const pad = (n: number) => Buffer.alloc(n);
const cat = (...parts: Buffer[]) => Buffer.concat(parts);

const handshakeNone = cat(Buffer.from('RFB 003.008\n'), u8(1), u8(1));
const handshakeVncAuth = cat(Buffer.from('RFB 003.008\n'), u8(2), Buffer.alloc(16, 0xab), u8(0));

const msg = {
  setPixelFormat: cat(u8(0), pad(3), Buffer.from([32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0])),
  setEncodings: cat(u8(2), pad(1), u16(3), i32(0), i32(-223), i32(-258)),
  setEncodingsNone: cat(u8(2), pad(1), u16(0)),
  fbur: cat(u8(3), u8(1), u16(0), u16(0), u16(1024), u16(768)),
  key: cat(u8(4), u8(1), pad(2), u32(0x61)),
  pointer: cat(u8(5), u8(0), u16(100), u16(200)),
  cutText: cat(u8(6), pad(3), u32(5), Buffer.from('hello')),
  cutTextExtended: cat(u8(6), pad(3), i32(-8), u32(0x01000001), Buffer.from([1, 2, 3, 4])),
  cutTextEmpty: cat(u8(6), pad(3), u32(0)),
  continuousUpdates: cat(u8(150), u8(1), u16(0), u16(0), u16(800), u16(600)),
  fence: cat(u8(248), pad(3), u32(0x80000002), u8(4), Buffer.from([9, 9, 9, 9])),
  fenceEmpty: cat(u8(248), pad(3), u32(0), u8(0)),
  setDesktopSize: cat(u8(251), pad(1), u16(1280), u16(720), u8(2), pad(1), Buffer.alloc(32, 7)),
  qemuKey: cat(u8(255), u8(0), u16(1), u32(0x61), u32(0x1e)),
  audioEnable: cat(u8(255), u8(1), u16(0)),
  audioDisable: cat(u8(255), u8(1), u16(1)),
  audioFormat: cat(u8(255), u8(1), u16(2), u8(3), u8(2), u32(44100)),
};
const inputMessages = new Set<keyof typeof msg>(['key', 'pointer', 'cutText', 'cutTextExtended', 'cutTextEmpty', 'qemuKey']);

/** Feeds each chunk; returns which chunks the meter called input. */
function feedAll(chunks: Buffer[], meter = new RfbInputMeter()): boolean[] {
  return chunks.map((c) => meter.feed(c));
}

function bytesOf(b: Buffer): Buffer[] {
  return [...b].map((x) => Buffer.from([x]));
}

describe('RfbInputMeter: each message alone, after the handshake', () => {
  for (const [name, bytes] of Object.entries(msg) as Array<[keyof typeof msg, Buffer]>) {
    const input = inputMessages.has(name);
    it(`${name} → ${input ? 'input' : 'not input'} (whole, then byte by byte)`, () => {
      const meter = new RfbInputMeter();
      assert.equal(meter.feed(handshakeNone), false);
      assert.equal(meter.feed(bytes), input);
      // Split at every byte: only the last byte completes the message.
      const perByte = feedAll(bytesOf(bytes), meter);
      assert.deepEqual(perByte, perByte.map((_, i) => input && i === bytes.length - 1));
      // And the stream is still in step: a pointer event after it is seen as input, a FBUR is not.
      assert.equal(meter.feed(msg.fbur), false);
      assert.equal(meter.feed(msg.pointer), true);
      assert.equal(meter.opaque, false);
    });
  }
});

describe('RfbInputMeter: whole sessions', () => {
  const idleBrowser = cat(handshakeNone, msg.setPixelFormat, msg.setEncodings, msg.continuousUpdates, msg.fence, ...Array(50).fill(msg.fbur));
  const cases: Array<{ what: string; stream: Buffer; input: boolean }> = [
    { what: 'an open, untouched noVNC (format, encodings, fences, many FBURs)', stream: idleBrowser, input: false },
    { what: 'the same with one pointer move in the middle', stream: cat(idleBrowser, msg.pointer, msg.fbur), input: true },
    { what: 'VNC authentication, then FBURs', stream: cat(handshakeVncAuth, msg.fbur, msg.fbur), input: false },
    { what: 'VNC authentication, then a key', stream: cat(handshakeVncAuth, msg.fbur, msg.key), input: true },
    { what: 'resize and audio, no input', stream: cat(handshakeNone, msg.setDesktopSize, msg.audioFormat, msg.audioEnable, msg.fbur), input: false },
    { what: 'a paste (extended clipboard)', stream: cat(handshakeNone, msg.fbur, msg.cutTextExtended), input: true },
  ];
  for (const c of cases) {
    it(`${c.what}: one chunk → ${c.input}`, () => {
      assert.equal(new RfbInputMeter().feed(c.stream), c.input);
    });
    it(`${c.what}: split at every byte → ${c.input}`, () => {
      assert.equal(feedAll(bytesOf(c.stream)).some(Boolean), c.input);
    });
    it(`${c.what}: split in 3- and 7-byte chunks → ${c.input}`, () => {
      for (const size of [3, 7]) {
        const chunks: Buffer[] = [];
        for (let i = 0; i < c.stream.length; i += size) chunks.push(c.stream.subarray(i, i + size));
        assert.equal(feedAll(chunks).some(Boolean), c.input, `chunks of ${size}`);
      }
    });
  }

  it('several messages in one chunk: input when any of them is input', () => {
    const meter = new RfbInputMeter();
    meter.feed(handshakeNone);
    assert.equal(meter.feed(cat(msg.fbur, msg.fbur, msg.fence)), false);
    assert.equal(meter.feed(cat(msg.fbur, msg.qemuKey, msg.fbur)), true);
    assert.equal(meter.feed(cat(msg.fbur, msg.fbur.subarray(0, 4))), false);
    assert.equal(meter.feed(cat(msg.fbur.subarray(4), msg.key.subarray(0, 7))), false);
    assert.equal(meter.feed(msg.key.subarray(7)), true, 'the key completes with its last byte');
  });

  it('the handshake alone is never input', () => {
    assert.deepEqual(feedAll(bytesOf(handshakeNone)), Array(handshakeNone.length).fill(false));
  });
});

describe('RfbInputMeter: streams it cannot follow count as input from then on', () => {
  const cases: Array<{ what: string; prefix: Buffer }> = [
    { what: 'an unknown message type', prefix: cat(handshakeNone, msg.fbur, u8(77)) },
    { what: 'an unknown QEMU subtype', prefix: cat(handshakeNone, u8(255), u8(9)) },
    { what: 'an unknown QEMU audio operation', prefix: cat(handshakeNone, u8(255), u8(1), u16(7)) },
    { what: 'a security type with its own negotiation (VeNCrypt)', prefix: cat(Buffer.from('RFB 003.008\n'), u8(19)) },
    { what: 'an RFB 3.3 client (the server picks the security type)', prefix: Buffer.from('RFB 003.003\n') },
    { what: 'garbage instead of a version', prefix: Buffer.from('GET / HTTP/1.1\r\n') },
  ];
  for (const c of cases) {
    it(c.what, () => {
      const meter = new RfbInputMeter();
      assert.equal(meter.feed(c.prefix), true);
      assert.equal(meter.opaque, true);
      assert.equal(meter.feed(msg.fbur), true, 'even a FBUR now counts');
      assert.equal(meter.feed(Buffer.alloc(0)), false, 'an empty chunk is nothing');
    });
  }
});
