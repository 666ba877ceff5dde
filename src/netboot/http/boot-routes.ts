// The public boot chain under /boot/ on the daemon's HTTP listener: per-MAC iPXE scripts (which
// register unknown clients), the thin-client OS files (Range, ETag, HEAD) and the kiosk settings.
import { constants, createReadStream } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ArdesiaError } from '../../contract/errors.js';
import type { BootLog, ThinClientService } from '../../thinclients/inventory.js';
import { bootParamsUnsafeChar, MacText, type KioskConfig } from '../../contract/thinclients.js';
import { bootScript, osMissingMessage, refusalMessage, waitingScript } from './ipxe-script.js';
import { BOOT_FILE_NAME, isThinClientArch, osFolder, readOsManifest, readOsManifests } from './manifest.js';
import { parseRange } from './range.js';

const MacQuery = z.object({ mac: MacText });
const HOST_HEADER = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]{1,253})(:\d{1,5})?$/;

/** `http://ADDR:PORT` as this client reached us: its Host header when sane, else the socket's local address. */
export function serverBase(req: FastifyRequest): string {
  const host = req.headers.host;
  if (host && HOST_HEADER.test(host)) return `http://${host}`;
  const { localAddress, localPort } = req.socket;
  const addr = localAddress?.includes(':') && !localAddress.startsWith('::ffff:') ? `[${localAddress}]` : (localAddress ?? '127.0.0.1').replace(/^::ffff:/, '');
  return `http://${addr}:${localPort}`;
}

function macOf(query: unknown): string {
  const parsed = MacQuery.safeParse(query);
  if (!parsed.success) throw new ArdesiaError('BAD_REQUEST', 'mac= must be a MAC address like 52:54:00:12:34:56');
  return parsed.data.mac;
}

const clientIp = (req: FastifyRequest) => req.ip.replace(/^::ffff:/, '');

async function ipxeScriptFor(thinClients: ThinClientService, log: BootLog, req: FastifyRequest, mac: string): Promise<string> {
  const server = serverBase(req);
  const { client, decision, registered } = await thinClients.bootRequest(mac, clientIp(req));
  // A refused unknown MAC is logged by the inventory (in summary lines): one line per request would let a flood fill the log.
  if (decision === 'busy' || !client) return waitingScript(server, mac, refusalMessage('busy', mac));
  log.info({ event: 'boot-script', mac, ip: clientIp(req), decision, registered, bootCount: client.bootCount }, `thin client ${mac}: boot script (${decision})`);
  if (decision !== 'boot') return waitingScript(server, mac, refusalMessage(decision, mac));
  const manifests = await readOsManifests(thinClients.dataDir);
  if (Object.keys(manifests).length === 0) return waitingScript(server, mac, osMissingMessage(mac));
  const systems = Object.fromEntries(Object.entries(manifests).map(([arch, m]) => [arch, { kernel: m.kernel, initrd: m.initrd, kernelCmdline: m.kernelCmdline }]));
  // Parameters stored before the check existed are left out, and said so, rather than put into the script.
  let bootParams = client.bootParams;
  if (bootParams && bootParamsUnsafeChar(bootParams) !== undefined) {
    log.info({ event: 'boot-params-refused', mac }, `thin client ${mac}: its boot parameters hold a character iPXE reads as script; booting without them (set them again)`);
    bootParams = null;
  }
  return bootScript({ server, mac, systems, bootParams });
}

