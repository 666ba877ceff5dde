// DHCP configuration: parsed once at the boundary with zod, every problem listed at once.
import { z } from 'zod';
import { ipToInt, isIpv4, normalizeMac, sameSubnet } from '../../contract/ipv4.js';

const ipv4 = z.string().refine(isIpv4, 'must be an IPv4 address like 10.250.0.1');
const mac = z.string().transform((text, ctx) => {
  try { return normalizeMac(text); } catch { ctx.addIssue({ code: 'custom', message: 'must be a MAC address like 52:54:00:12:34:56' }); return z.NEVER; }
});

export const DEFAULT_LEASE_SECONDS = 3600;

const fullModeSchema = z.object({
  subnetMask: ipv4,
  ranges: z.array(z.object({ start: ipv4, end: ipv4 })).min(1),
  router: ipv4.optional(),
  dns: z.array(ipv4).default([]),
  domain: z.string().min(1).max(253).optional(),
  leaseSeconds: z.number().int().min(60).max(7 * 24 * 3600).default(DEFAULT_LEASE_SECONDS),
  reservations: z.array(z.object({ mac, ip: ipv4, hostname: z.string().max(63).optional() })).default([]),
});

export const dhcpConfigSchema = z
  .object({
    mode: z.enum(['full', 'proxy']),
    /** Our address on the thin-client interface: server identifier, and where sockets bind. */
    serverAddress: ipv4,
    /** Where PXE ROMs fetch the first boot file (TFTP "next server"); defaults to serverAddress. */
    tftpServer: ipv4.optional(),
    bootFiles: z.object({ bios: z.string().min(1).max(127), uefi: z.string().min(1).max(127) })
      .default({ bios: 'undionly.kpxe', uefi: 'snponly.efi' }),
    /** iPXE clients get `http://ADDR:PORT/boot/ipxe?mac=MAC`; without it, `tftpScript` over TFTP. */
    ipxeHttp: z.object({ address: ipv4, port: z.number().int().min(1).max(65535) }).optional(),
    ipxeTftpScript: z.string().min(1).max(127).default('boot.ipxe'),
    full: fullModeSchema.optional(),
  })
  .superRefine((cfg, ctx) => {
    if (cfg.mode === 'full' && !cfg.full) ctx.addIssue({ code: 'custom', path: ['full'], message: 'full mode needs ranges and a subnet mask' });
    if (!cfg.full) return;
    const { subnetMask } = cfg.full;
    cfg.full.ranges.forEach((r, i) => {
      if (isIpv4(r.start) && isIpv4(r.end) && ipToInt(r.start) > ipToInt(r.end))
        ctx.addIssue({ code: 'custom', path: ['full', 'ranges', i], message: 'start is after end' });
      for (const end of ['start', 'end'] as const)
        if (isIpv4(r[end]) && isIpv4(subnetMask) && !sameSubnet(r[end], cfg.serverAddress, subnetMask))
          ctx.addIssue({ code: 'custom', path: ['full', 'ranges', i, end], message: 'outside the server address subnet' });
    });
    cfg.full.reservations.forEach((r, i) => {
      if (isIpv4(r.ip) && isIpv4(subnetMask) && !sameSubnet(r.ip, cfg.serverAddress, subnetMask))
        ctx.addIssue({ code: 'custom', path: ['full', 'reservations', i, 'ip'], message: 'outside the server address subnet' });
    });
  });

export type DhcpConfigInput = z.input<typeof dhcpConfigSchema>;
export type DhcpConfig = Readonly<z.output<typeof dhcpConfigSchema>>;
export type FullModeConfig = NonNullable<DhcpConfig['full']>;

export class DhcpConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`DHCP configuration is invalid:\n  ${problems.join('\n  ')}`);
    this.name = 'DhcpConfigError';
  }
}

export function parseDhcpConfig(input: unknown): DhcpConfig {
  const parsed = dhcpConfigSchema.safeParse(input);
  if (!parsed.success) throw new DhcpConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`));
  return Object.freeze(parsed.data);
}
