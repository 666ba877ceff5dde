// Pure builder of an empty qcow2 v3 overlay with a backing file: the exact bytes qemu-img create
// would write, without spawning it. Layout: header | refcount table | refcount blocks | L1 table.
import { QCOW2_EXT_BACKING_FORMAT, QCOW2_MAGIC } from './qcow2-header.js';

export const QCOW2_OVERLAY_HEADER_LENGTH = 112; // v3 header with the compression-type byte, padded to 8
export const MAX_BACKING_NAME_BYTES = 1023; // QEMU refuses longer backing file names
const REFCOUNT_ORDER = 4; // 16-bit refcounts, QEMU's default

export class Qcow2OverlayError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Qcow2OverlayError';
  }
}

export interface Qcow2OverlayOptions {
  virtualSize: number;
  backingFile: string;
  backingFormat: 'qcow2' | 'raw';
  clusterBits?: number;
}

export interface Qcow2OverlayLayout {
  clusterSize: number;
  l1Size: number;
  refcountTableClusters: number;
  refcountBlocks: number;
  l1Clusters: number;
  totalClusters: number;
}

const ceilDiv = (a: number, b: number): number => Math.ceil(a / b);

/** Where each table goes; the refcount blocks must also count themselves, hence the loop. */
export function qcow2OverlayLayout(virtualSize: number, clusterBits: number): Qcow2OverlayLayout {
  const clusterSize = 2 ** clusterBits;
  const bytesPerL2 = clusterSize * (clusterSize / 8);
  const l1Size = ceilDiv(virtualSize, bytesPerL2);
  const l1Clusters = Math.max(1, ceilDiv(l1Size * 8, clusterSize));
  const refcountsPerBlock = clusterSize / (2 ** REFCOUNT_ORDER / 8);
  let refcountTableClusters = 1;
  let refcountBlocks = 1;
  for (;;) {
    const total = 1 + refcountTableClusters + refcountBlocks + l1Clusters;
    const blocks = ceilDiv(total, refcountsPerBlock);
    const tableClusters = ceilDiv(blocks * 8, clusterSize);
    if (blocks === refcountBlocks && tableClusters === refcountTableClusters) {
      return { clusterSize, l1Size, refcountTableClusters, refcountBlocks, l1Clusters, totalClusters: total };
    }
    refcountBlocks = blocks;
    refcountTableClusters = tableClusters;
  }
}

function validate(opts: Qcow2OverlayOptions, clusterBits: number, nameBytes: Uint8Array): void {
  if (!Number.isInteger(clusterBits) || clusterBits < 9 || clusterBits > 21) throw new Qcow2OverlayError(`cluster bits ${clusterBits} outside 9..21`);
  if (!Number.isSafeInteger(opts.virtualSize) || opts.virtualSize <= 0 || opts.virtualSize % 512 !== 0) {
    throw new Qcow2OverlayError(`virtual size ${opts.virtualSize} must be a positive multiple of 512`);
  }
  if (nameBytes.length === 0 || nameBytes.length > MAX_BACKING_NAME_BYTES) throw new Qcow2OverlayError(`backing file name must be 1..${MAX_BACKING_NAME_BYTES} bytes`);
  if (nameBytes.includes(0)) throw new Qcow2OverlayError('backing file name contains a NUL byte');
  if (opts.backingFormat !== 'qcow2' && opts.backingFormat !== 'raw') throw new Qcow2OverlayError(`backing format ${String(opts.backingFormat)} is not qcow2 or raw`);
}

/** The complete file of an empty overlay; its tables are zero except header and refcounts. */
export function qcow2OverlayBytes(opts: Qcow2OverlayOptions): Uint8Array {
  const clusterBits = opts.clusterBits ?? 16;
  const nameBytes = new TextEncoder().encode(opts.backingFile);
  validate(opts, clusterBits, nameBytes);
  const layout = qcow2OverlayLayout(opts.virtualSize, clusterBits);
  const { clusterSize } = layout;
  const formatBytes = new TextEncoder().encode(opts.backingFormat);
  const extLength = 8 + Math.ceil(formatBytes.length / 8) * 8;
  const backingOffset = QCOW2_OVERLAY_HEADER_LENGTH + extLength + 8; // + end-of-extensions marker
  if (backingOffset + nameBytes.length > clusterSize) throw new Qcow2OverlayError('backing file name does not fit the first cluster; use larger clusters');

  const refcountTableOffset = clusterSize;
  const refcountBlocksOffset = refcountTableOffset + layout.refcountTableClusters * clusterSize;
  const l1Offset = refcountBlocksOffset + layout.refcountBlocks * clusterSize;
  const bytes = new Uint8Array(layout.totalClusters * clusterSize);
  const view = new DataView(bytes.buffer);

  view.setUint32(0, QCOW2_MAGIC);
  view.setUint32(4, 3);
  view.setBigUint64(8, BigInt(backingOffset));
  view.setUint32(16, nameBytes.length);
  view.setUint32(20, clusterBits);
  view.setBigUint64(24, BigInt(opts.virtualSize));
  view.setUint32(32, 0); // no encryption
  view.setUint32(36, layout.l1Size);
  view.setBigUint64(40, BigInt(l1Offset));
  view.setBigUint64(48, BigInt(refcountTableOffset));
  view.setUint32(56, layout.refcountTableClusters);
  // nb_snapshots, snapshots_offset, the three feature masks: zero
  view.setUint32(96, REFCOUNT_ORDER);
  view.setUint32(100, QCOW2_OVERLAY_HEADER_LENGTH); // byte 104 = compression type zlib (0), then padding

  view.setUint32(QCOW2_OVERLAY_HEADER_LENGTH, QCOW2_EXT_BACKING_FORMAT);
  view.setUint32(QCOW2_OVERLAY_HEADER_LENGTH + 4, formatBytes.length);
  bytes.set(formatBytes, QCOW2_OVERLAY_HEADER_LENGTH + 8);
  bytes.set(nameBytes, backingOffset);

  for (let block = 0; block < layout.refcountBlocks; block++) {
    view.setBigUint64(refcountTableOffset + block * 8, BigInt(refcountBlocksOffset + block * clusterSize));
  }
  for (let cluster = 0; cluster < layout.totalClusters; cluster++) view.setUint16(refcountBlocksOffset + cluster * 2, 1);
  return bytes;
}
