// `node dist/src/netboot/serve.js --interface ADDR --root DIR [options]`: DHCP (full or proxy)
// and TFTP on one interface address, for manual use and the tests. Logs JSON lines on stdout.
// The daemon wires the same pieces behind `ardesia netboot serve`.
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { parseDhcpConfig, type DhcpConfigInput } from './dhcp/config.js';
import { MemoryLeaseStore } from './dhcp/leases.js';
import { DhcpServerConflictError, probeForDhcpServer } from './dhcp/probe.js';
import { DhcpServer } from './dhcp/server.js';
import { RouterAdvertiser } from './ra/responder.js';
import { TftpServer } from './tftp/server.js';

const USAGE = `usage: serve.js --interface ADDR --root DIR [--mode full|proxy] [--no-dhcp] [--no-tftp]
  full mode: --range START-END --netmask MASK [--router IP] [--dns IP] [--lease-seconds N] [--reserve MAC=IP]… [--force]
  boot:      [--bios-file undionly.kpxe] [--uefi-file snponly.efi] [--ipxe-http ADDR:PORT] [--ipxe-script boot.ipxe]
  tftp:      [--tftp-port 69] [--max-blksize 1468] [--tftp-workers N (the Node fallback when the native sender is missing: default one per core, 0 = main thread)]
             [--tftp-per-client N (transfers one client address may have at once, default 4)]`;

function log(event: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ t: Date.now(), ...event })}\n`);
}

function configFrom(v: Record<string, string | boolean | string[] | undefined>): DhcpConfigInput {
  const str = (k: string) => v[k] as string | undefined;
  const input: DhcpConfigInput = { mode: (str('mode') ?? 'proxy') as 'full' | 'proxy', serverAddress: str('interface') ?? '', ipxeTftpScript: str('ipxe-script') ?? 'boot.ipxe' };
  input.bootFiles = { bios: str('bios-file') ?? 'undionly.kpxe', uefi: str('uefi-file') ?? 'snponly.efi' };
  const http = str('ipxe-http');
  if (http) input.ipxeHttp = { address: http.split(':')[0] ?? '', port: Number(http.split(':')[1]) };
  const range = str('range');
  if (input.mode === 'full' && range) {
    input.full = {
      subnetMask: str('netmask') ?? '255.255.255.0',
      ranges: [{ start: range.split('-')[0] ?? '', end: range.split('-')[1] ?? '' }],
      dns: (v.dns as string[] | undefined) ?? [],
      reservations: ((v.reserve as string[] | undefined) ?? []).map((r) => ({ mac: r.split('=')[0] ?? '', ip: r.split('=')[1] ?? '' })),
    };
    if (str('router')) input.full.router = str('router');
    if (str('lease-seconds')) input.full.leaseSeconds = Number(str('lease-seconds'));
  }
  return input;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      interface: { type: 'string' }, root: { type: 'string' }, mode: { type: 'string' }, range: { type: 'string' },
      netmask: { type: 'string' }, router: { type: 'string' }, dns: { type: 'string', multiple: true },
      'lease-seconds': { type: 'string' }, reserve: { type: 'string', multiple: true }, force: { type: 'boolean' },
      'bios-file': { type: 'string' }, 'uefi-file': { type: 'string' }, 'ipxe-http': { type: 'string' }, 'ipxe-script': { type: 'string' },
      'tftp-port': { type: 'string' }, 'max-blksize': { type: 'string' }, 'tftp-workers': { type: 'string' }, 'tftp-per-client': { type: 'string' }, 'no-dhcp': { type: 'boolean' }, 'no-tftp': { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  if (values.help || !values.interface || (!values['no-tftp'] && !values.root)) {
    process.stderr.write(`${USAGE}\n`);
    process.exit(values.help ? 0 : 2);
  }
  const closers: Array<() => void> = [];
  if (!values['no-dhcp']) {
    const config = parseDhcpConfig(configFrom(values));
    if (config.mode === 'full' && !values.force) {
      const probe = await probeForDhcpServer(config.serverAddress);
      log({ event: 'dhcp-probe', ...probe });
      if (probe.found) throw new DhcpServerConflictError(probe);
    }
    const dhcp = await DhcpServer.start({ config, leases: new MemoryLeaseStore(), log });
    closers.push(() => dhcp.close());
    const ra = RouterAdvertiser.start(config.mode === 'full' ? [config.serverAddress] : [], log);
    if (ra) closers.push(() => ra.close());
    process.on('SIGUSR1', () => log({ event: 'dhcp-stats', ...dhcp.stats }));
  }
  if (!values['no-tftp']) {
    const tftp = await TftpServer.start({
      root: values.root!, address: values.interface, port: Number(values['tftp-port'] ?? 69), log,
      maxBlksize: values['max-blksize'] ? Number(values['max-blksize']) : undefined,
      workers: values['tftp-workers'] !== undefined ? Number(values['tftp-workers']) : availableParallelism(),
      maxTransfersPerClient: values['tftp-per-client'] !== undefined ? Number(values['tftp-per-client']) : undefined,
    });
    closers.push(() => tftp.close());
    process.on('SIGUSR2', () => log({ event: 'tftp-stats', ...tftp.stats }));
  }
  log({ event: 'ready' });
  const stop = () => { for (const close of closers) close(); process.exit(0); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err: Error) => {
  log({ event: 'fatal', error: err.message, name: err.name });
  process.exit(1);
});
