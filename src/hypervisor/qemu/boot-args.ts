// How a VM boots: the machine type, the firmware (SeaBIOS, a custom BIOS image or OVMF in
// pflash), a direct kernel, and the boot order of disks, CD-ROM and NICs (bootindex).
import { posix } from 'node:path';
import { ArdesiaError } from '../../contract/errors.js';
import type { VmSpec } from '../../contract/vm.js';
import type { HandedFiles } from './handed-files.js';
import { renderOption } from './qemu-options.js';
import type { MachineType } from './storage-args.js';

export interface FirmwarePaths {
  ovmfCode: string;
  ovmfVarsTemplate: string;
  ovmfCode32?: string;
  ovmfVars32Template?: string;
  /** Unset: QEMU's own default BIOS (SeaBIOS bios-256k.bin on Debian). */
  seabios?: string;
}

/** Debian 12 packages ovmf and ovmf-ia32. The 4M code image pairs only with the 4M vars template. */
export const DEBIAN_FIRMWARE: FirmwarePaths = Object.freeze({
  ovmfCode: '/usr/share/OVMF/OVMF_CODE_4M.fd',
  ovmfVarsTemplate: '/usr/share/OVMF/OVMF_VARS_4M.fd',
  ovmfCode32: '/usr/share/OVMF/OVMF32_CODE_4M.secboot.fd',
  ovmfVars32Template: '/usr/share/OVMF/OVMF32_VARS_4M.fd',
});

/** What a file in boot.kernel turned out to be (classifyBootImage): loaded by -kernel, or firmware for -bios. */
export type BootKind = 'kernel' | 'bios-image';

export interface LaunchFile {
  path: string;
  copyFrom?: string;
  contents?: Uint8Array;
  onlyIfMissing?: boolean;
}

/** Per-VM UEFI variable store (boot entries survive restarts), copied once from the template. */
export const EFI_VARS_FILE = 'efivars.fd';
/** fw_cfg file telling SeaBIOS (and iPXE under it) to print to COM1 at 0x3f8 despite -display none. */
export const SERCON_PORT_FILE = 'sercon-port';
const SERCON_PORT_COM1 = new Uint8Array([0xf8, 0x03]);

export interface BootPlan {
  machine: MachineType;
  args: string[];
  files: LaunchFile[];
  /** False for a direct kernel boot: the kernel is the boot device, bootindex is pointless. */
  usesBootOrder: boolean;
}

function invalid(spec: VmSpec, message: string): ArdesiaError {
  return new ArdesiaError('VM_SPEC_INVALID', `vm ${spec.name}: ${message}`);
}

function uefiPlan(spec: VmSpec, runtimeDir: string, firmware: FirmwarePaths, handed: HandedFiles): BootPlan {
  const is32 = spec.arch === 'i386';
  const code = is32 ? firmware.ovmfCode32 : firmware.ovmfCode;
  const varsTemplate = is32 ? firmware.ovmfVars32Template : firmware.ovmfVarsTemplate;
  if (!code || !varsTemplate) {
    throw new ArdesiaError('FIRMWARE_UNAVAILABLE', `vm ${spec.name}: no ${is32 ? '32-bit' : '64-bit'} UEFI firmware is configured`);
  }
  const vars = posix.join(runtimeDir, EFI_VARS_FILE);
  const pflash = (node: string, path: string, readonly: boolean) =>
    renderOption(undefined, { 'node-name': node, driver: 'raw', 'read-only': readonly, 'file.driver': 'file', 'file.filename': handed.fdset(path, !readonly) });
  // The only 32-bit OVMF Debian ships is the secure-boot build, which requires SMM and secure pflash.
  const machine = renderOption('q35', { smm: is32 ? true : undefined, pflash0: 'ovmf-code', pflash1: 'ovmf-vars' });
  const args = ['-machine', machine];
  if (is32) args.push('-global', 'driver=cfi.pflash01,property=secure,value=on');
  args.push('-blockdev', pflash('ovmf-code', code, true), '-blockdev', pflash('ovmf-vars', vars, false));
  return { machine: 'q35', args, files: [{ path: vars, copyFrom: varsTemplate, onlyIfMissing: true }], usesBootOrder: true };
}

