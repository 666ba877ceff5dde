// proxyDHCP beside a real DHCP server (dnsmasq, in its own namespace, giving the addresses):
// a plain client gets its address from dnsmasq and nothing from us; a PXE DISCOVER crafted with
// our codec gets dnsmasq's address offer AND our boot offer; a REQUEST to port 4011 gets an ACK.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { NetLab, udhcpcOnce, UDHCPC_SCRIPT, type ServerHandle } from './lab.js';

interface Reply { from: string; type: number; yiaddr: string; siaddr: string; file: string; serverId: string; vendorClass?: string; vendor?: string; uuid?: string }

let lab: NetLab;
let dir: string;
let script: string;
let server: ServerHandle;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nbp-'));
  script = join(dir, 'udhcpc.sh');
  writeFileSync(script, UDHCPC_SCRIPT);
  chmodSync(script, 0o755);
  lab = await NetLab.create('p');
  const dhcp = await lab.addHost('dns', '10.250.2.2/24');
  const srv = await lab.addHost('srv', '10.250.2.1/24');
  await lab.addHost('cli');
  lab.spawn(dhcp, '/usr/sbin/dnsmasq', ['--keep-in-foreground', '--no-daemon', '--conf-file=/dev/null', '--port=0', '--interface=eth0', '--bind-interfaces',
    '--dhcp-range=10.250.2.100,10.250.2.150,255.255.255.0,10m', `--dhcp-leasefile=${join(dir, 'leases')}`, '--dhcp-authoritative', '--no-ping', '--log-dhcp']);
  server = await lab.startServer(srv, ['--interface', '10.250.2.1', '--mode', 'proxy', '--no-tftp']);
  await server.waitFor((e) => e.event === 'ready');
});

after(async () => {
  await lab?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

test('a plain client gets its address from dnsmasq; the proxy stays silent to it', async () => {
  const lease = await udhcpcOnce(lab, lab.ns('cli'), script);
  assert.match(lease.ip, /^10\.250\.2\.1[0-5]\d$/);
  assert.equal(lease.serverid, '10.250.2.2');
  assert.equal(lease.boot_file, '');
  await server.waitFor((e) => e.event === 'dhcp-silent' && /not a PXE client/.test(String(e.reason)));
  assert.ok(!server.events.some((e) => e.event === 'dhcp-reply'));
});

test('a PXE DISCOVER: dnsmasq offers the address, the proxy offers the boot file', async () => {
  const { stdout } = await lab.exec(lab.ns('cli'), 'ip', ['-4', '-o', 'addr', 'show', 'eth0']);
  const own = /inet (10\.250\.2\.\d+)/.exec(stdout)![1]!;
  const replies = await lab.tool<Reply[]>(lab.ns('cli'), ['pxe', '--from', own, '--mac', '52:54:00:00:02:01', '--arch', '0', '--listen', '2500']);
  const fromDnsmasq = replies.find((r) => r.serverId === '10.250.2.2');
  const fromProxy = replies.find((r) => r.serverId === '10.250.2.1');
  assert.ok(fromDnsmasq, `dnsmasq answered: ${JSON.stringify(replies)}`);
  assert.match(fromDnsmasq.yiaddr, /^10\.250\.2\./);
  assert.ok(fromProxy, `the proxy answered: ${JSON.stringify(replies)}`);
  assert.equal(fromProxy.type, 2);
  assert.equal(fromProxy.yiaddr, '0.0.0.0');
  assert.equal(fromProxy.siaddr, '10.250.2.1');
  assert.equal(fromProxy.file, 'undionly.kpxe');
  assert.equal(fromProxy.vendorClass, 'PXEClient');
  assert.equal(fromProxy.vendor, '060108ff');
  assert.equal(fromProxy.uuid, 'a0a1a2a3a4a5a6a7a8a9aaabacadaeaf');
});

test('a UEFI client (arch 7) asking the proxy on port 4011 gets an ACK with snponly.efi', async () => {
  const { stdout } = await lab.exec(lab.ns('cli'), 'ip', ['-4', '-o', 'addr', 'show', 'eth0']);
  const own = /inet (10\.250\.2\.\d+)/.exec(stdout)![1]!;
  const replies = await lab.tool<Reply[]>(lab.ns('cli'), ['pxe', '--from', own, '--server', '10.250.2.1', '--port', '4011', '--type', 'request', '--arch', '7', '--listen', '1500']);
  assert.equal(replies.length, 1, JSON.stringify(replies));
  assert.equal(replies[0]!.type, 5);
  assert.equal(replies[0]!.file, 'snponly.efi');
  assert.equal(replies[0]!.yiaddr, '0.0.0.0');
});
