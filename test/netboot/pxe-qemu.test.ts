// A real PXE boot: QEMU (TCG, no disk, iPXE ROM of ipxe-qemu) on the test bridge gets DHCP from
// Ardesia — in full mode, and in proxy mode beside dnsmasq — then fetches an iPXE script from
// Ardesia's TFTP server and runs it; the script's marker on the serial console proves each stage.
// In full mode Ardesia answers the ROM's router solicitation (the script prints the advertiser's MAC
// that iPXE stored from it), which ends iPXE's IPv6 autoconfiguration at once instead of after ~13 s.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { killAndWait, NetLab, type ServerHandle } from './lab.js';
import type { ThinClientView } from '../../src/contract/thinclients.js';
import { CLI, TestDaemon, until } from '../helpers/daemon.js';

const MARKER = 'ARDESIA-NETBOOT-SCRIPT-OK';
const BOOT_TIMEOUT_MS = 90_000;
const SERVER_MAC = '52:54:00:03:00:fe';
let dir: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'nbq-'));
  writeFileSync(join(dir, 'boot.ipxe'), `#!ipxe\necho ra=\${net0.ndp/6.2.1:hex}\necho ${MARKER} mac=\${mac} ip=\${ip} next=\${next-server}\nshell\n`);
  writeFileSync(join(dir, 'sercon'), Buffer.from([0xf8, 0x03]));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Boots QEMU in the hub namespace until `marker` shows on serial; returns the serial text. */
