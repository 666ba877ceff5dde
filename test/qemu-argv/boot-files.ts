// Tiny boot images for the smoke test, laid out by their specifications so QEMU's -kernel loader
// accepts them: a multiboot 1 image (a.out kludge) and a 32-bit ELF with a Xen PVH entry note.
// The guest never runs (QEMU stays paused), but QEMU parses and loads them at start.

const LOAD_ADDRESS = 0x100000; // 1 MiB, where multiboot and PVH kernels conventionally load
const HALT_LOOP = [0xf4, 0xeb, 0xfd]; // hlt; jmp back to hlt

function u32le(out: Uint8Array, offset: number, value: number): void {
  new DataView(out.buffer, out.byteOffset, out.byteLength).setUint32(offset, value >>> 0, true);
}

function u16le(out: Uint8Array, offset: number, value: number): void {
  new DataView(out.buffer, out.byteOffset, out.byteLength).setUint16(offset, value, true);
}

/** Multiboot 1 with flag 16: the header gives load and entry addresses, so no ELF is needed. */
export function multibootImage(): Uint8Array {
  const magic = 0x1badb002;
  const flags = 0x00010000;
  const headerSize = 32;
  const image = new Uint8Array(4096);
  u32le(image, 0, magic);
  u32le(image, 4, flags);
  u32le(image, 8, -(magic + flags));
  u32le(image, 12, LOAD_ADDRESS); // header_addr
  u32le(image, 16, LOAD_ADDRESS); // load_addr
  u32le(image, 20, 0); // load_end_addr: 0 = the whole file
  u32le(image, 24, 0); // bss_end_addr: no bss
  u32le(image, 28, LOAD_ADDRESS + headerSize); // entry_addr
  image.set(HALT_LOOP, headerSize);
  return image;
}

/** ELF32 (EM_386) with one PT_LOAD and a PT_NOTE "Xen" type 18 (XEN_ELFNOTE_PHYS32_ENTRY): QEMU's PVH boot. */
export function pvhElfImage(): Uint8Array {
  const ehdrSize = 52;
  const phdrSize = 32;
  const noteOffset = ehdrSize + 2 * phdrSize;
  const noteSize = 12 + 4 + 4; // namesz, descsz, type; "Xen\0"; entry
  const codeOffset = noteOffset + noteSize;
  const image = new Uint8Array(4096);
  image.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1, 0]); // ELF, 32-bit, little-endian, version 1, System V
  u16le(image, 16, 2); // ET_EXEC
  u16le(image, 18, 3); // EM_386
  u32le(image, 20, 1); // e_version
  u32le(image, 24, LOAD_ADDRESS + codeOffset); // e_entry
  u32le(image, 28, ehdrSize); // e_phoff
  u16le(image, 40, ehdrSize);
  u16le(image, 42, phdrSize);
  u16le(image, 44, 2); // e_phnum
  u16le(image, 46, 40); // e_shentsize (no sections)
  const load = ehdrSize;
  u32le(image, load, 1); // PT_LOAD
  u32le(image, load + 4, 0);
  u32le(image, load + 8, LOAD_ADDRESS);
  u32le(image, load + 12, LOAD_ADDRESS);
  u32le(image, load + 16, image.length);
  u32le(image, load + 20, image.length);
  u32le(image, load + 24, 5); // R+X
  u32le(image, load + 28, 0x1000);
  const note = ehdrSize + phdrSize;
  u32le(image, note, 4); // PT_NOTE
  u32le(image, note + 4, noteOffset);
  u32le(image, note + 8, LOAD_ADDRESS + noteOffset);
  u32le(image, note + 12, LOAD_ADDRESS + noteOffset);
  u32le(image, note + 16, noteSize);
  u32le(image, note + 20, noteSize);
  u32le(image, note + 24, 4);
  u32le(image, note + 28, 4);
  u32le(image, noteOffset, 4); // namesz
  u32le(image, noteOffset + 4, 4); // descsz
  u32le(image, noteOffset + 8, 18); // XEN_ELFNOTE_PHYS32_ENTRY
  image.set([0x58, 0x65, 0x6e, 0x00], noteOffset + 12); // "Xen\0"
  u32le(image, noteOffset + 16, LOAD_ADDRESS + codeOffset);
  image.set(HALT_LOOP, codeOffset);
  return image;
}
