// Attacker: a PC on the thin-client network posing as the portal once the thin client has network-booted (it holds the
// address the thin client knows as the portal — a stolen IP or ARP spoofing — and relays the plain-HTTP boot files,
// which PXE cannot protect, from the real daemon). Defence: the thin-client OS carries the data folder's CA (baked in by
// the build); the kiosk settings come over HTTPS verified with it, and the kiosk browser (cog) trusts only that CA, so
// a different self-signed certificate for the portal's address is refused before any HTTP request is sent.
// One boot: the real daemon (HTTPS, netboot DHCP) in one namespace, the impostor in another, the thin client in QEMU (TCG).
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { until } from '../helpers/daemon.js';
import { NetLab, REPO } from '../netboot/lab.js';
import { type LabDaemon, serialConsole, stageThinClientOs, startLabDaemon } from '../thinclient-os/netboot-support.js';

const DAEMON_IP = '10.250.12.1';
/** The portal's address as the thin client knows it; the impostor holds it. */
const PORTAL_IP = '10.250.12.2';
const MAC = '52:54:00:0c:00:01';
const BOOT_TIMEOUT_MS = 600_000;
const IMPOSTOR_JS = join(REPO, 'dist', 'test', 'security', 'thinclient-impostor.js');

let dir: string;
let dataDir: string;
let lab: NetLab;
let daemon: LabDaemon;
let caSha256: string;
let impostor: ChildProcess;
const impostorEvents: Array<Record<string, unknown>> = [];

before(async () => {
  dir = mkdtempSync('/tmp/tci-');
  dataDir = join(dir, 'data');
  caSha256 = await stageThinClientOs(dir, dataDir, ['amd64']);
  lab = await NetLab.create('imp');
  const srv = await lab.addHost('srv', `${DAEMON_IP}/24`);
  const evil = await lab.addHost('evil', `${PORTAL_IP}/24`);
  await lab.addTap('tap0');
  daemon = await startLabDaemon(lab, srv, dir, dataDir, DAEMON_IP,
    ['interfaces:', `  - address: ${DAEMON_IP}`, '    mode: full', '    subnetMask: 255.255.255.0', '    ranges: [{ start: 10.250.12.100, end: 10.250.12.120 }]']);
  // The impostor's own certificate, self-signed, naming the portal's address exactly.
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', `/O=Ardesia/CN=${PORTAL_IP}`,
    '-addext', `subjectAltName=IP:${PORTAL_IP}`, '-keyout', join(dir, 'evil.key'), '-out', join(dir, 'evil.crt')], { stdio: 'ignore' });
  impostor = lab.spawn(evil, process.execPath, [IMPOSTOR_JS, '--address', PORTAL_IP, '--port', '8080', '--upstream', `${DAEMON_IP}:8080`, '--cert', join(dir, 'evil.crt'), '--key', join(dir, 'evil.key')]);
  let buffered = '';
  impostor.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) if (line.trim()) impostorEvents.push(JSON.parse(line) as Record<string, unknown>);
  });
  await until('the impostor to listen', () => impostorEvents.some((e) => e.event === 'ready') || (impostor.exitCode !== null && Promise.reject(new Error('the impostor exited'))), 30_000);
});

