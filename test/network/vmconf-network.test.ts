// vm.conf networking with real QEMU in a network namespace: a `local interface` VM gets the guest address of
// its /31 of 100.64.0.0/10 from the daemon's DHCP and reaches the host side; on a `locked lladdr` switch a
// guest that changes its MAC reaches nothing, while an honest guest there, and a spoofing guest on an
// unlocked switch, get through (so the lock is what stops the spoofer). Their QEMUs run unprivileged with
// the taps handed as descriptors (this host's /dev/net/tun is 0600: QEMU could not open it itself).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { defaultMac, defaultTapName } from '../../src/hypervisor/qemu/argv.js';
import { macLockTable } from '../../src/network/mac-lock.js';
import { localPair, localSlot, parseLocalPrefix } from '../../src/network/local-prefix.js';
import { TestDaemon, until } from '../helpers/daemon.js';
import { guestArtifacts } from '../helpers/guests.js';
import { guestNetReport, LAB_BODY, LAB_HTTP_PORT, LAB_URL, NetworkLab } from './lab.js';

const g = guestArtifacts();
const SPOOFED_MAC = '02:00:00:00:66:66';
const LOCAL = localPair(parseLocalPrefix('100.64.0.0/10'), localSlot(parseLocalPrefix('100.64.0.0/10'), 'loc', 0, new Set()));

function guest(name: string, iface: string, cmdline: string): string {
  return `vm "${name}" {
  memory 128M
  boot "${g.amd64.kernel}"
  initrd "${g.amd64.initrd}"
  cmdline "console=ttyS0 quiet ardesia.net=dhcp ${cmdline}"
  ${iface}
  enable
}
`;
}

const CONF = `switch "office" {
  interface br0
  locked lladdr
}
${guest('loc', 'local interface', `ardesia.fetch=http://${LOCAL.host}:${LAB_HTTP_PORT}/`)}
${guest('honest', 'interface { switch "office" }', `ardesia.fetch=${LAB_URL}`)}
${guest('spoof', 'interface { switch "office" }', `ardesia.mac=${SPOOFED_MAC} ardesia.fetch=${LAB_URL}`)}
${guest('spoofopen', 'interface { bridge "br0" }', `ardesia.mac=${SPOOFED_MAC.replace('66:66', '77:77')} ardesia.fetch=${LAB_URL}`)}
`;

let lab: NetworkLab;
let daemon: TestDaemon;

before(async () => {
  lab = await NetworkLab.create('vc');
  const dir = mkdtempSync(join(tmpdir(), 'ard-'));
  await lab.startHttp();
  await lab.startOfficeDhcp(dir);
  writeFileSync(join(dir, 'vm.conf'), CONF);
  daemon = await TestDaemon.start({ dataDir: dir, extraArgs: ['--config', join(dir, 'vm.conf')], netns: lab.ns });
});
after(async () => {
  await daemon?.destroy();
  await lab?.destroy();
});

test('a local interface VM gets its 100.64.x guest address by DHCP and reaches the host side', async () => {
  const tap = defaultTapName('loc', 0);
  assert.match(await lab.ip('-4', 'address', 'show', 'dev', tap), new RegExp(`inet ${LOCAL.host.replaceAll('.', '\\.')}/31`));
  const report = await guestNetReport(daemon.dataDir, 'loc');
  assert.match(LOCAL.guest, /^100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\./);
  assert.deepEqual(report, { bound: LOCAL.guest, fetched: LAB_BODY });
});

test('locked lladdr: a guest that changes its MAC gets no lease and reaches nothing', async () => {
  assert.deepEqual(await guestNetReport(daemon.dataDir, 'spoof'), { bound: null, fetched: null });
  const rules = await lab.exec('nft', ['list', 'table', 'bridge', macLockTable(defaultTapName('spoof', 0))]);
  assert.match(rules, new RegExp(`ether saddr != ${defaultMac('spoof', 0)} counter packets [1-9]\\d* bytes \\d+ drop`));
});

test('locked lladdr lets the honest guest through, and a spoofer on an unlocked bridge gets through too', async () => {
  const honest = await guestNetReport(daemon.dataDir, 'honest');
  assert.match(honest.bound ?? '', /^10\.77\.0\.1\d\d$/);
  assert.equal(honest.fetched, LAB_BODY);
  const open = await guestNetReport(daemon.dataDir, 'spoofopen');
  assert.match(open.bound ?? '', /^10\.77\.0\.1\d\d$/);
  assert.equal(open.fetched, LAB_BODY);
});

test("bridged and local-interface VMs' QEMUs run unprivileged: their taps are handed as descriptors", async () => {
  for (const name of ['loc', 'honest']) {
    const status = await daemon.api().request<{ pid?: number }>('GET', `/v1/vms/${name}`);
    assert.ok(status.pid, `vm ${name} has no pid`);
    const uids = readFileSync(`/proc/${status.pid}/status`, 'utf8').match(/^Uid:\s+(.*)$/m)?.[1]?.split(/\s+/).map(Number) ?? [];
    assert.equal(uids.length, 4);
    for (const uid of uids) assert.notEqual(uid, 0, `vm ${name}: QEMU runs as root (${uids.join(' ')})`);
    // The tap is an inherited descriptor on /dev/net/tun, not opened by QEMU by name (it may not open it at all).
    assert.match(readFileSync(`/proc/${status.pid}/cmdline`, 'utf8'), /tap,id=net0,fd=\d+/);
  }
});

test('a stopped VM takes its tap, MAC lock and local DHCP with it', async () => {
  const r = await daemon.cli(['vm', 'stop', '-f', 'spoof']);
  assert.equal(r.code, 0, r.stderr);
  const tap = defaultTapName('spoof', 0);
  await until('the tap is gone', async () => !(await lab.ip('link', 'show')).includes(tap), 30_000);
  assert.doesNotMatch(await lab.exec('nft', ['list', 'tables']), new RegExp(macLockTable(tap)));
});
