// What a file given as "kernel" really is, from its first bytes, in the order QEMU's -kernel
// loader tries (hw/i386/x86.c): Linux boot protocol, then multiboot, then ELF. Anything QEMU
// cannot load with -kernel but that looks like firmware is a BIOS image for -bios.

/** How many leading bytes classifyBootImage needs: the multiboot header may sit anywhere in them. */
export const BOOT_IMAGE_HEAD_BYTES = 8192;

export type BootImageKind = 'bzimage' | 'elf' | 'multiboot' | 'bios' | 'unknown';

const LINUX_HEADER_MAGIC_OFFSET = 0x202;
const LINUX_HEADER_MAGIC = 0x53726448; // "HdrS" little-endian
const MULTIBOOT_MAGIC = 0x1badb002;
const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46];
const UEFI_VOLUME_SIGNATURE_OFFSET = 0x28; // EFI_FIRMWARE_VOLUME_HEADER.Signature
const UEFI_VOLUME_SIGNATURE = [0x5f, 0x46, 0x56, 0x48]; // "_FVH"
/** SeaBIOS starts with >= 2 KiB of zeros and flash images with 0xff fill: x86 firmware runs from its top end. */
const FIRMWARE_FILL_BYTES = 1024;

function u32le(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset]! | (bytes[offset + 1]! << 8) | (bytes[offset + 2]! << 16) | (bytes[offset + 3]! << 24)) >>> 0);
}

function hasBytes(bytes: Uint8Array, offset: number, expected: number[]): boolean {
  if (bytes.length < offset + expected.length) return false;
  return expected.every((b, i) => bytes[offset + i] === b);
}

function isLinuxBzImage(head: Uint8Array): boolean {
  return head.length >= LINUX_HEADER_MAGIC_OFFSET + 4 && u32le(head, LINUX_HEADER_MAGIC_OFFSET) === LINUX_HEADER_MAGIC;
}

/** The multiboot 1 header: magic, flags, checksum (the three sum to 0), 4-byte aligned in the first 8 KiB. */
function hasMultibootHeader(head: Uint8Array): boolean {
  const end = Math.min(head.length, BOOT_IMAGE_HEAD_BYTES) - 12;
  for (let offset = 0; offset <= end; offset += 4) {
    if (u32le(head, offset) !== MULTIBOOT_MAGIC) continue;
    const sum = (MULTIBOOT_MAGIC + u32le(head, offset + 4) + u32le(head, offset + 8)) >>> 0;
    if (sum === 0) return true;
  }
  return false;
}

function looksLikeFirmware(head: Uint8Array): boolean {
  if (hasBytes(head, UEFI_VOLUME_SIGNATURE_OFFSET, UEFI_VOLUME_SIGNATURE)) return true;
  if (head.length < FIRMWARE_FILL_BYTES) return false;
  const fill = head[0];
  if (fill !== 0x00 && fill !== 0xff) return false;
  for (let i = 1; i < FIRMWARE_FILL_BYTES; i++) if (head[i] !== fill) return false;
  return true;
}

/**
 * Classifies a boot file from its first BOOT_IMAGE_HEAD_BYTES bytes. 'bios' is a heuristic
 * (UEFI firmware volume, or SeaBIOS/flash-style leading fill): a caller may also check the size.
 */
export function classifyBootImage(head: Uint8Array): BootImageKind {
  if (isLinuxBzImage(head)) return 'bzimage';
  if (hasMultibootHeader(head)) return 'multiboot';
  if (hasBytes(head, 0, ELF_MAGIC)) return 'elf';
  if (looksLikeFirmware(head)) return 'bios';
  return 'unknown';
}
