// Pure qcow2 header parser (QEMU docs/interop/qcow2.txt): the fixed header, the header
// extensions and the backing file name, from the first bytes of a file. No I/O, no trust.

export const QCOW2_MAGIC = 0x514649fb; // "QFI\xfb"
export const QCOW2_EXT_END = 0x00000000;
export const QCOW2_EXT_BACKING_FORMAT = 0xe2792aca;
export const QCOW2_EXT_FEATURE_NAMES = 0x6803f857;
export const QCOW2_EXT_BITMAPS = 0x23852875;
export const QCOW2_EXT_CRYPTO = 0x0537be77;
export const QCOW2_EXT_DATA_FILE = 0x44415441;

/** Incompatible feature bits (header offset 72). */
export const QCOW2_INCOMPAT_DIRTY = 1n << 0n;
export const QCOW2_INCOMPAT_CORRUPT = 1n << 1n;
export const QCOW2_INCOMPAT_DATA_FILE = 1n << 2n;
export const QCOW2_INCOMPAT_COMPRESSION = 1n << 3n;
export const QCOW2_INCOMPAT_EXTL2 = 1n << 4n;
export const QCOW2_INCOMPAT_KNOWN = 0x1fn;

export const QCOW2_V2_HEADER_LENGTH = 72;
export const QCOW2_V3_MIN_HEADER_LENGTH = 104;

export class Qcow2ParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Qcow2ParseError';
  }
}

export interface Qcow2Extension {
  type: number;
  offset: number; // where its data starts in the file
  length: number;
}

export interface Qcow2Header {
  version: number;
  backingFileOffset: number;
  backingFileSize: number;
  clusterBits: number;
  virtualSize: number;
  cryptMethod: number;
  l1Size: number;
  l1TableOffset: number;
  refcountTableOffset: number;
  refcountTableClusters: number;
  nbSnapshots: number;
  snapshotsOffset: number;
  incompatibleFeatures: bigint;
  compatibleFeatures: bigint;
  autoclearFeatures: bigint;
  refcountOrder: number;
  headerLength: number;
  compressionType: number;
  extensions: Qcow2Extension[];
  /** Set when the header names a backing file and its bytes were inside `bytes`. */
  backingFile?: string;
  backingFormat?: string;
  /** The external data file name (extension 0x44415441), if any. */
  dataFile?: string;
}

/** True when the bytes start with the qcow2 magic. */
export function hasQcow2Magic(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0) === QCOW2_MAGIC;
}

/** A u64 that must fit a JS number exactly; larger values are reported as Infinity so range checks refuse them. */
function u64(view: DataView, at: number): number {
  const v = view.getBigUint64(at);
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.POSITIVE_INFINITY : Number(v);
}

const text = (bytes: Uint8Array, start: number, length: number): string => Buffer.from(bytes.subarray(start, start + length)).toString('utf8');

/** Parses the header from the first bytes of the file (at least 72; the whole first cluster to see extensions and names). */
export function parseQcow2Header(bytes: Uint8Array): Qcow2Header {
  if (bytes.length < QCOW2_V2_HEADER_LENGTH) throw new Qcow2ParseError(`only ${bytes.length} bytes: too short for a qcow2 header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0) !== QCOW2_MAGIC) throw new Qcow2ParseError('no qcow2 magic (QFI\\xfb)');
  const version = view.getUint32(4);
  if (version !== 2 && version !== 3) throw new Qcow2ParseError(`qcow2 version ${version} is unknown`);
  const header: Qcow2Header = {
    version,
    backingFileOffset: u64(view, 8),
    backingFileSize: view.getUint32(16),
    clusterBits: view.getUint32(20),
    virtualSize: u64(view, 24),
    cryptMethod: view.getUint32(32),
    l1Size: view.getUint32(36),
    l1TableOffset: u64(view, 40),
    refcountTableOffset: u64(view, 48),
    refcountTableClusters: view.getUint32(56),
    nbSnapshots: view.getUint32(60),
    snapshotsOffset: u64(view, 64),
    incompatibleFeatures: 0n,
    compatibleFeatures: 0n,
    autoclearFeatures: 0n,
    refcountOrder: 4,
    headerLength: QCOW2_V2_HEADER_LENGTH,
    compressionType: 0,
    extensions: [],
  };
  if (version === 3) {
    if (bytes.length < QCOW2_V3_MIN_HEADER_LENGTH) throw new Qcow2ParseError('too short for a qcow2 v3 header');
    header.incompatibleFeatures = view.getBigUint64(72);
    header.compatibleFeatures = view.getBigUint64(80);
    header.autoclearFeatures = view.getBigUint64(88);
    header.refcountOrder = view.getUint32(96);
    header.headerLength = view.getUint32(100);
    if (header.headerLength < QCOW2_V3_MIN_HEADER_LENGTH) throw new Qcow2ParseError(`header_length ${header.headerLength} is below 104`);
    if (header.headerLength > 104 && bytes.length > 104) header.compressionType = bytes[104] ?? 0;
  }
  parseExtensions(bytes, view, header);
  if (header.backingFileOffset !== 0 && header.backingFileOffset + header.backingFileSize <= bytes.length) {
    header.backingFile = text(bytes, header.backingFileOffset, header.backingFileSize);
  }
  return header;
}

/** Header extensions run from header_length up to the backing file name (or the end of the given bytes). */
function parseExtensions(bytes: Uint8Array, view: DataView, header: Qcow2Header): void {
  const end = header.backingFileOffset > 0 ? Math.min(header.backingFileOffset, bytes.length) : bytes.length;
  let at = header.headerLength;
  while (at + 8 <= end) {
    const type = view.getUint32(at);
    const length = view.getUint32(at + 4);
    if (type === QCOW2_EXT_END) return;
    const dataAt = at + 8;
    if (dataAt + length > end) throw new Qcow2ParseError(`header extension 0x${type.toString(16)} runs past the header area`);
    header.extensions.push({ type, offset: dataAt, length });
    if (type === QCOW2_EXT_BACKING_FORMAT) header.backingFormat = text(bytes, dataAt, length);
    if (type === QCOW2_EXT_DATA_FILE) header.dataFile = text(bytes, dataAt, length);
    at = dataAt + Math.ceil(length / 8) * 8;
  }
}
