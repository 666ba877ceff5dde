// The test PNG decoder against PNGs built here with every row filter (and against QEMU's own
// screendump output in thinclient-boot.test.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deflateSync } from 'node:zlib';
import { decodePng, dominantColour, PngDecodeError } from './png.js';

function crcless(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  return Buffer.concat([head, data, Buffer.alloc(4)]); // the decoder does not check CRCs
}

/** Encodes RGB rows with the given filter per row (the encoder side of each filter). */
function encode(width: number, rows: number[][], filters: number[]): Buffer {
  const bpp = 3;
  const stride = width * bpp;
  const raw: number[] = [];
  rows.forEach((row, y) => {
    const f = filters[y % filters.length]!;
    raw.push(f);
    for (let x = 0; x < stride; x++) {
      const a = x >= bpp ? row[x - bpp]! : 0;
      const b = y > 0 ? rows[y - 1]![x]! : 0;
      const c = x >= bpp && y > 0 ? rows[y - 1]![x - bpp]! : 0;
      const p = a + b - c;
      const paeth = Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
      const pred = [0, a, b, (a + b) >> 1, paeth][f]!;
      raw.push((row[x]! - pred) & 0xff);
    }
  });
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(rows.length, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), crcless('IHDR', ihdr), crcless('IDAT', deflateSync(Buffer.from(raw))), crcless('IEND', Buffer.alloc(0))]);
}

test('every row filter decodes back to the pixels, and the dominant colour is found', () => {
  const width = 5;
  const rows = Array.from({ length: 10 }, (_, y) => Array.from({ length: width * 3 }, (_, x) => (y > 6 ? [0x12, 0xab, 0xcd][x % 3]! : (x * 37 + y * 11) & 0xff)));
  for (const rows2 of [rows, rows.slice().reverse()]) {
    for (const filters of [[0], [1], [2], [3], [4], [0, 1, 2, 3, 4]]) {
      const png = decodePng(encode(width, rows2, filters));
      assert.equal(png.width, width);
      assert.equal(png.height, 10);
      assert.deepEqual([...png.pixels], rows2.flat(), `filters ${filters.join(',')}`);
    }
  }
  const solid = Array.from({ length: 4 }, () => Array.from({ length: 12 }, (_, x) => [0x12, 0xab, 0xcd][x % 3]!));
  assert.deepEqual(dominantColour(decodePng(encode(4, [...solid, rows[0]!.slice(0, 12)], [4]))), { rgb: [0x12, 0xab, 0xcd], share: 16 / 20 });
});

test('a file that is not a PNG is refused', () => {
  assert.throws(() => decodePng(Buffer.from('GIF89a....')), PngDecodeError);
});
