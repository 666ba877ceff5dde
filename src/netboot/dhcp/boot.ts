// Which first file a network-booting client gets: pure, from options 60/77/93/175.
import type { DhcpConfig } from './config.js';
import type { DhcpPacket } from './codec.js';

/** RFC 4578 §2.1 processor architecture types Ardesia serves. */
export const ClientArch = { BIOS: 0, EFI_IA32: 6, EFI_BC: 7, EFI_X86_64: 9 } as const;

export type BootTarget =
  | { kind: 'not-pxe' }
  | { kind: 'unsupported-arch'; arch: number }
  | { kind: 'file'; file: string; firmware: 'bios' | 'uefi'; ipxe: boolean };

export function isPxeClient(packet: DhcpPacket): boolean {
  return packet.options.vendorClass?.startsWith('PXEClient') ?? false;
}

export function isIpxeClient(packet: DhcpPacket): boolean {
  return packet.options.ipxe !== undefined || (packet.options.userClass?.includes('iPXE') ?? false);
}

/** Option 93, else the "PXEClient:Arch:NNNNN" vendor class, else BIOS (pre-RFC 4578 ROMs). */
export function clientArchitecture(packet: DhcpPacket): number {
  const fromOption = packet.options.clientArch?.[0];
  if (fromOption !== undefined) return fromOption;
  const m = /^PXEClient:Arch:(\d{5})/.exec(packet.options.vendorClass ?? '');
  return m ? Number(m[1]) : ClientArch.BIOS;
}

/** 7 and 9 both mean x86-64 UEFI in practice: firmware in the field sends either. */
function firmwareOf(arch: number): 'bios' | 'uefi' | undefined {
  if (arch === ClientArch.BIOS) return 'bios';
  if (arch === ClientArch.EFI_BC || arch === ClientArch.EFI_X86_64) return 'uefi';
  return undefined;
}

export function ipxeScriptUrl(config: DhcpConfig, mac: string): string | undefined {
  return config.ipxeHttp ? `http://${config.ipxeHttp.address}:${config.ipxeHttp.port}/boot/ipxe?mac=${mac}` : undefined;
}

export function bootTarget(packet: DhcpPacket, config: DhcpConfig): BootTarget {
  const ipxe = isIpxeClient(packet);
  if (!ipxe && !isPxeClient(packet)) return { kind: 'not-pxe' };
  const arch = clientArchitecture(packet);
  const firmware = firmwareOf(arch);
  if (!firmware) return { kind: 'unsupported-arch', arch };
  if (ipxe) return { kind: 'file', file: ipxeScriptUrl(config, packet.mac) ?? config.ipxeTftpScript, firmware, ipxe };
  return { kind: 'file', file: config.bootFiles[firmware], firmware, ipxe };
}
