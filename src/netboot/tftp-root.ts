// The TFTP root of one interface: iPXE for PXE ROMs (from Debian's ipxe package) and a boot
// script that chains to the per-MAC script over HTTP, for DHCP servers that send boot.ipxe.
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DhcpConfig } from './dhcp/config.js';

export interface TftpRootResult {
  root: string;
  copied: string[];
  missing: string[];
}

/** The chain script (pure). */
export function chainScript(http: { address: string; port: number }): string {
  return `#!ipxe\nchain http://${http.address}:${http.port}/boot/ipxe?mac=\${mac} || shell\n`;
}

export function prepareTftpRoot(dataDir: string, config: DhcpConfig, ipxeDir: string): TftpRootResult {
  const root = join(dataDir, 'netboot', 'tftp', config.serverAddress);
  mkdirSync(root, { recursive: true, mode: 0o755 });
  const copied: string[] = [];
  const missing: string[] = [];
  for (const file of new Set([config.bootFiles.bios, config.bootFiles.uefi])) {
    const from = join(ipxeDir, file);
    if (existsSync(from)) {
      copyFileSync(from, join(root, file));
      copied.push(file);
    } else missing.push(from);
  }
  if (config.ipxeHttp) writeFileSync(join(root, config.ipxeTftpScript), chainScript(config.ipxeHttp));
  return { root, copied, missing };
}
