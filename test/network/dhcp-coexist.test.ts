// Netboot's DHCP and the local-interface DHCP in one daemon, in a network namespace: the daemon serves
// full-mode netboot on a thin-client link (tc0, 10.250.9.1/24, a client namespace behind it) and runs a
// `local interface` VM (real QEMU). Both ask at the same time: the thin client gets its address from the
// netboot range, the VM its 100.64.x /31 address, and neither responder answers the other's client — not
// even a thin client that claims the VM's MAC.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { defaultMac } from '../../src/hypervisor/qemu/argv.js';
import { localPair, localSlot, parseLocalPrefix } from '../../src/network/local-prefix.js';
import { TestDaemon, until } from '../helpers/daemon.js';
import { guestArtifacts } from '../helpers/guests.js';
import { UDHCPC_SCRIPT, type UdhcpcEvent } from '../netboot/lab.js';
import { guestNetReport, LAB_BODY, LAB_HTTP_PORT, NetworkLab } from './lab.js';
import { addTestNamespace } from '../helpers/netns.js';

const run = promisify(execFile);
const g = guestArtifacts();
const PREFIX = parseLocalPrefix('100.64.0.0/10');
const LOCAL = localPair(PREFIX, localSlot(PREFIX, 'loc', 0, new Set()));
const VM_MAC = defaultMac('loc', 0);
const NETBOOT_ADDRESS = '10.250.9.1';

const CONF = `vm "loc" {
  memory 128M
  boot "${g.amd64.kernel}"
  initrd "${g.amd64.initrd}"
  cmdline "console=ttyS0 quiet ardesia.net=dhcp ardesia.fetch=http://${LOCAL.host}:${LAB_HTTP_PORT}/"
  local interface
  enable
}
`;

const NETBOOT = [
  'interfaces:',
  `  - address: ${NETBOOT_ADDRESS}`,
  '    mode: full',
  '    force: true',
  '    subnetMask: 255.255.255.0',
  '    ranges: [{ start: 10.250.9.100, end: 10.250.9.120 }]',
  '    http: { port: 8080 }',
  '    tftp: { enabled: false }',
  '',
].join('\n');

let lab: NetworkLab;
let daemon: TestDaemon;
let clientNs: string;
let script: string;

/** busybox udhcpc on the thin client's eth0 (optionally with another MAC): its "bound" event, or null. */
async function thinClientLease(mac?: string): Promise<UdhcpcEvent | null> {
  if (mac) await run('ip', ['-n', clientNs, 'link', 'set', 'eth0', 'address', mac]);
  await run('ip', ['-n', clientNs, 'address', 'flush', 'dev', 'eth0']);
  const { stdout } = await run('ip', ['netns', 'exec', clientNs, 'busybox', 'udhcpc', '-i', 'eth0', '-n', '-q', '-f', '-t', '5', '-T', '2', '-s', script], { timeout: 60_000 })
    .catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
  const bound = stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as UdhcpcEvent).find((e) => e.event === 'bound');
  return bound ?? null;
}

/** The daemon's JSON log lines with `event`. */
function events(name: string): Array<Record<string, unknown>> {
  return daemon.output.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e.event === name);
}

before(async () => {
  lab = await NetworkLab.create('dc');
  clientNs = `${lab.ns}c`;
  const dir = mkdtempSync(join(tmpdir(), 'ard-'));
  script = join(dir, 'udhcpc.sh');
  writeFileSync(script, UDHCPC_SCRIPT);
  chmodSync(script, 0o755);
  await addTestNamespace(clientNs);
  await run('ip', ['-n', lab.ns, 'link', 'add', 'tc0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', clientNs]);
  await lab.ip('address', 'add', `${NETBOOT_ADDRESS}/24`, 'dev', 'tc0');
  await lab.ip('link', 'set', 'tc0', 'up');
  await run('ip', ['-n', clientNs, 'link', 'set', 'eth0', 'up']);
  await lab.startHttp();
  writeFileSync(join(dir, 'vm.conf'), CONF);
  writeFileSync(join(dir, 'netboot.yaml'), NETBOOT);
  daemon = await TestDaemon.start({ dataDir: dir, netns: lab.ns, extraArgs: ['--config', join(dir, 'vm.conf'), '--netboot', join(dir, 'netboot.yaml')] });
});
after(async () => {
  await daemon?.destroy();
  await lab?.destroy();
  await run('ip', ['netns', 'del', clientNs]).catch(() => undefined);
});

test('a thin client and a local-interface VM get their addresses from the one daemon at the same time', async () => {
  const [lease, vm] = await Promise.all([thinClientLease(), guestNetReport(daemon.dataDir, 'loc')]);
  assert.ok(lease, 'the thin client got no lease');
  assert.match(lease.ip, /^10\.250\.9\.1[01]\d$|^10\.250\.9\.120$/);
  assert.equal(lease.serverid, NETBOOT_ADDRESS);
  assert.deepEqual(vm, { bound: LOCAL.guest, fetched: LAB_BODY });
  // Netboot never saw the VM's requests, and the local DHCP answered only the VM.
  const netbootReplies = events('dhcp-reply').map((e) => String(e.reason));
  assert.ok(netbootReplies.some((r) => r.startsWith(`ACK ${lease.ip}`)), netbootReplies.join('\n'));
  assert.ok(!netbootReplies.some((r) => r.includes(VM_MAC)), `netboot answered the VM: ${netbootReplies.join('\n')}`);
  assert.ok(!events('dhcp-silent').some((e) => e.mac === VM_MAC), 'netboot received the VM\'s DHCP');
  const localReplies = events('local-dhcp-reply');
  assert.ok(localReplies.length > 0 && localReplies.every((e) => e.mac === VM_MAC && e.tap !== 'tc0'));
});

test('a thin client that claims the VM\'s MAC is answered by netboot only', async () => {
  await guestNetReport(daemon.dataDir, 'loc'); // the VM holds its lease, so its responder is attached
  const localBefore = events('local-dhcp-reply').length + events('local-dhcp-foreign-mac').length;
  const lease = await thinClientLease(VM_MAC);
  assert.ok(lease, 'the thin client with the VM\'s MAC got no lease');
  assert.match(lease.ip, /^10\.250\.9\.1[01]\d$|^10\.250\.9\.120$/);
  assert.equal(lease.serverid, NETBOOT_ADDRESS);
  await until('netboot logged its ACK', () => events('dhcp-reply').some((e) => String(e.reason) === `ACK ${lease.ip} to ${VM_MAC}`), 10_000);
  assert.equal(events('local-dhcp-reply').length + events('local-dhcp-foreign-mac').length, localBefore, 'the local DHCP heard a thin client');
});
