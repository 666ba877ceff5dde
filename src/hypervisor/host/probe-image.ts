// The KVM probe guest as bytes: the same program as probe/probe.S, hand-encoded so that hosts
// without an assembler can build it. test/host/probe-asm.test.ts checks it against `as`/`ld`.
import { addr, align, asciz, assemble, code, label, rel32, rel8, u16, u32, zeros, type Item } from './tiny-asm.js';

export const PROBE_LOAD_ADDR = 0x100000;
const PML4 = 0x101000;
const PDPT = 0x102000;
const PD = 0x103000;
const STACK_TOP = 0x105000;
const BSS_END = 0x105000;
export const MULTIBOOT_MAGIC = 0x1badb002;
const MULTIBOOT_FLAGS = 0x00010000; // bit 16: the address fields are valid
const EFER = 0xc0000080;
/** isa-debug-exit turns the guest's `out 0xf4, 0x10` into QEMU exit status (0x10 << 1) | 1. */
export const PROBE_DEBUG_EXIT_PORT = 0xf4;
export const PROBE_EXIT_STATUS = (0x10 << 1) | 1;

/** The markers the guest prints on COM1, in the order it reaches them. */
export const PROBE_STAGES = [
  { marker: 'ARDESIA-KVM-PROBE-PM', reached: '32-bit protected mode' },
  { marker: 'ARDESIA-KVM-PROBE-LM', reached: '64-bit long mode with paging' },
  { marker: 'ARDESIA-KVM-PROBE-BP', reached: 'a breakpoint exception through its IDT' },
  { marker: 'ARDESIA-KVM-PROBE-IRQ', reached: 'a timer interrupt' },
  { marker: 'ARDESIA-KVM-PROBE-OK', reached: 'the end of the probe' },
] as const;
export const PROBE_OK_MARKER = 'ARDESIA-KVM-PROBE-OK';

const imm8 = (value: number) => value & 0xff;
/** `mov dword ptr [abs32], imm32` in 32-bit mode. */
const storeAbs = (asm: string, at: number, value: number): Item => code(asm, 0xc7, 0x05, u32(at), u32(value));
/** `mov al, imm8; out imm8, al`. */
const outImm = (port: number, value: number): Item[] => [
  code(`mov al, ${value}`, 0xb0, imm8(value)),
  code(`out ${port}, al`, 0xe6, imm8(port)),
];
const callPuts = (message: string): Item[] => [
  code(`mov esi, offset ${message}`, 0xbe, u32(addr(message))),
  code('call puts', 0xe8, rel32('puts')),
];

const multibootHeader: Item[] = [
  label('mb_header'),
  code('.long MB_MAGIC', u32(MULTIBOOT_MAGIC)),
  code('.long MB_FLAGS', u32(MULTIBOOT_FLAGS)),
  code('.long -(MB_MAGIC + MB_FLAGS)', u32(-(MULTIBOOT_MAGIC + MULTIBOOT_FLAGS))),
  code('.long mb_header', u32(addr('mb_header'))),
  code('.long LOAD_ADDR', u32(PROBE_LOAD_ADDR)),
  code('.long load_end', u32(addr('load_end'))),
  code('.long BSS_END', u32(BSS_END)),
  code('.long entry32', u32(addr('entry32'))),
];

const enterLongMode: Item[] = [
  label('entry32'),
  code('cli', 0xfa),
  code('mov esp, STACK_TOP', 0xbc, u32(STACK_TOP)),
  ...callPuts('msg_pm'),
  storeAbs('mov dword ptr [PML4], PDPT + 3', PML4, PDPT + 3),
  storeAbs('mov dword ptr [PDPT], PD + 3', PDPT, PD + 3),
  storeAbs('mov dword ptr [PD], 0x83', PD, 0x83),
  storeAbs('mov dword ptr [APIC_SVR], 0x1FF', 0xfee000f0, 0x1ff),
  storeAbs('mov dword ptr [APIC_LINT0], 0x700', 0xfee00350, 0x700),
  code('mov eax, PML4', 0xb8, u32(PML4)),
  code('mov cr3, eax', 0x0f, 0x22, 0xd8),
  code('mov eax, cr4', 0x0f, 0x20, 0xe0),
  code('or eax, 0x20', 0x83, 0xc8, 0x20),
  code('mov cr4, eax', 0x0f, 0x22, 0xe0),
  code('mov ecx, EFER', 0xb9, u32(EFER)),
  code('rdmsr', 0x0f, 0x32),
  code('or eax, 0x100', 0x0d, u32(0x100)),
  code('wrmsr', 0x0f, 0x30),
  code('lgdt [gdt_desc]', 0x0f, 0x01, 0x15, u32(addr('gdt_desc'))),
  code('lidt [idt_desc]', 0x0f, 0x01, 0x1d, u32(addr('idt_desc'))),
  code('mov eax, cr0', 0x0f, 0x20, 0xc0),
  code('or eax, 0x80000001', 0x0d, u32(0x80000001)),
  code('mov cr0, eax', 0x0f, 0x22, 0xc0),
  code('ljmp 0x08, offset entry64', 0xea, u32(addr('entry64')), u16(0x08)),
];

