// Pure judgement of a foreign image's header: what makes it hostile (reaches other files, or
// values built to make a parser misbehave) and what makes it merely invalid.
import type { VdiHeader } from './foreign-headers.js';
import {
  QCOW2_EXT_CRYPTO,
  QCOW2_EXT_DATA_FILE,
  QCOW2_INCOMPAT_CORRUPT,
  QCOW2_INCOMPAT_DATA_FILE,
  QCOW2_INCOMPAT_KNOWN,
  type Qcow2Header,
} from './qcow2-header.js';

export const MAX_IMAGE_VIRTUAL_BYTES = 16 * 2 ** 40; // 16 TiB
const MAX_L1_BYTES = 32 * 2 ** 20; // QEMU's QCOW_MAX_L1_SIZE
const MAX_REFTABLE_BYTES = 8 * 2 ** 20; // QEMU's QCOW_MAX_REFTABLE_SIZE

export interface Verdict {
  code: 'IMAGE_HOSTILE' | 'IMAGE_INVALID';
  reason: string;
}

const hostile = (reason: string): Verdict => ({ code: 'IMAGE_HOSTILE', reason });
const invalid = (reason: string): Verdict => ({ code: 'IMAGE_INVALID', reason });

export function virtualSizeVerdict(size: number): Verdict | undefined {
  if (!(size > 0)) return hostile('virtual size is zero');
  if (size > MAX_IMAGE_VIRTUAL_BYTES) return hostile(`virtual size ${size} is above the ${MAX_IMAGE_VIRTUAL_BYTES}-byte limit (16 TiB)`);
  return undefined;
}

function tableVerdict(name: string, offset: number, bytes: number, maxBytes: number, clusterSize: number, fileSize: number): Verdict | undefined {
  if (bytes > maxBytes) return hostile(`${name} of ${bytes} bytes is absurd (limit ${maxBytes})`);
  if (offset % clusterSize !== 0) return hostile(`${name} offset ${offset} is not cluster-aligned`);
  if (offset === 0 && bytes > 0) return hostile(`${name} overlaps the header`);
  if (offset + bytes > fileSize) return hostile(`${name} (offset ${offset}, ${bytes} bytes) lies beyond the end of the ${fileSize}-byte file`);
  return undefined;
}

/** The first reason to refuse a qcow2 from outside, or undefined when its header is acceptable. */
export function qcow2Verdict(h: Qcow2Header, fileSize: number): Verdict | undefined {
  if (h.backingFileOffset !== 0 || h.backingFileSize !== 0) return hostile(`it has a backing file${h.backingFile ? ` (${h.backingFile})` : ''}; import a standalone image`);
  if ((h.incompatibleFeatures & QCOW2_INCOMPAT_DATA_FILE) !== 0n || h.dataFile !== undefined || h.extensions.some((e) => e.type === QCOW2_EXT_DATA_FILE)) {
    return hostile(`it keeps its data in an external file${h.dataFile ? ` (${h.dataFile})` : ''}`);
  }
  if (h.clusterBits < 9 || h.clusterBits > 21) return hostile(`cluster_bits ${h.clusterBits} is outside 9..21`);
  const sizeProblem = virtualSizeVerdict(h.virtualSize);
  if (sizeProblem) return sizeProblem;
  if (h.refcountOrder > 6) return hostile(`refcount_order ${h.refcountOrder} is above 6`);
  const clusterSize = 2 ** h.clusterBits;
  const l1Needed = Math.ceil(h.virtualSize / (clusterSize * (clusterSize / 8)));
  if (h.l1Size < l1Needed) return hostile(`L1 table of ${h.l1Size} entries cannot cover ${h.virtualSize} bytes`);
  const l1 = tableVerdict('L1 table', h.l1TableOffset, h.l1Size * 8, MAX_L1_BYTES, clusterSize, fileSize);
  if (l1) return l1;
  const refcounts = tableVerdict('refcount table', h.refcountTableOffset, h.refcountTableClusters * clusterSize, MAX_REFTABLE_BYTES, clusterSize, fileSize);
  if (refcounts) return refcounts;
  if (h.refcountTableClusters === 0) return hostile('refcount table has no clusters');
  if (h.nbSnapshots > 0 && (h.snapshotsOffset % 8 !== 0 || h.snapshotsOffset >= fileSize)) return hostile(`snapshot table offset ${h.snapshotsOffset} lies beyond the file`);
  if (h.cryptMethod !== 0 || h.extensions.some((e) => e.type === QCOW2_EXT_CRYPTO)) return invalid('it is encrypted; decrypt it before import');
  if ((h.incompatibleFeatures & ~QCOW2_INCOMPAT_KNOWN) !== 0n) return invalid(`unknown incompatible features 0x${h.incompatibleFeatures.toString(16)}`);
  if ((h.incompatibleFeatures & QCOW2_INCOMPAT_CORRUPT) !== 0n) return invalid('it is marked corrupt');
  return undefined;
}

export function vdiVerdict(h: VdiHeader, fileSize: number): Verdict | undefined {
  if (h.imageType !== 1 && h.imageType !== 2) return hostile(`VDI image type ${h.imageType} (differencing/undo) refers to a parent; import a standalone image`);
  const sizeProblem = virtualSizeVerdict(h.diskSize);
  if (sizeProblem) return sizeProblem;
  if (h.sectorSize !== 512) return invalid(`VDI sector size ${h.sectorSize} is not 512`);
  if (h.blockSize === 0 || h.blockSize > 64 * 2 ** 20) return hostile(`VDI block size ${h.blockSize} is absurd`);
  if (h.offsetBlocks >= fileSize || h.offsetData > fileSize) return hostile('VDI block map or data offset lies beyond the file');
  return undefined;
}