async function sendBootFile(thinClients: ThinClientService, log: BootLog, req: FastifyRequest, reply: FastifyReply, archText: string, name: string): Promise<FastifyReply> {
  if (!isThinClientArch(archText)) throw new ArdesiaError('BOOT_FILE_NOT_FOUND', `${archText} is not a thin-client architecture; files are under /boot/files/amd64/ and /boot/files/i386/`);
  const arch = archText;
  const manifest = await readOsManifest(thinClients.dataDir, arch);
  if (!manifest) throw new ArdesiaError('THINCLIENT_OS_MISSING', `no ${arch} thin-client OS is built on this server`);
  const folder = osFolder(thinClients.dataDir, arch);
  if (name === 'manifest.json') {
    // The initramfs checks what it fetched against the manifest's sha256 sums: it is served as it is on disk.
    log.info({ event: 'boot-file', arch, file: name, from: clientIp(req), method: req.method }, `boot file ${arch}/manifest.json`);
    return reply.type('application/json').header('cache-control', 'no-cache').send(await readFile(join(folder, name)));
  }
  const listed = BOOT_FILE_NAME.test(name) ? manifest.files[name] : undefined;
  if (!listed) throw new ArdesiaError('BOOT_FILE_NOT_FOUND', `${name} is not a file of the thin-client OS`);
  // O_NOFOLLOW on the file itself; only regular files (a FIFO or device would hang or leak).
  const handle = await open(join(folder, name), constants.O_RDONLY | constants.O_NOFOLLOW).catch(() => undefined);
  if (!handle) throw new ArdesiaError('BOOT_FILE_NOT_FOUND', `${name} is listed in the manifest but missing on disk`);
  let streaming = false;
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new ArdesiaError('BOOT_FILE_NOT_FOUND', `${name} is not a regular file`);
    const size = stat.size;
    const etag = `"${listed.sha256}"`;
    reply.header('accept-ranges', 'bytes').header('content-type', 'application/octet-stream').header('cache-control', 'no-cache');
    if (size === listed.size) reply.header('etag', etag).header('x-checksum-sha256', listed.sha256);
    if (size === listed.size && req.headers['if-none-match'] === etag) return reply.status(304).send();
    const range = parseRange(req.headers.range, size);
    if (range.kind === 'unsatisfiable') {
      reply.header('content-range', `bytes */${size}`);
      throw new ArdesiaError('BOOT_RANGE_INVALID', `range ${req.headers.range} is outside ${name} (${size} bytes)`);
    }
    const [start, end] = range.kind === 'partial' ? [range.start, range.end] : [0, size - 1];
    reply.status(range.kind === 'partial' ? 206 : 200).header('content-length', String(end - start + 1));
    if (range.kind === 'partial') reply.header('content-range', `bytes ${start}-${end}/${size}`);
    log.info({ event: 'boot-file', arch, file: name, from: clientIp(req), start, end, size, method: req.method }, `boot file ${arch}/${name} (${end - start + 1} bytes)`);
    if (req.method === 'HEAD' || size === 0) return reply.send();
    streaming = true;
    return reply.send(createReadStream('', { fd: handle, start, end, autoClose: true }));
  } finally {
    if (!streaming) await handle.close();
  }
}

/** `portalHttps`: the daemon's port speaks HTTPS, so the kiosk's portal is https:// on it (boot files stay plain HTTP). */
export function registerBootRoutes(server: FastifyInstance, thinClients: ThinClientService, log: BootLog = thinClients.log, portalHttps = false): void {
  server.get('/boot/ipxe', async (req, reply) => {
    const script = await ipxeScriptFor(thinClients, log, req, macOf(req.query));
    return reply.type('text/plain; charset=utf-8').send(script);
  });
  // The same script at a path of its own, for DHCP servers that cannot put a query string in the boot file name.
  server.get('/boot/:file', async (req, reply) => {
    const m = /^(.+)\.ipxe$/.exec((req.params as { file: string }).file);
    if (!m) throw new ArdesiaError('BOOT_FILE_NOT_FOUND', 'no such boot path; iPXE scripts are at /boot/ipxe?mac=MAC');
    const script = await ipxeScriptFor(thinClients, log, req, macOf({ mac: m[1] }));
    return reply.type('text/plain; charset=utf-8').send(script);
  });
  server.route({
    method: ['GET', 'HEAD'],
    url: '/boot/files/:arch/:file',
    handler: async (req, reply) => {
      const { arch, file } = req.params as { arch: string; file: string };
      return sendBootFile(thinClients, log, req, reply, arch, file);
    },
  });
  server.get('/boot/thinclient/config', async (req): Promise<KioskConfig> => {
    const mac = macOf(req.query);
    const client = await thinClients.seen(mac, clientIp(req));
    // Only what the kiosk uses (guest/thinclient/init): anyone on the network can ask for any MAC.
    return { portalUrl: `${portalHttps ? serverBase(req).replace(/^http:/, 'https:') : serverBase(req)}/?thinclient=${mac}`, keyboardLayout: client.keyboardLayout, resolution: client.resolution };
  });
}