async function pxeBoot(lab: NetLab, mac: string, marker = MARKER): Promise<string> {
  await lab.addTap('tap0');
  const serial = join(dir, `serial-${mac.replace(/:/g, '')}.txt`);
  const qemu = spawn('ip', ['netns', 'exec', lab.hub, 'qemu-system-x86_64', '-accel', 'tcg', '-m', '64', '-nodefaults', '-display', 'none', '-no-reboot',
    '-boot', 'n', '-netdev', 'tap,id=n0,ifname=tap0,script=no,downscript=no', '-device', `virtio-net-pci,netdev=n0,mac=${mac}`,
    '-fw_cfg', `name=etc/sercon-port,file=${join(dir, 'sercon')}`,
    '-serial', `file:${serial}`], { stdio: 'ignore' });
  try {
    const started = Date.now();
    while (Date.now() - started < BOOT_TIMEOUT_MS) {
      await new Promise((r) => setTimeout(r, 500));
      let text = '';
      try { text = readFileSync(serial, 'latin1'); } catch { /* not yet created */ }
      // The whole marker line: the file is read while QEMU still writes it, so the marker can come first alone.
      const at = text.indexOf(marker);
      if (at >= 0 && text.indexOf('\n', at) > 0) return text.replace(/\x1b\[[0-9;]*m/g, '').replace(/\r/g, '');
      if (qemu.exitCode !== null) throw new Error(`QEMU exited ${qemu.exitCode}: ${text}`);
    }
    throw new Error(`no ${marker} on serial within ${BOOT_TIMEOUT_MS} ms: ${readFileSync(serial, 'latin1')}`);
  } finally {
    await killAndWait(qemu); // the next boot takes tap0 again
  }
}

function assertStages(server: ServerHandle, mac: string, offer: RegExp): void {
  assert.ok(server.events.some((e) => e.event === 'dhcp-reply' && offer.test(String(e.reason)) && String(e.reason).includes(mac)), JSON.stringify(server.events));
  assert.ok(server.events.some((e) => e.event === 'tftp-done' && e.file === 'boot.ipxe' && e.ok === true), JSON.stringify(server.events));
}

test('PXE boot in full mode: address, boot file and script all from Ardesia', async () => {
  const lab = await NetLab.create('q');
  try {
    const srv = await lab.addHost('srv', '10.250.3.1/24', SERVER_MAC);
    const server = await lab.startServer(srv, ['--interface', '10.250.3.1', '--root', dir, '--mode', 'full', '--range', '10.250.3.100-10.250.3.120', '--tftp-workers', '0']);
    await server.waitFor((e) => e.event === 'ready');
    const mac = '52:54:00:03:00:01';
    const serial = await pxeBoot(lab, mac);
    assert.match(serial, /iPXE/);
    // iPXE kept the source link-layer option of the advertisement it got: Ardesia's, from the server's link.
    assert.match(serial, new RegExp(`${MARKER} mac=${mac} ip=10\\.250\\.3\\.1[0-2]\\d next=10\\.250\\.3\\.1`));
    assert.match(serial, new RegExp(`\nra=${SERVER_MAC}\n${MARKER}`));
    assertStages(server, mac, /^ACK 10\.250\.3\./);
    // The solicitor was the ROM itself (its EUI-64 link-local address), answered before the script ran.
    assert.ok(server.events.some((e) => e.event === 'ra-answered' && e.solicitor === 'fe80::5054:ff:fe03:1'), JSON.stringify(server.events));
  } finally {
    await lab.destroy();
  }
});

test('PXE boot in proxy mode: address from dnsmasq, boot information and script from Ardesia', async () => {
  const lab = await NetLab.create('r');
  try {
    const dns = await lab.addHost('dns', '10.250.4.2/24');
    const srv = await lab.addHost('srv', '10.250.4.1/24', SERVER_MAC);
    lab.spawn(dns, '/usr/sbin/dnsmasq', ['--keep-in-foreground', '--no-daemon', '--conf-file=/dev/null', '--port=0', '--interface=eth0', '--bind-interfaces', '--no-ping',
      '--dhcp-range=10.250.4.100,10.250.4.150,255.255.255.0,10m', `--dhcp-leasefile=${join(dir, 'leases')}`]);
    const server = await lab.startServer(srv, ['--interface', '10.250.4.1', '--root', dir, '--mode', 'proxy']);
    await server.waitFor((e) => e.event === 'ready');
    const mac = '52:54:00:04:00:01';
    const serial = await pxeBoot(lab, mac);
    // Proxy mode leaves IPv6 to the office network: no advertisement from Ardesia.
    assert.match(serial, new RegExp(`\nra=\n${MARKER} mac=${mac} ip=10\\.250\\.4\\.1[0-5]\\d `));
    // iPXE's \${next-server} keeps dnsmasq's siaddr; the boot file came from the proxy's.
    assert.match(serial, /Next server: 10\.250\.4\.1\n/);
    assert.match(serial, /tftp:\/\/10\.250\.4\.1\/boot\.ipxe\.\.\. ok/);
    assertStages(server, mac, /^proxy: (OFFER|ACK) boot\.ipxe/);
  } finally {
    await lab.destroy();
  }
});

test('netboot serve on a segment of its own, its HTTP boot server the controller: the PC gets its address there and its boot script, and its place in the inventory, from the controller', async () => {
  const lab = await NetLab.create('q');
  let daemon: TestDaemon | undefined;
  try {
    const srv = await lab.addHost('srv', '10.250.3.1/24', SERVER_MAC);
    const ctl = await lab.addHost('ctl', '10.250.3.2/24');
    // The controller: HTTPS on its address (iPXE's /boot/* are answered in plain HTTP on that port).
    daemon = await TestDaemon.start({ netns: ctl, extraArgs: ['--listen', '10.250.3.2:18443'] });
    const config = join(dir, 'segment-netboot.yaml');
    writeFileSync(config, 'interfaces:\n  - address: 10.250.3.1\n    mode: full\n    ranges: [{ start: 10.250.3.100, end: 10.250.3.120 }]\n    http: { address: 10.250.3.2, port: 18443 }\n');
    const netboot = lab.spawn(srv, process.execPath, [CLI, '--data-dir', join(dir, 'segment-data'), 'netboot', 'serve', '--config', config, '--listen', '10.250.3.1:18080']);
    let output = '';
    netboot.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    netboot.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    await until('netboot serve listening', () => output.includes('ardesia netboot listening') || (netboot.exitCode !== null ? Promise.reject(new Error(output)) : undefined), 60_000, 100);

    const mac = '52:54:00:03:00:03';
    // The controller has no thin-client OS built: its script says so (the message comes from the controller only).
    const serial = await pxeBoot(lab, mac, 'thin-client OS is not built on this server');
    assert.match(serial, /Filename: http:\/\/10\.250\.3\.2:18443\/boot\/ipxe\?mac=52:54:00:03:00:03\n/);
    assert.match(serial, /http:\/\/10\.250\.3\.2:18443\/boot\/ipxe\.\.\. ok/);
    const client = await until('the PC in the controller\'s inventory', async () =>
      (await daemon!.api().request<ThinClientView[]>('GET', '/v1/thinclients')).find((c) => c.mac === mac), 10_000, 200);
    assert.match(client.lastIp ?? '', /^10\.250\.3\.1[0-2]\d$/, 'the address the segment\'s netboot gave it');
    assert.match(output, new RegExp(`ACK 10\\.250\\.3\\.1[0-2]\\d.*${mac}|${mac}.*ACK`), 'the segment\'s netboot gave the address');
  } finally {
    await daemon?.destroy();
    await lab.destroy();
  }
});
