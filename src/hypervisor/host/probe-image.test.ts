import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  buildProbeImage, MULTIBOOT_MAGIC, multibootChecksumValid, PROBE_LOAD_ADDR, PROBE_STAGES, readMultibootHeader,
} from './probe-image.js';
import { assemble, AsmError, code, label, rel8, zeros } from './tiny-asm.js';

test('the probe image has a multiboot v1 header with a valid checksum in its first 8 KiB', () => {
  const image = buildProbeImage();
  const header = readMultibootHeader(image);
  assert.ok(header, 'multiboot header found');
  assert.equal(header.magic, MULTIBOOT_MAGIC);
  assert.ok(multibootChecksumValid(header));
  assert.equal(header.flags & 0x00010000, 0x00010000, 'address fields valid (flat image, not ELF)');
  assert.equal(header.flags & 0xffff & ~0x3, 0, 'no required features a loader might not offer');
});

test('the multiboot address fields describe the image as it is laid out', () => {
  const image = buildProbeImage();
  const header = readMultibootHeader(image)!;
  assert.equal(header.headerAddr, PROBE_LOAD_ADDR + header.offset);
  assert.equal(header.loadAddr, PROBE_LOAD_ADDR);
  assert.equal(header.loadEndAddr - header.loadAddr, image.length);
  assert.ok(header.bssEndAddr >= header.loadEndAddr + 3 * 4096, 'room for PML4, PDPT and PD in bss');
  assert.ok(header.entryAddr >= header.headerAddr + 32 && header.entryAddr < header.loadEndAddr);
  assert.equal(image[header.entryAddr - PROBE_LOAD_ADDR], 0xfa, 'entry starts with cli');
});

test('a corrupted checksum is detected', () => {
  const image = Buffer.from(buildProbeImage());
  image.writeUInt32LE((image.readUInt32LE(8) + 1) >>> 0, 8);
  assert.equal(multibootChecksumValid(readMultibootHeader(image)!), false);
});

test('the image carries every stage marker, newline-terminated, in order', () => {
  const text = buildProbeImage().toString('latin1');
  let last = -1;
  for (const stage of PROBE_STAGES) {
    const at = text.indexOf(`${stage.marker}\n\0`);
    assert.ok(at > last, `${stage.marker} present after the previous one`);
    last = at;
  }
});

test('readMultibootHeader returns null without the magic', () => {
  assert.equal(readMultibootHeader(Buffer.alloc(64)), null);
});

test('tiny-asm resolves forward and backward rel8 jumps and refuses out-of-range ones', () => {
  const { bytes } = assemble([label('top'), code('jmp end', 0xeb, rel8('end')), code('nop', 0x90), label('end'), code('jmp top', 0xeb, rel8('top'))], 0x1000);
  assert.deepEqual([...bytes], [0xeb, 0x01, 0x90, 0xeb, 0xfb]);
  assert.throws(() => assemble([code('jmp far', 0xeb, rel8('far')), zeros(200), label('far')], 0), AsmError);
  assert.throws(() => assemble([code('jmp nowhere', 0xeb, rel8('nowhere'))], 0), /undefined label/);
});
