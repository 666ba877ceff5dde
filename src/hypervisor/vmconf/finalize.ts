// VmDraft → VmSpec: resolves paths against the file, decides kernel vs BIOS and disk formats,
// checks that the boot choice can work, then validates with the VmSpec schema (errors keep the line).
import { dirname, isAbsolute, resolve } from 'node:path';
import { VmSpec, type VmSpecInput } from '../../contract/vm.js';
import type { Located } from './ast.js';
import { vmconfParseError, vmconfUnsupported, type SourcePos } from './errors.js';
import type { VmDraft } from './draft.js';
import type { VmConfHost } from './types.js';

const QCOW_MAGIC = [0x51, 0x46, 0x49, 0xfb]; // "QFI\xfb"
const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46];
const LINUX_SETUP_MAGIC = [0x48, 0x64, 0x72, 0x53]; // "HdrS" at 0x202 in a bzImage
const MULTIBOOT_MAGIC = [0x02, 0xb0, 0xad, 0x1b]; // 0x1BADB002 little-endian, in the first 8 KiB
const ENUMS = {
  arch: ['amd64', 'i386'],
  accel: ['auto', 'kvm', 'tcg'],
  firmware: ['bios', 'uefi'],
  bootDevice: ['cdrom', 'disk', 'net'],
  format: ['qcow2', 'raw'],
  bus: ['virtio', 'ide', 'ahci', 'scsi'],
} as const;

function bytesAt(buf: Uint8Array, offset: number, magic: number[]): boolean {
  return magic.every((b, i) => buf[offset + i] === b);
}

/** A path from the file, made absolute against the directory of the file that wrote it. */
export function resolveFromFile(path: string, pos: SourcePos): string {
  return isAbsolute(path) ? path : resolve(dirname(pos.file), path);
}

/** vmd reads the image to pick the format; without the file, fall back on its name, then raw (vmd's default). */
export function guessDiskFormat(absPath: string, host: VmConfHost): 'qcow2' | 'raw' {
  const head = host.probeFile?.(absPath);
  if (head !== undefined) return bytesAt(head, 0, QCOW_MAGIC) ? 'qcow2' : 'raw';
  return /\.qcow2?$/i.test(absPath) ? 'qcow2' : 'raw';
}

/** `boot PATH` is a kernel (ELF, bzImage, multiboot header) or else a BIOS image; unreadable: judged by its name. */
export function classifyBootImage(absPath: string, host: VmConfHost): 'kernel' | 'bios' {
  const head = host.probeFile?.(absPath);
  if (head !== undefined) {
    if (bytesAt(head, 0, ELF_MAGIC) || bytesAt(head, 0x202, LINUX_SETUP_MAGIC)) return 'kernel';
    for (let i = 0; i + 4 <= Math.min(head.length, 8192); i += 4) if (bytesAt(head, i, MULTIBOOT_MAGIC)) return 'kernel';
    if (head.length > 0) return 'bios';
  }
  const base = absPath.split('/').pop() ?? '';
  return /bios|ovmf|\.fd$|\.rom$/i.test(base) ? 'bios' : 'kernel';
}

function checkEnum<K extends keyof typeof ENUMS>(kind: K, label: string, value: Located<string> | undefined): void {
  if (value && !(ENUMS[kind] as readonly string[]).includes(value.value)) {
    throw vmconfParseError(value.pos, `${label} "${value.value}" is not one of ${ENUMS[kind].join(', ')}`);
  }
}

function checkBoot(d: VmDraft, kernel: boolean): void {
  const name = d.name.value;
  if (!kernel) {
    for (const [opt, label] of [[d.initrd, 'initrd'], [d.cmdline, 'cmdline']] as const) {
      if (opt) throw vmconfParseError(opt.pos, `${label} needs a kernel: add boot "path/to/kernel" to vm "${name}"`);
    }
  }
  const dev = d.bootDevice;
  if (!dev) return;
  if (kernel) {
    throw vmconfUnsupported(dev.pos, `boot device ${dev.value}`, 'it cannot be combined with a kernel in boot: vmd\'s simulated network boot of a kernel does not exist in Ardesia; drop one of the two');
  }
  if (dev.value === 'cdrom' && !d.cdrom) throw vmconfParseError(dev.pos, `boot device cdrom but vm "${name}" has no cdrom "path.iso"`);
  if (dev.value === 'disk' && d.disks.length === 0) throw vmconfParseError(dev.pos, `boot device disk but vm "${name}" has no disk`);
  if (dev.value === 'net' && d.nics.length === 0 && !d.interfacesCount?.value) {
    throw vmconfParseError(dev.pos, `boot device net but vm "${name}" has no interface`);
  }
}