function legacyBiosPlan(runtimeDir: string, biosFile: string | undefined, handed: HandedFiles): BootPlan {
  const sercon = posix.join(runtimeDir, SERCON_PORT_FILE);
  const args = ['-machine', 'pc'];
  if (biosFile !== undefined) args.push('-bios', handed.procFd(biosFile)); // a plain file name: no option escaping
  args.push('-fw_cfg', renderOption(undefined, { name: 'etc/sercon-port', file: sercon }));
  return { machine: 'pc', args, files: [{ path: sercon, contents: SERCON_PORT_COM1 }], usesBootOrder: true };
}

function kernelArgs(spec: VmSpec, handed: HandedFiles): string[] {
  const { kernel, initrd, cmdline } = spec.boot;
  if (kernel === undefined) return [];
  // -kernel/-initrd/-append are taken verbatim (not key=value options): no escaping.
  const args = ['-kernel', handed.procFd(kernel)];
  if (initrd !== undefined) args.push('-initrd', handed.procFd(initrd));
  if (cmdline !== undefined) args.push('-append', cmdline);
  return args;
}

/**
 * Machine and firmware: UEFI → q35 (OVMF's reference machine; 32-bit secure-boot OVMF needs its
 * SMM); everything else → pc (i440fx), whose PIIX IDE and ISA devices suit the old guests that
 * legacy BIOS boots are for.
 */
export function bootPlan(spec: VmSpec, runtimeDir: string, firmware: FirmwarePaths, handed: HandedFiles, bootKind: BootKind = 'kernel'): BootPlan {
  const { kernel, initrd, cmdline, bios } = spec.boot;
  if (kernel === undefined && (initrd !== undefined || cmdline !== undefined)) {
    throw invalid(spec, 'an initrd or a kernel command line needs a kernel');
  }
  const kernelIsBios = kernel !== undefined && bootKind === 'bios-image';
  if (kernelIsBios && (initrd !== undefined || cmdline !== undefined)) {
    throw invalid(spec, `${kernel} is a BIOS image, not a kernel: it takes no initrd or command line`);
  }
  if (kernelIsBios && bios !== undefined) throw invalid(spec, 'give either a BIOS image as the kernel or a bios, not both');
  const customBios = kernelIsBios ? kernel : bios;
  if (customBios !== undefined && spec.boot.firmware === 'uefi') {
    throw invalid(spec, 'a custom BIOS image replaces the firmware: drop "firmware uefi" or the BIOS image');
  }
  const plan =
    spec.boot.firmware === 'uefi' ? uefiPlan(spec, runtimeDir, firmware, handed) : legacyBiosPlan(runtimeDir, customBios ?? firmware.seabios, handed);
  if (kernel === undefined || kernelIsBios) return plan;
  return { ...plan, args: [...plan.args, ...kernelArgs(spec, handed)], usesBootOrder: false };
}

export interface BootIndexes {
  disks: Array<number | undefined>;
  cdrom?: number;
  nics: Array<number | undefined>;
}

type BootTarget = 'disk' | 'cdrom' | 'net';
const DEFAULT_BOOT_ORDER: BootTarget[] = ['disk', 'cdrom'];

/** bootindex per device: boot.device first, then disks, then the CD-ROM; NICs only when asked for. */
export function bootIndexes(spec: VmSpec, usesBootOrder: boolean): BootIndexes {
  const result: BootIndexes = { disks: spec.disks.map(() => undefined), nics: spec.nics.map(() => undefined) };
  if (!usesBootOrder) return result;
  const preferred = spec.boot.device;
  const order = preferred ? [preferred, ...DEFAULT_BOOT_ORDER.filter((t) => t !== preferred)] : DEFAULT_BOOT_ORDER;
  let next = 1;
  for (const target of order) {
    if (target === 'disk') result.disks = result.disks.map(() => next++);
    if (target === 'cdrom' && spec.cdrom !== undefined) result.cdrom = next++;
    if (target === 'net') result.nics = result.nics.map(() => next++);
  }
  return result;
}
