import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FirstFrameWatch, rfbFirstFrame } from './rfb-first-frame.js';

const u16 = (n: number) => [(n >> 8) & 255, n & 255];
const s32 = (n: number) => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
const ascii = (s: string) => [...Buffer.from(s, 'latin1')];
const serverInit = (bpp = 32, name = 'QEMU') => [...u16(640), ...u16(480), bpp, 24, 0, 1, ...u16(255), ...u16(255), ...u16(255), 16, 8, 0, 0, 0, 0, ...s32(name.length), ...ascii(name)];
const HELLO_38 = [...ascii('RFB 003.008\n'), 1, 1, ...s32(0), ...serverInit()];
const rect = (w: number, h: number, encoding: number) => [...u16(0), ...u16(0), ...u16(w), ...u16(h), ...s32(encoding)];
const update = (...rects: number[][]) => [0, 0, ...u16(rects.length), ...rects.flat()];
const RAW = update(rect(640, 480, 0));

const CASES: Array<{ name: string; bytes: number[]; expect: ReturnType<typeof rfbFirstFrame> }> = [
  { name: 'nothing yet', bytes: [], expect: { found: false, more: true } },
  { name: 'the handshake only', bytes: HELLO_38, expect: { found: false, more: true } },
  { name: 'the first update is pixels', bytes: [...HELLO_38, ...RAW], expect: { found: true, end: HELLO_38.length + RAW.length } },
  { name: 'half the rectangle header', bytes: [...HELLO_38, ...RAW.slice(0, 8)], expect: { found: false, more: true } },
  {
    name: 'pseudo rectangles first (key events, LED state, desktop size), then pixels',
    bytes: [...HELLO_38, ...update(rect(0, 0, -258)), ...update([...rect(0, 0, -261), 2]), ...update(rect(640, 480, -223)), ...RAW],
    expect: { found: true, end: HELLO_38.length + 16 + 17 + 16 + RAW.length },
  },
  {
    name: 'a cursor (pixels and mask) and a bell before the frame',
    bytes: [...HELLO_38, ...update([...rect(2, 2, -239), ...new Array(2 * 2 * 4 + 2).fill(0)]), 2, ...RAW],
    expect: { found: true, end: HELLO_38.length + 4 + 12 + 18 + 1 + RAW.length },
  },
  {
    name: 'extended desktop size with one screen, then tight pixels in the same update',
    bytes: [...HELLO_38, 0, 0, ...u16(2), ...rect(640, 480, -308), 1, 0, 0, 0, ...new Array(16).fill(0), ...rect(64, 64, 7)],
    expect: { found: true, end: HELLO_38.length + 4 + 12 + 20 + 12 },
  },
  { name: 'clipboard text before the frame', bytes: [...HELLO_38, 3, 0, 0, 0, ...s32(2), 104, 105, ...RAW], expect: { found: true, end: HELLO_38.length + 10 + RAW.length } },
  { name: 'RFB 3.3 with None', bytes: [...ascii('RFB 003.003\n'), ...s32(1), ...serverInit(), ...RAW], expect: { found: true, end: 12 + 4 + 28 + RAW.length } },
  { name: 'RFB 3.7: no security result', bytes: [...ascii('RFB 003.007\n'), 1, 1, ...serverInit(), ...RAW], expect: { found: true, end: 14 + 28 + RAW.length } },
  { name: 'VNC password only', bytes: [...ascii('RFB 003.008\n'), 1, 2], expect: { found: false, more: false, why: 'security types 2 (only None is followed)' } },
  { name: 'refused', bytes: [...ascii('RFB 003.008\n'), 0], expect: { found: false, more: false, why: 'the server refused the connection' } },
  { name: 'not RFB', bytes: ascii('HTTP/1.1 200 OK\r\n'), expect: { found: false, more: false, why: 'not an RFB server' } },
  { name: 'an unknown message', bytes: [...HELLO_38, 77], expect: { found: false, more: false, why: 'server message type 77 is not followed' } },
  { name: 'an unknown pseudo-encoding', bytes: [...HELLO_38, ...update(rect(1, 1, -999))], expect: { found: false, more: false, why: 'pseudo-encoding -999 is not followed' } },
];

for (const c of CASES) {
  test(`rfbFirstFrame: ${c.name}`, () => assert.deepEqual(rfbFirstFrame(Uint8Array.from(c.bytes)), c.expect));
}

test('FirstFrameWatch: fires once, when the bytes up to the first frame were sent, fed in pieces', () => {
  let fired = 0;
  const watch = new FirstFrameWatch(() => fired++);
  const all = Buffer.from([...HELLO_38, ...RAW, ...new Array(100).fill(7)]);
  const end = HELLO_38.length + RAW.length;
  for (let i = 0; i < all.length; i += 5) {
    watch.desktopBytes(all.subarray(i, i + 5));
    watch.sent(Math.min(i + 5, end - 1));
  }
  assert.equal(fired, 0, 'not before the last byte of the rectangle header went out');
  watch.sent(end);
  watch.sent(end + 50);
  assert.equal(fired, 1);
  assert.equal(watch.wants, false);
});

test('FirstFrameWatch: a stream it cannot follow never fires', () => {
  let fired = 0;
  const watch = new FirstFrameWatch(() => fired++);
  watch.desktopBytes(Buffer.from([...HELLO_38, 77, ...RAW]));
  watch.sent(10_000);
  assert.equal(fired, 0);
  assert.equal(watch.wants, false);
});
