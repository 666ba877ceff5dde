// Runs inside a test namespace: Ardesia's DhcpServer (full mode) and a small HTTP server standing in
// for the daemon's boot routes (/boot/files/*, /boot/thinclient/config) and the portal page (a solid
// colour the test looks for on screen). One JSON line per event on stdout.
//   node lab-server.js --address A --port P --files DIR [--dhcp-range S-E] [--colour RRGGBB]
import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseDhcpConfig } from '../../src/netboot/dhcp/config.js';
import { MemoryLeaseStore } from '../../src/netboot/dhcp/leases.js';
import { DhcpServer } from '../../src/netboot/dhcp/server.js';

const BOOT_FILES = new Set(['vmlinuz', 'initrd.img', 'root.squashfs', 'manifest.json']);

function log(event: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ t: Date.now(), ...event })}\n`);
}

const { values } = parseArgs({ options: { address: { type: 'string' }, port: { type: 'string' }, files: { type: 'string' }, 'dhcp-range': { type: 'string' }, colour: { type: 'string' } } });
const address = values.address!;
const port = Number(values.port);
const colour = values.colour ?? '2bc07a';

const page = `<!doctype html><html><head><title>Ardesia test portal</title>
<style>html,body{margin:0;height:100%;background:#${colour};}</style></head><body></body></html>`;

const http = createServer((req, res) => {
  const url = new URL(req.url ?? '/', `http://${address}`);
  log({ event: 'http', path: url.pathname, query: url.search, from: req.socket.remoteAddress });
  // /boot/files/<arch>/<name>, as the daemon serves them; this server has one OS, whatever its arch.
  const name = /^\/boot\/files\/(amd64|i386)\/([^/]+)$/.exec(url.pathname)?.[2] ?? '';
  if (BOOT_FILES.has(name)) {
    const path = join(values.files!, name);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': statSync(path).size });
    createReadStream(path).pipe(res).on('finish', () => log({ event: 'http-sent', file: name }));
  } else if (url.pathname === '/boot/thinclient/config') {
    const mac = url.searchParams.get('mac') ?? '';
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ portalUrl: `http://${address}:${port}/?thinclient=${mac}`, keyboardLayout: 'de', resolution: '1024x768' }));
  } else if (url.pathname === '/') {
    log({ event: 'portal', thinclient: url.searchParams.get('thinclient') });
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(page);
  } else {
    res.writeHead(404).end();
  }
});
http.listen(port, address, () => log({ event: 'http-listening', port }));

if (values['dhcp-range']) {
  const [start, end] = values['dhcp-range'].split('-');
  const config = parseDhcpConfig({ mode: 'full', serverAddress: address, full: { subnetMask: '255.255.255.0', ranges: [{ start, end }], router: address } });
  await DhcpServer.start({ config, leases: new MemoryLeaseStore(), log });
}
log({ event: 'ready' });