const inLongMode: Item[] = [
  label('entry64'),
  code('mov ax, 0x10', 0x66, 0xb8, u16(0x10)),
  code('mov ds, ax', 0x8e, 0xd8),
  code('mov es, ax', 0x8e, 0xc0),
  code('mov ss, ax', 0x8e, 0xd0),
  code('mov esp, STACK_TOP', 0xbc, u32(STACK_TOP)),
  code('mov ecx, EFER', 0xb9, u32(EFER)),
  code('rdmsr', 0x0f, 0x32),
  code('test eax, 0x400', 0xa9, u32(0x400)),
  code('jz stop', 0x74, rel8('stop')),
  ...callPuts('msg_lm'),
  code('int3', 0xcc),
  ...outImm(0x20, 0x11),
  ...outImm(0x21, 0x20),
  ...outImm(0x21, 0x04),
  ...outImm(0x21, 0x01),
  ...outImm(0x21, 0xfe),
  ...outImm(0x43, 0x34),
  ...outImm(0x40, 0x9c),
  ...outImm(0x40, 0x2e),
  code('sti', 0xfb),
  code('hlt', 0xf4),
  code('cli', 0xfa),
  ...callPuts('msg_ok'),
  ...outImm(PROBE_DEBUG_EXIT_PORT, 0x10),
  label('stop'),
  code('hlt', 0xf4),
  code('jmp stop', 0xeb, rel8('stop')),
];

const routines: Item[] = [
  label('puts'),
  code('mov dx, COM1_LSR', 0x66, 0xba, u16(0x3fd)),
  label('puts_wait'),
  code('in al, dx', 0xec),
  code('test al, LSR_THRE', 0xa8, 0x20),
  code('jz puts_wait', 0x74, rel8('puts_wait')),
  code('lodsb', 0xac),
  code('test al, al', 0x84, 0xc0),
  code('jz puts_done', 0x74, rel8('puts_done')),
  code('mov dx, COM1', 0x66, 0xba, u16(0x3f8)),
  code('out dx, al', 0xee),
  code('jmp puts', 0xeb, rel8('puts')),
  label('puts_done'),
  code('ret', 0xc3),
  label('bp_handler'),
  code('push rax; push rdx; push rsi', 0x50, 0x52, 0x56),
  ...callPuts('msg_bp'),
  code('pop rsi; pop rdx; pop rax', 0x5e, 0x5a, 0x58),
  code('iretq', 0x48, 0xcf),
  label('irq_handler'),
  code('push rax; push rdx; push rsi', 0x50, 0x52, 0x56),
  ...callPuts('msg_irq'),
  ...outImm(0x20, 0x20),
  code('pop rsi; pop rdx; pop rax', 0x5e, 0x5a, 0x58),
  code('iretq', 0x48, 0xcf),
];

/** A 64-bit interrupt gate; the image is below 64 KiB past 0x100000, as in probe.S. */
const gate = (handler: string): Item =>
  code(`gate ${handler}`, u16((resolve) => resolve(handler) - PROBE_LOAD_ADDR), u16(0x08), 0x00, 0x8e,
    u16(PROBE_LOAD_ADDR >>> 16), u32(0), u32(0));

const data: Item[] = [
  align(8),
  label('gdt'),
  code('.quad 0', u32(0), u32(0)),
  code('.quad 0x00AF9A000000FFFF', u32(0x0000ffff), u32(0x00af9a00)),
  code('.quad 0x00CF92000000FFFF', u32(0x0000ffff), u32(0x00cf9200)),
  label('gdt_desc'),
  code('.word gdt_desc - gdt - 1', u16((resolve) => resolve('gdt_desc') - resolve('gdt') - 1)),
  code('.long gdt', u32(addr('gdt'))),
  label('idt_desc'),
  code('.word idt_end - idt - 1', u16((resolve) => resolve('idt_end') - resolve('idt') - 1)),
  code('.long idt', u32(addr('idt'))),
  label('msg_pm'), asciz('ARDESIA-KVM-PROBE-PM\n'),
  label('msg_lm'), asciz('ARDESIA-KVM-PROBE-LM\n'),
  label('msg_bp'), asciz('ARDESIA-KVM-PROBE-BP\n'),
  label('msg_irq'), asciz('ARDESIA-KVM-PROBE-IRQ\n'),
  label('msg_ok'), asciz('ARDESIA-KVM-PROBE-OK\n'),
  align(8),
  label('idt'),
  zeros(3 * 16),
  gate('bp_handler'),
  zeros(28 * 16),
  gate('irq_handler'),
  label('idt_end'),
  label('load_end'),
];

export const PROBE_PROGRAM: readonly Item[] = [...multibootHeader, ...enterLongMode, ...inLongMode, ...routines, ...data];

/** The probe as a flat multiboot image, to be passed to QEMU with -kernel. */
export function buildProbeImage(): Buffer {
  return assemble([...PROBE_PROGRAM], PROBE_LOAD_ADDR).bytes;
}

export interface MultibootHeader {
  offset: number;
  magic: number;
  flags: number;
  checksum: number;
  headerAddr: number;
  loadAddr: number;
  loadEndAddr: number;
  bssEndAddr: number;
  entryAddr: number;
}

/** Finds the multiboot v1 header as a loader does: 4-byte aligned, in the first 8 KiB. */
export function readMultibootHeader(image: Uint8Array): MultibootHeader | null {
  const view = Buffer.from(image.buffer, image.byteOffset, image.byteLength);
  for (let offset = 0; offset + 32 <= Math.min(view.length, 8192); offset += 4) {
    if (view.readUInt32LE(offset) !== MULTIBOOT_MAGIC) continue;
    const word = (index: number) => view.readUInt32LE(offset + 4 * index);
    return {
      offset, magic: word(0), flags: word(1), checksum: word(2), headerAddr: word(3),
      loadAddr: word(4), loadEndAddr: word(5), bssEndAddr: word(6), entryAddr: word(7),
    };
  }
  return null;
}

/** True when magic + flags + checksum is 0 modulo 2^32, as the multiboot spec requires. */
export function multibootChecksumValid(header: MultibootHeader): boolean {
  return ((header.magic + header.flags + header.checksum) >>> 0) === 0;
}
