// Pure recognisers for the image formats Ardesia imports: which format the magic bytes say,
// and the header fields of vmdk (sparse + embedded descriptor) and vdi needed to judge them.

export type ImageFormat = 'qcow2' | 'raw' | 'vmdk' | 'vdi' | 'vhdx';
export const IMAGE_FORMATS: readonly ImageFormat[] = ['qcow2', 'raw', 'vmdk', 'vdi', 'vhdx'];

const ascii = (bytes: Uint8Array, start: number, length: number): string => Buffer.from(bytes.subarray(start, start + length)).toString('latin1');
const view = (bytes: Uint8Array): DataView => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

export const VDI_SIGNATURE = 0xbeda107f;
export const VDI_TYPE_DYNAMIC = 1;
export const VDI_TYPE_STATIC = 2;

/** A vmdk that is only a text descriptor (its data lives in other files). */
export function isVmdkDescriptor(bytes: Uint8Array): boolean {
  const head = ascii(bytes, 0, Math.min(bytes.length, 4096));
  return /^#\s*Disk DescriptorFile/m.test(head) || (/^\s*version\s*=\s*[123]\s*$/m.test(head) && /^\s*createType\s*=/m.test(head));
}

/** The format the magic bytes name; anything unrecognised is raw (and is then only ever opened as raw). */
export function detectImageFormat(bytes: Uint8Array): ImageFormat {
  if (bytes.length >= 4 && ascii(bytes, 0, 4) === 'QFI\xfb') return 'qcow2';
  if (bytes.length >= 4 && ascii(bytes, 0, 4) === 'KDMV') return 'vmdk';
  if (bytes.length >= 8 && ascii(bytes, 0, 8) === 'vhdxfile') return 'vhdx';
  if (bytes.length >= 0x44 && ascii(bytes, 0, 4) === '<<< ' && ascii(bytes, 0, 64).includes('>>>') && view(bytes).getUint32(0x40, true) === VDI_SIGNATURE) return 'vdi';
  if (isVmdkDescriptor(bytes)) return 'vmdk';
  return 'raw';
}

export interface VmdkSparseHeader {
  version: number;
  capacitySectors: number;
  grainSectors: number;
  descriptorOffsetSectors: number;
  descriptorSizeSectors: number;
}

/** The little-endian "KDMV" header of a monolithicSparse / streamOptimized vmdk. */
export function parseVmdkSparseHeader(bytes: Uint8Array): VmdkSparseHeader {
  if (bytes.length < 64 || ascii(bytes, 0, 4) !== 'KDMV') throw new Error('no vmdk sparse header (KDMV)');
  const v = view(bytes);
  const u64 = (at: number): number => {
    const n = v.getBigUint64(at, true);
    return n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.POSITIVE_INFINITY : Number(n);
  };
  return { version: v.getUint32(4, true), capacitySectors: u64(12), grainSectors: u64(20), descriptorOffsetSectors: u64(28), descriptorSizeSectors: u64(36) };
}

/**
 * Reasons a vmdk descriptor lets QEMU open files other than the image itself: a createType whose
 * data lives elsewhere, extent lines naming other files, or a parent disk. Empty = safe.
 * `embedded` = the descriptor inside a sparse file, whose single SPARSE extent line is the file itself.
 */
/**
 * What makes a vmdk descriptor reach beyond its own file. An embedded (single-file) descriptor's one
 * SPARSE extent must name the file itself: `selfName`, a bare name (no folder, no protocol).
 */
export function vmdkDescriptorProblems(descriptor: string, embedded: boolean, selfName?: string): string[] {
  const problems: string[] = [];
  const lines = descriptor.split(/\r?\n/).map((l) => l.replace(/\0.*$/s, '').trim()).filter((l) => l && !l.startsWith('#'));
  const createType = lines.map((l) => /^createType\s*=\s*"?([^"]*)"?$/i.exec(l)?.[1]).find((t) => t !== undefined);
  if (!embedded) problems.push(`a vmdk descriptor file (createType ${createType ?? 'unknown'}) keeps its data in other files`);
  if (embedded && createType && !/^(monolithicSparse|streamOptimized)$/i.test(createType)) problems.push(`createType ${createType} keeps data in other files`);
  const extents = lines.filter((l) => /^(RW|RDONLY|NOACCESS)\s/i.test(l));
  for (const extent of extents) {
    const named = /^(RW|RDONLY)\s+\d+\s+SPARSE\s+"([^"]*)"\s*$/i.exec(extent)?.[2];
    if (!embedded || named === undefined) problems.push(`extent line points at another file: ${extent}`);
    else if (/[/\\:]/.test(named) || named === '..' || (selfName !== undefined && named !== selfName))
      problems.push(`its sparse extent names "${named}", not the file itself${selfName ? ` (${selfName}); if the file was renamed, give it back that name` : ''}`);
  }
  if (embedded && extents.length > 1) problems.push(`${extents.length} extent lines; a single-file vmdk has one`);
  for (const line of lines) {
    if (/parentFileNameHint/i.test(line)) problems.push(`names a parent disk: ${line}`);
    const parentCid = /^parentCID\s*=\s*(\S+)/i.exec(line)?.[1];
    if (parentCid && parentCid.toLowerCase() !== 'ffffffff') problems.push(`has a parent disk (parentCID=${parentCid})`);
  }
  return problems;
}

export interface VdiHeader {
  version: number;
  imageType: number;
  offsetBlocks: number;
  offsetData: number;
  sectorSize: number;
  diskSize: number;
  blockSize: number;
  blocksInImage: number;
}

/** The VirtualBox VDI header (little-endian, signature 0xbeda107f at 0x40). */
export function parseVdiHeader(bytes: Uint8Array): VdiHeader {
  if (bytes.length < 0x1c8 || view(bytes).getUint32(0x40, true) !== VDI_SIGNATURE) throw new Error('no VDI header (signature 0xbeda107f at 0x40)');
  const v = view(bytes);
  const size = v.getBigUint64(0x170, true);
  return {
    version: v.getUint32(0x44, true),
    imageType: v.getUint32(0x4c, true),
    offsetBlocks: v.getUint32(0x154, true),
    offsetData: v.getUint32(0x158, true),
    sectorSize: v.getUint32(0x168, true),
    diskSize: size > BigInt(Number.MAX_SAFE_INTEGER) ? Number.POSITIVE_INFINITY : Number(size),
    blockSize: v.getUint32(0x178, true),
    blocksInImage: v.getUint32(0x180, true),
  };
}
