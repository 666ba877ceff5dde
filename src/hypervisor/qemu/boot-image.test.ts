// classifyBootImage on header bytes copied from real files (Debian 12 packages) and on
// multiboot headers laid out as the multiboot 1 specification places them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BOOT_IMAGE_HEAD_BYTES, type BootImageKind, classifyBootImage } from './boot-image.js';

function head(patches: Array<[number, number[]]>, fill = 0x00, size = BOOT_IMAGE_HEAD_BYTES): Uint8Array {
  const bytes = new Uint8Array(BOOT_IMAGE_HEAD_BYTES).fill(fill);
  for (const [offset, data] of patches) bytes.set(data, offset);
  return bytes.subarray(0, size);
}

function u32(value: number): number[] {
  return [value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff];
}

function multibootHeader(flags: number, checksumDelta = 0): number[] {
  const magic = 0x1badb002;
  return [...u32(magic), ...u32(flags), ...u32((-(magic + flags) + checksumDelta) >>> 0)];
}

// linux-image-6.1.0-56-cloud-amd64 vmlinuz: PE "MZ" stub, setup_sects 0x27, 0x55aa, jmp, "HdrS", protocol 2.15.
const DEBIAN_61_BZIMAGE: Array<[number, number[]]> = [
  [0x000, [0x4d, 0x5a]],
  [0x1f0, [0xff, 0x27, 0x01, 0x00, 0x20, 0x82, 0x0d, 0x00, 0x00, 0x00, 0xff, 0xff, 0x00, 0x00, 0x55, 0xaa]],
  [0x200, [0xeb, 0x6a, 0x48, 0x64, 0x72, 0x53, 0x0f, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0xc0, 0x42]],
];
// syslinux-common memdisk: an old (protocol 2.03) Linux-format image without a PE stub.
const MEMDISK: Array<[number, number[]]> = [
  [0x1f0, [0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x55, 0xaa]],
  [0x200, [0xeb, 0x3e, 0x48, 0x64, 0x72, 0x53, 0x03, 0x02]],
];
// syslinux mboot.c32: a 32-bit little-endian ELF.
const ELF32 = [0x7f, 0x45, 0x4c, 0x46, 0x01, 0x01, 0x01, 0x00];
// ovmf OVMF_CODE_4M.fd: 16 zero bytes, the firmware file system GUID, length, then "_FVH" at 0x28.
const OVMF_CODE: Array<[number, number[]]> = [
  [0x10, [0x78, 0xe5, 0x8c, 0x8c, 0x3d, 0x8a, 0x1c, 0x4f, 0x99, 0x35, 0x89, 0x61, 0x85, 0xc3, 0x2d, 0xd3]],
  [0x20, [0x00, 0x80, 0x34, 0x00, 0x00, 0x00, 0x00, 0x00, 0x5f, 0x46, 0x56, 0x48, 0xff, 0xfe, 0x04, 0x00]],
];
// qemu's qboot.rom starts with code: nothing in its head says "firmware".
const QBOOT = [0x55, 0x89, 0xe5, 0x57, 0x56, 0x53, 0x83, 0xe4, 0xf0, 0x83, 0xec, 0x10, 0xe8, 0x83, 0x0e, 0x00];

const CASES: Array<{ name: string; bytes: Uint8Array; kind: BootImageKind }> = [
  { name: 'Debian 6.1 bzImage with EFI stub', bytes: head(DEBIAN_61_BZIMAGE), kind: 'bzimage' },
  { name: 'memdisk (Linux boot protocol 2.03)', bytes: head(MEMDISK), kind: 'bzimage' },
  { name: 'bzImage header read in just 0x206 bytes', bytes: head(DEBIAN_61_BZIMAGE, 0, 0x206), kind: 'bzimage' },
  { name: '32-bit ELF', bytes: head([[0, ELF32]], 0x11), kind: 'elf' },
  { name: 'multiboot a.out kludge at offset 0', bytes: head([[0, multibootHeader(0x00010003)]], 0x90), kind: 'multiboot' },
  { name: 'multiboot ELF: header inside the first 8 KiB wins over ELF', bytes: head([[0, ELF32], [0x1000, multibootHeader(0x3)]], 0x11), kind: 'multiboot' },
  { name: 'multiboot header in the last 12 bytes of 8 KiB', bytes: head([[BOOT_IMAGE_HEAD_BYTES - 12, multibootHeader(0)]], 0x90), kind: 'multiboot' },
  { name: 'multiboot magic not 4-aligned is ignored', bytes: head([[0x102, multibootHeader(0)]], 0x90), kind: 'unknown' },
  { name: 'multiboot magic with a wrong checksum is ignored', bytes: head([[0x100, multibootHeader(0, 1)]], 0x90), kind: 'unknown' },
  { name: 'SeaBIOS bios-256k.bin (starts with >2 KiB of zeros)', bytes: head([[0x800, [0x12, 0x34]]]), kind: 'bios' },
  { name: 'a flash image padded with 0xff', bytes: head([], 0xff), kind: 'bios' },
  { name: 'OVMF code (UEFI firmware volume)', bytes: head(OVMF_CODE, 0x00, 0x30), kind: 'bios' },
  { name: 'qboot (code from byte 0)', bytes: head([[0, QBOOT]], 0x66), kind: 'unknown' },
  { name: 'a text file', bytes: new TextEncoder().encode('#!/bin/sh\necho not a kernel\n'), kind: 'unknown' },
  { name: 'an empty file', bytes: new Uint8Array(0), kind: 'unknown' },
  { name: 'a short run of zeros', bytes: new Uint8Array(100), kind: 'unknown' },
];

describe('classifyBootImage', () => {
  for (const c of CASES) {
    it(`${c.name} → ${c.kind}`, () => assert.equal(classifyBootImage(c.bytes), c.kind));
  }
});