function buildInput(d: VmDraft, host: VmConfHost): { input: VmSpecInput; fieldPos: Map<string, SourcePos> } {
  for (const [kind, label, value] of [['arch', 'arch', d.arch], ['accel', 'accel', d.accel], ['firmware', 'firmware', d.firmware], ['bootDevice', 'boot device', d.bootDevice]] as const) {
    checkEnum(kind, label, value);
  }
  const fieldPos = new Map<string, SourcePos>([['name', d.name.pos]]);
  const bootAbs = d.bootPath ? resolveFromFile(d.bootPath.value, d.bootPath.pos) : undefined;
  const bootKind = bootAbs ? classifyBootImage(bootAbs, host) : undefined;
  checkBoot(d, bootKind === 'kernel');
  const disks = d.disks.map((disk, i) => {
    checkEnum('format', 'format', disk.format ? { value: disk.format, pos: disk.pos } : undefined);
    checkEnum('bus', 'bus', disk.bus ? { value: disk.bus, pos: disk.pos } : undefined);
    fieldPos.set(`disks.${i}`, disk.pos);
    const path = resolveFromFile(disk.path, disk.pos);
    return { path, format: (disk.format ?? guessDiskFormat(path, host)) as 'qcow2' | 'raw', bus: disk.bus as 'virtio' | undefined };
  });
  const nics = d.nics.map((n, i) => {
    fieldPos.set(`nics.${i}`, n.pos);
    return n.nic;
  });
  // `interfaces N` is a minimum: pad with default (user-mode NAT) interfaces, as vmd adds default taps.
  while (d.interfacesCount && nics.length < d.interfacesCount.value) {
    fieldPos.set(`nics.${nics.length}`, d.interfacesCount.pos);
    nics.push({ mode: 'user' });
  }
  const boot: NonNullable<VmSpecInput['boot']> = {};
  if (d.firmware) boot.firmware = d.firmware.value as 'bios';
  if (d.bootDevice) boot.device = d.bootDevice.value as 'disk';
  if (bootAbs && bootKind === 'kernel') boot.kernel = bootAbs;
  if (bootAbs && bootKind === 'bios') boot.bios = bootAbs;
  if (d.initrd) boot.initrd = resolveFromFile(d.initrd.value, d.initrd.pos);
  if (d.cmdline) boot.cmdline = d.cmdline.value;
  const input: VmSpecInput = { name: d.name.value, disks, nics, boot, enabled: d.enabled };
  const set = <K extends keyof VmSpecInput>(key: K, value: Located<VmSpecInput[K]> | undefined): void => {
    if (!value) return;
    input[key] = value.value;
    fieldPos.set(key, value.pos);
  };
  set('memoryMiB', d.memoryMiB);
  set('vcpus', d.vcpus);
  set('arch', d.arch as Located<VmSpecInput['arch']> | undefined);
  set('accel', d.accel as Located<VmSpecInput['accel']> | undefined);
  set('owner', d.owner);
  set('restartOnHostLoss', d.restartOnHostLoss);
  if (d.cdrom) set('cdrom', { value: resolveFromFile(d.cdrom.value, d.cdrom.pos), pos: d.cdrom.pos });
  for (const [key, opt] of [['boot', d.bootPath ?? d.bootDevice ?? d.firmware ?? d.initrd]] as const) if (opt) fieldPos.set(key, opt.pos);
  return { input, fieldPos };
}

/** Draft → validated VmSpec; a schema failure is reported at the line of the option that caused it. */
export function finalizeDraft(d: VmDraft, host: VmConfHost): VmSpec {
  const { input, fieldPos } = buildInput(d, host);
  const parsed = VmSpec.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const path = issue.path.map(String);
  const at = fieldPos.get(path.slice(0, 2).join('.')) ?? fieldPos.get(path[0] ?? '') ?? d.pos;
  throw vmconfParseError(at, `vm "${d.name.value}": ${path.join('.') || 'spec'}: ${issue.message}`);
}
