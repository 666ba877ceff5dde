// Full-mode DHCP against a real client (busybox udhcpc) in network namespaces the test creates;
// bad packets and a flood of DISCOVERs while a valid client is still served; the probe that
// refuses to start full mode beside another DHCP server.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { NetLab, udhcpcOnce, UDHCPC_SCRIPT, type ServerHandle } from './lab.js';

let lab: NetLab;
let dir: string;
let script: string;
let server: ServerHandle;
const RESERVED_MAC = '52:54:00:be:ef:01';

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nbf-'));
  script = join(dir, 'udhcpc.sh');
  writeFileSync(script, UDHCPC_SCRIPT);
  chmodSync(script, 0o755);
  lab = await NetLab.create('f');
  const srv = await lab.addHost('srv', '10.250.1.1/24');
  await lab.addHost('cli');
  await lab.addHost('res', undefined, RESERVED_MAC);
  await lab.addHost('bad', '10.250.1.66/24');
  server = await lab.startServer(srv, ['--interface', '10.250.1.1', '--mode', 'full', '--range', '10.250.1.100-10.250.1.199', '--netmask', '255.255.255.0',
    '--router', '10.250.1.1', '--reserve', `${RESERVED_MAC}=10.250.1.20`, '--no-tftp']);
  await server.waitFor((e) => e.event === 'ready');
});

after(async () => {
  await lab?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

test('the probe found no other DHCP server before full mode started', () => {
  const probe = server.events.find((e) => e.event === 'dhcp-probe');
  assert.equal(probe?.found, false);
});

test('udhcpc gets an address from the range, with our server id and router', async () => {
  const lease = await udhcpcOnce(lab, lab.ns('cli'), script);
  assert.match(lease.ip, /^10\.250\.1\.1\d\d$/);
  assert.equal(lease.serverid, '10.250.1.1');
  assert.equal(lease.router, '10.250.1.1');
  assert.equal(lease.mask, '255.255.255.0');
  await server.waitFor((e) => e.event === 'dhcp-reply' && String(e.reason).startsWith(`ACK ${lease.ip}`));
  const { stdout } = await lab.exec(lab.ns('cli'), 'ip', ['-4', 'addr', 'show', 'eth0']);
  assert.match(stdout, new RegExp(`inet ${lease.ip.replace(/\./g, '\\.')}/24`));
});

test('a reserved MAC gets its reserved address', async () => {
  const lease = await udhcpcOnce(lab, lab.ns('res'), script);
  assert.equal(lease.ip, '10.250.1.20');
});

test('bad packets and a flood of 2000 DISCOVERs: the server keeps serving a valid client', async () => {
  const flood = lab.tool<{ bad: number; discovers: number }>(lab.ns('bad'), ['flood', '--from', '10.250.1.66', '--count', '2000']);
  // A client asks while the flood is under way, and again after it.
  const during = udhcpcOnce(lab, lab.ns('cli'), script, ['-x', 'hostname:during']);
  const sent = await flood;
  await during;
  const lease = await udhcpcOnce(lab, lab.ns('cli'), script);
  assert.match(lease.ip, /^10\.250\.1\.1\d\d$/);
  server.proc.kill('SIGUSR1');
  const stats = await server.waitFor((e) => e.event === 'dhcp-stats');
  assert.equal(stats.internalErrors, 0);
  assert.ok(Number(stats.decodeErrors) >= sent.bad - 1, `decode errors counted: ${JSON.stringify(stats)}`);
  // The kernel drops what overflows the socket buffer during a flood; many must still arrive.
  assert.ok(Number(stats.received) >= sent.bad + 100, `the flood reached the server: ${JSON.stringify(stats)}`);
  assert.equal(Number(stats.replies) + Number(stats.silent) + Number(stats.limited), Number(stats.received) - Number(stats.decodeErrors));
  assert.ok(server.events.some((e) => e.event === 'dhcp-bad-packet' && e.reason === 'oversized'));
  assert.ok(server.events.some((e) => e.event === 'dhcp-bad-packet' && e.reason === 'truncated'));
});

test('full mode refuses to start beside another DHCP server, and names it', async () => {
  const other = await lab.addHost('srv2', '10.250.1.2/24');
  const second = await lab.startServer(other, ['--interface', '10.250.1.2', '--mode', 'full', '--range', '10.250.1.200-10.250.1.210', '--no-tftp']);
  const code = await second.exited;
  assert.equal(code, 1);
  const fatal = second.events.find((e) => e.event === 'fatal');
  assert.equal(fatal?.name, 'DhcpServerConflictError');
  assert.match(String(fatal?.error), /10\.250\.1\.1/);
});