after(async () => {
  daemon?.proc.kill('SIGTERM');
  await lab?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const fromThinClient = (e: Record<string, unknown>) => typeof e.from === 'string' && /10\.250\.12\.1\d\d$/.test(e.from);

test('a PC posing as the portal with its own certificate: the booted kiosk refuses it and sends it no request', async () => {
  const os = join(dataDir, 'thinclient', 'current-amd64');
  const serialPath = join(dir, 'tc.serial');
  // Booted straight from the OS's kernel and initramfs (the PXE part is thinclient-network's and netboot-login's), pointed at the portal's address.
  const append = `console=ttyS0,115200 loglevel=3 ardesia.server=http://${PORTAL_IP}:8080 ardesia.mac=${MAC}`;
  const qemu = lab.spawn(lab.hub, 'qemu-system-x86_64', ['-accel', 'tcg,tb-size=128', '-m', '1024', '-smp', '1', '-nodefaults', '-vga', 'virtio', '-display', 'none', '-no-reboot',
    '-kernel', join(os, 'vmlinuz'), '-initrd', join(os, 'initrd.img'), '-append', append,
    '-netdev', 'tap,id=n0,ifname=tap0,script=no,downscript=no', '-device', `virtio-net-pci,netdev=n0,mac=${MAC}`, '-serial', `file:${serialPath}`]);
  const { stage, text } = serialConsole(qemu, serialPath, BOOT_TIMEOUT_MS);
  try {
    // The boot files crossed the impostor in plain HTTP, from the real daemon: PXE-level traffic it can see (and could change).
    await stage(/ARDESIA-TC stage=root fetched bytes=\d+ sha256=ok/, 'the root image through the impostor\'s relay');
    assert.match(daemon.log(), /"event":"boot-file","arch":"amd64","file":"root\.squashfs"/);
    // The settings fetch over HTTPS met the impostor's certificate and refused it (GNU wget, with the CA the OS carries).
    await stage(new RegExp(`ARDESIA-TC stage=tls portal-ca=${caSha256} config=refused server=https://10\\.250\\.12\\.2:8080`), 'the settings fetch refusing the impostor');
    await stage(/ARDESIA-TC stage=config source=defaults /, 'the kiosk falling back to its defaults, not to plain HTTP');
    await stage(/ARDESIA-TC stage=kiosk start=1 browser=cog .*url=https:\/\/10\.250\.12\.2:8080\/\?thinclient=52:54:00:0c:00:01/, 'the kiosk browser on the HTTPS portal address');
    // The browser itself reached the impostor: a TLS handshake beyond wget's single try, refused by the client.
    await until('the kiosk browser\'s TLS handshake with the impostor', () => impostorEvents.filter((e) => e.event === 'tls-hello' && fromThinClient(e)).length >= 2, BOOT_TIMEOUT_MS, 1000)
      .catch((err: Error) => { throw new Error(`${err.message}; impostor saw ${JSON.stringify(impostorEvents.slice(-20))}\n${text().slice(-3000)}`); });
    // Every one of those connections ended: a client that accepted the certificate would send its request and keep the
    // connection for the page. (GNU wget checks the certificate just after the handshake, so a session may complete
    // before it hangs up: what matters is that nothing was sent in it.)
    const count = (event: string) => impostorEvents.filter((e) => e.event === event && fromThinClient(e)).length;
    await until('the thin client to drop every TLS connection to the impostor', () => count('tls-closed') === count('tls-hello') && count('tls-closed') >= 2, 120_000, 500)
      .catch((err: Error) => { throw new Error(`${err.message}; impostor saw ${JSON.stringify(impostorEvents.slice(-20))}`); });
    const seen = JSON.stringify(impostorEvents.filter(fromThinClient));
    // No HTTP request (path, cookie, password) reached the impostor over TLS.
    assert.equal(impostorEvents.filter((e) => e.event === 'tls-request').length, 0, `the impostor received a request over TLS: ${seen}`);
    // Nor did anything after the boot files go out in plain HTTP (no downgrade to http:// for the settings or the portal).
    const plain = impostorEvents.filter((e) => e.event === 'plain' && fromThinClient(e)).map((e) => String(e.line));
    assert.ok(plain.length > 0 && plain.every((line) => /^GET \/boot\/files\/amd64\/(manifest\.json|root\.squashfs) HTTP/.test(line)), `plain HTTP from the thin client: ${JSON.stringify(plain)}`);
    process.stderr.write(`thinclient-impersonation: ${count('tls-hello')} TLS connections to the impostor, ${count('tls-accepted')} handshakes completed, 0 requests; ` +
      `client aborts: ${JSON.stringify(impostorEvents.filter((e) => e.event === 'tls-refused').map((e) => e.error))}\n`);
  } finally {
    qemu.kill('SIGKILL');
  }
});
