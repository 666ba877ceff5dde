// The netboot section of the daemon's configuration (a YAML or JSON file given with
// `ardesia serve --netboot FILE` or `ardesia netboot serve --config FILE`): checked once with zod,
// every problem listed at once, then turned into one DHCP configuration per interface.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ArdesiaError } from '../contract/errors.js';
import { isIpv4 } from '../contract/ipv4.js';
import { DhcpConfigError, parseDhcpConfig, type DhcpConfig, type DhcpConfigInput } from './dhcp/config.js';

const ipv4 = z.string().refine(isIpv4, 'must be an IPv4 address like 10.250.0.1');
const port = z.number().int().min(1).max(65535);

const interfaceSchema = z.object({
  /** Our address on the thin-client network: where DHCP, TFTP (and by default HTTP boot) are reached. */
  address: ipv4,
  mode: z.enum(['full', 'proxy']),
  /** Full mode: start even if another DHCP server answers on the link. */
  force: z.boolean().default(false),
  subnetMask: ipv4.optional(),
  ranges: z.array(z.object({ start: ipv4, end: ipv4 })).optional(),
  router: ipv4.optional(),
  dns: z.array(ipv4).optional(),
  domain: z.string().optional(),
  leaseSeconds: z.number().int().optional(),
  reservations: z.array(z.object({ mac: z.string(), ip: ipv4, hostname: z.string().optional() })).optional(),
  /** Where iPXE fetches its script: defaults to `address` and the daemon's --listen port. */
  http: z.object({ address: ipv4.optional(), port: port.optional() }).strict().default({}),
  tftp: z.object({
    enabled: z.boolean().default(true), port: port.default(69), workers: z.number().int().min(0).max(16).default(0),
    /** Transfers one client address may have at once (a PC fetches one file at a time; a NAT'd lab may need more). */
    perClient: z.number().int().min(1).max(256).default(4),
  }).strict().default({}),
}).strict();

export const netbootConfigSchema = z.object({
  interfaces: z.array(interfaceSchema).min(1),
  thinClients: z.object({ requireApproval: z.boolean().default(false) }).strict().default({}),
  /** The files PXE ROMs get first; defaults to Debian's ipxe package. */
  ipxeDir: z.string().min(1).default('/usr/lib/ipxe'),
}).strict();

export type NetbootConfig = z.output<typeof netbootConfigSchema>;
export type NetbootInterface = NetbootConfig['interfaces'][number];

function invalid(where: string, problems: string[]): ArdesiaError {
  return new ArdesiaError('NETBOOT_CONFIG_INVALID', `netboot configuration ${where} is invalid:\n  ${problems.join('\n  ')}`, { problems });
}

export function parseNetbootConfig(input: unknown, where = '(inline)'): NetbootConfig {
  const parsed = netbootConfigSchema.safeParse(input);
  if (!parsed.success) throw invalid(where, parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`));
  const problems: string[] = [];
  parsed.data.interfaces.forEach((iface, i) => {
    try {
      dhcpConfigFor(iface, 8080);
    } catch (err) {
      if (!(err instanceof DhcpConfigError)) throw err;
      problems.push(...err.problems.map((p) => `interfaces.${i}: ${p}`));
    }
  });
  const addresses = parsed.data.interfaces.map((i) => i.address);
  addresses.forEach((a, i) => { if (addresses.indexOf(a) !== i) problems.push(`interfaces.${i}.address: ${a} is listed twice`); });
  if (problems.length > 0) throw invalid(where, problems);
  return parsed.data;
}

/** Reads a .yaml/.yml/.json file. */
export function loadNetbootConfig(path: string): NetbootConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ArdesiaError('NETBOOT_CONFIG_INVALID', `cannot read the netboot configuration ${path}: ${(err as Error).message}`);
  }
  let data: unknown;
  try {
    data = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw invalid(path, [(err as Error).message]);
  }
  return parseNetbootConfig(data, path);
}

/** The DHCP server configuration of one interface; `httpPort` is the daemon's HTTP port when the file names none. */
export function dhcpConfigFor(iface: NetbootInterface, httpPort: number | undefined): DhcpConfig {
  const port = iface.http.port ?? httpPort;
  const input: DhcpConfigInput = { mode: iface.mode, serverAddress: iface.address };
  if (port !== undefined) input.ipxeHttp = { address: iface.http.address ?? iface.address, port };
  if (iface.mode === 'full') {
    input.full = {
      subnetMask: iface.subnetMask ?? '255.255.255.0',
      ranges: iface.ranges ?? [],
      ...(iface.router ? { router: iface.router } : {}),
      ...(iface.dns ? { dns: iface.dns } : {}),
      ...(iface.domain ? { domain: iface.domain } : {}),
      ...(iface.leaseSeconds ? { leaseSeconds: iface.leaseSeconds } : {}),
      ...(iface.reservations ? { reservations: iface.reservations } : {}),
    };
  }
  return parseDhcpConfig(input);
}

/** Where `netboot serve` listens for HTTP boot without --listen: every address, on the first interface's HTTP port
 *  (else 8080). An HTTP boot server named on another host (`http.address`, the controller) is not this one: its
 *  port says nothing about this server's, so 8080 then. */
export function standaloneListenDefault(config: NetbootConfig): string {
  const first = config.interfaces[0]!;
  const servedHere = first.http.address === undefined || config.interfaces.some((i) => i.address === first.http.address);
  return `0.0.0.0:${(servedHere ? first.http.port : undefined) ?? 8080}`;
}
