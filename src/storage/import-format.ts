// Pure decision of the format an import opens a file as: what the bytes are, what the name or
// --format claims, and a refusal that says what was found when the two disagree or nothing fits.
import { detectImageFormat, type ImageFormat } from './foreign-headers.js';

export const SECTOR_BYTES = 512;
const ISO9660_MAGIC_OFFSET = 0x8001; // "CD001" of the first volume descriptor (sector 16, byte 1)

/** What the first bytes of a file are, as far as an import cares. */
export type ContentKind =
  | { kind: 'image'; format: Exclude<ImageFormat, 'raw'> }
  | { kind: 'iso' }
  | { kind: 'archive'; what: string }
  | { kind: 'other-image'; what: string }
  | { kind: 'raw'; looks: string };

const startsWith = (bytes: Uint8Array, magic: number[], at = 0): boolean => bytes.length >= at + magic.length && magic.every((b, i) => bytes[at + i] === b);
const ascii = (s: string): number[] => [...s].map((c) => c.charCodeAt(0));

const ARCHIVES: [string, number[], number?][] = [
  ['a gzip archive', [0x1f, 0x8b]],
  ['an xz archive', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ['a zstd archive', [0x28, 0xb5, 0x2f, 0xfd]],
  ['a bzip2 archive', ascii('BZh')],
  ['a zip archive (an OVA/OVF export is a tar: unpack it and import the disk inside)', [0x50, 0x4b, 0x03, 0x04]],
  ['a tar archive (an OVA is one: unpack it and import the disk inside)', ascii('ustar'), 257],
];
const OTHER_IMAGES: [string, number[]][] = [
  ['a VHD (vpc) image, which import does not accept: convert it with qemu-img convert -O qcow2', ascii('conectix')],
  ['a QED image, which import does not accept: convert it with qemu-img convert -O qcow2', ascii('QED\0')],
];

/** What a head with no image header looks like, for the refusal's words. */
function rawLooks(head: Uint8Array): string {
  if (head.length === 0) return 'nothing (the file is empty)';
  if (head.every((b) => b === 0)) return 'zeros (a blank raw disk?)';
  if (startsWith(head, ascii('EFI PART'), SECTOR_BYTES)) return 'a raw disk with a GPT partition table';
  if (head.length >= SECTOR_BYTES && head[510] === 0x55 && head[511] === 0xaa) return 'a raw disk with a boot sector (MBR)';
  const sample = head.subarray(0, Math.min(head.length, 512));
  const printable = sample.filter((b) => b === 9 || b === 10 || b === 13 || (b >= 32 && b < 127)).length;
  if (printable === sample.length) return 'text';
  return 'raw data';
}

/** Reads the first bytes (64 KiB covers the ISO 9660 magic at 32769) into a content kind. */
export function detectContent(head: Uint8Array): ContentKind {
  const format = detectImageFormat(head);
  if (format !== 'raw') return { kind: 'image', format };
  if (startsWith(head, ascii('CD001'), ISO9660_MAGIC_OFFSET)) return { kind: 'iso' };
  for (const [what, magic, at] of ARCHIVES) if (startsWith(head, magic, at)) return { kind: 'archive', what };
  for (const [what, magic] of OTHER_IMAGES) if (startsWith(head, magic)) return { kind: 'other-image', what };
  return { kind: 'raw', looks: rawLooks(head) };
}

/** The format a file name claims by its extension; `.img` and `.raw` claim nothing (both are used for anything). */
export function formatClaimedByName(fileName: string): Exclude<ImageFormat, 'raw'> | 'iso' | undefined {
  const ext = /\.([A-Za-z0-9]+)$/.exec(fileName)?.[1]?.toLowerCase();
  const byExt: Record<string, Exclude<ImageFormat, 'raw'> | 'iso'> = { qcow2: 'qcow2', qcow: 'qcow2', vmdk: 'vmdk', vdi: 'vdi', vhdx: 'vhdx', iso: 'iso' };
  return ext === undefined ? undefined : byExt[ext];
}

export type ImportFormatDecision = { ok: true; format: ImageFormat } | { ok: false; reason: string };

function describe(content: ContentKind): string {
  switch (content.kind) {
    case 'image':
      return `it is a ${content.format} image`;
    case 'iso':
      return 'it is an ISO 9660 installer image';
    case 'archive':
    case 'other-image':
      return `it is ${content.what}`;
    case 'raw':
      return `its first bytes look like ${content.looks}`;
  }
}

function whatToDo(content: ContentKind): string {
  switch (content.kind) {
    case 'image':
      return ` — import it with --format ${content.format}`;
    case 'iso':
      return ' — to install from an ISO use --iso (with --size); if it is a bootable disk image, import with --format raw';
    case 'archive':
      return ' — unpack it first and import the disk inside';
    case 'other-image':
      return '';
    case 'raw':
      return content.looks === 'text' ? '' : ' — if it is a raw disk, import with --format raw';
  }
}

/**
 * The format to open `fileName` as. `--format` wins over the name; a claim must match the bytes;
 * raw is never guessed (garbage looks like raw) and must be a non-empty whole number of sectors.
 */
export function importFormatDecide(input: { fileName: string; fileSize: number; head: Uint8Array; claimedFormat?: ImageFormat }): ImportFormatDecision {
  const { fileName, fileSize, head, claimedFormat } = input;
  const refuse = (reason: string): ImportFormatDecision => ({ ok: false, reason });
  if (fileSize === 0) return refuse(`${fileName} is empty`);
  const content = detectContent(head);
  const claim = claimedFormat ?? formatClaimedByName(fileName);
  const by = claimedFormat ? '' : ' (by its name)';
  if (claim === 'raw') {
    if (content.kind === 'image') return refuse(`${fileName} is not raw: it has a ${content.format} header${whatToDo(content)}`);
    if (content.kind === 'archive' || content.kind === 'other-image') return refuse(`${fileName} is not a raw disk: ${describe(content)}${whatToDo(content)}`);
    if (fileSize % SECTOR_BYTES !== 0) return refuse(`${fileName} is not a raw disk: its size, ${fileSize} bytes, is not a whole number of ${SECTOR_BYTES}-byte sectors`);
    return { ok: true, format: 'raw' };
  }
  if (claim === 'iso') {
    return refuse(`${fileName} is named as an ISO image; ${content.kind === 'iso' ? 'to install from it use --iso (with --size); to import it as a bootable disk use --format raw' : `${describe(content)}${whatToDo(content)}`}`);
  }
  if (claim !== undefined) {
    if (content.kind === 'image' && content.format === claim) return { ok: true, format: claim };
    return refuse(`${fileName} is not ${claim}${by}: no ${claim} header; ${describe(content)}${whatToDo(content)}`);
  }
  if (content.kind === 'image') return { ok: true, format: content.format };
  return refuse(`${fileName} has no qcow2, vmdk, vdi or vhdx header; ${describe(content)}${whatToDo(content)}`);
}
