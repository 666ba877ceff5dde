import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hasQcow2Magic, parseQcow2Header, Qcow2ParseError, QCOW2_EXT_BACKING_FORMAT } from './qcow2-header.js';
import { qcow2OverlayBytes, qcow2OverlayLayout, Qcow2OverlayError } from './qcow2-overlay.js';
import { qcow2Verdict } from './image-rules.js';
import { parseQemuImgProgress } from './qemu-img.js';

const GiB = 2 ** 30;
const TiB = 2 ** 40;

describe('qcow2 overlay layout', () => {
  const table: Array<[number, number, Partial<ReturnType<typeof qcow2OverlayLayout>>]> = [
    [GiB, 16, { l1Size: 2, l1Clusters: 1, refcountBlocks: 1, refcountTableClusters: 1, totalClusters: 4 }],
    [512, 16, { l1Size: 1, totalClusters: 4 }],
    [16 * TiB, 16, { l1Size: 32768, l1Clusters: 4, totalClusters: 7 }],
    [GiB, 9, { clusterSize: 512, l1Size: 32768, l1Clusters: 512, refcountBlocks: 3, refcountTableClusters: 1, totalClusters: 517 }],
    [GiB, 21, { clusterSize: 2 ** 21, l1Size: 1, totalClusters: 4 }],
  ];
  for (const [size, bits, expected] of table) {
    it(`${size} bytes with ${bits}-bit clusters`, () => {
      const layout = qcow2OverlayLayout(size, bits);
      for (const [key, value] of Object.entries(expected)) assert.equal(layout[key as keyof typeof layout], value, key);
    });
  }
});

describe('qcow2OverlayBytes → parseQcow2Header round trip', () => {
  it('writes what the parser reads back', () => {
    const bytes = qcow2OverlayBytes({ virtualSize: 10 * GiB, backingFile: '../images/win/3.qcow2', backingFormat: 'qcow2' });
    assert.equal(bytes.length, 4 * 65536);
    assert.ok(hasQcow2Magic(bytes));
    const h = parseQcow2Header(bytes);
    assert.equal(h.version, 3);
    assert.equal(h.virtualSize, 10 * GiB);
    assert.equal(h.clusterBits, 16);
    assert.equal(h.backingFile, '../images/win/3.qcow2');
    assert.equal(h.backingFormat, 'qcow2');
    assert.equal(h.l1Size, 20);
    assert.equal(h.refcountTableOffset, 65536);
    assert.equal(h.l1TableOffset, 3 * 65536);
    assert.equal(h.headerLength, 112);
    assert.deepEqual(h.extensions.map((e) => e.type), [QCOW2_EXT_BACKING_FORMAT]);
    // every used cluster has refcount 1, the next entry 0
    const view = new DataView(bytes.buffer);
    assert.deepEqual([0, 1, 2, 3, 4].map((i) => view.getUint16(2 * 65536 + i * 2)), [1, 1, 1, 1, 0]);
    // our own overlay is refused as a foreign image only because of its backing file
    assert.match(qcow2Verdict(h, bytes.length)?.reason ?? '', /backing file/);
  });
  it('refuses impossible options', () => {
    const base = { virtualSize: GiB, backingFile: '/b.qcow2', backingFormat: 'qcow2' as const };
    for (const bad of [{ virtualSize: 0 }, { virtualSize: 1000 }, { clusterBits: 8 }, { clusterBits: 22 }, { backingFile: '' }, { backingFile: 'a\0b' }, { backingFile: 'x'.repeat(1024) }]) {
      assert.throws(() => qcow2OverlayBytes({ ...base, ...bad }), Qcow2OverlayError, JSON.stringify(bad).slice(0, 40));
    }
  });
});

describe('parseQcow2Header', () => {
  it('refuses non-qcow2 bytes and unknown versions', () => {
    assert.throws(() => parseQcow2Header(new Uint8Array(200)), Qcow2ParseError);
    const bytes = qcow2OverlayBytes({ virtualSize: GiB, backingFile: '/b', backingFormat: 'raw' });
    new DataView(bytes.buffer).setUint32(4, 9);
    assert.throws(() => parseQcow2Header(bytes), /version 9/);
    assert.throws(() => parseQcow2Header(bytes.subarray(0, 50)), /too short/);
  });
  it('reports an extension that runs past the header area', () => {
    const bytes = qcow2OverlayBytes({ virtualSize: GiB, backingFile: '/b', backingFormat: 'raw' });
    new DataView(bytes.buffer).setUint32(116, 5000);
    assert.throws(() => parseQcow2Header(bytes), /runs past/);
  });
});

describe('parseQemuImgProgress', () => {
  const table: Array<[string, number[]]> = [
    ['    (0.00/100%)\r    (12.34/100%)\r', [0, 0.1234]],
    ['    (100.00/100%)\r\n', [1]],
    ['nothing', []],
  ];
  for (const [text, expected] of table) it(JSON.stringify(text), () => assert.deepEqual(parseQemuImgProgress(text), expected));
});
