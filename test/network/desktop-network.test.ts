// Standalone desktops (`desktop create`, outside any pool) on a network, with the real daemon, QEMU and CLI in a
// network namespace: `--network nat` gets slirp's 10.0.2.15 and reaches the HTTP server outside; `--network
// bridge:br0` gets an address from the office DHCP server on br0 and reaches it; the setting is stored and shown,
// and a desktop made without it has no network card. A maintenance session (an image update) gets a network the same way.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { DesktopInfo } from '../../src/contract/images.js';
import { TestDaemon } from '../helpers/daemon.js';
import { buildHelperGuest, KERNEL_APPEND } from '../image-build/helper-guest.js';
import { cliJson } from '../images/support.js';
import { guestNetReport, LAB_BODY, NetworkLab, OUTSIDE_URL } from './lab.js';

let lab: NetworkLab;
let daemon: TestDaemon;

before(async () => {
  lab = await NetworkLab.create('dn');
  const dir = mkdtempSync('/tmp/ard-');
  await lab.startHttp();
  await lab.startOutside(); // NAT guests reach the outside, never the daemon's own addresses (the NAT guard)
  await lab.startOfficeDhcp(dir);
  daemon = await TestDaemon.start({ dataDir: dir, netns: lab.ns });
  const guest = buildHelperGuest(mkdtempSync('/tmp/dimg-'));
  await cliJson(daemon, ['image', 'create', 'bb', '--from', guest.root, '--format', 'raw', '--kernel', guest.kernel, '--initrd', guest.initrd,
    '--cmdline', `${KERNEL_APPEND} ardesia.net=dhcp ardesia.fetch=${OUTSIDE_URL}`, '--memory', '192M']);
});
after(async () => {
  await daemon?.destroy();
  await lab?.destroy();
});

test('the network setting is stored and shown; without it a desktop has no network card; a bad one is refused', async () => {
  const plain = await cliJson<DesktopInfo>(daemon, ['desktop', 'create', 'plain', '--image', 'bb']);
  assert.deepEqual(plain.network, { mode: 'none' });
  await cliJson(daemon, ['desktop', 'start', 'plain']);
  const pid = readFileSync(join(daemon.dataDir, 'runtime', 'plain', 'qemu.pid'), 'utf8').trim();
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  assert.ok(argv.includes('-nodefaults') && !argv.includes('-netdev'), argv.join(' '));
  await cliJson(daemon, ['desktop', 'stop', '-f', 'plain']);
  await cliJson(daemon, ['desktop', 'create', 'office', '--image', 'bb', '--network', 'bridge:br0']);
  const shown = await daemon.cli(['desktop', 'show', 'office']);
  assert.match(shown.stdout, /network bridge:br0/);
  const bad = await daemon.cli(['desktop', 'create', 'bad', '--image', 'bb', '--network', 'wifi']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /--network takes none, nat or bridge:BRIDGE/);
});

test('a NAT desktop gets an address by DHCP and reaches the HTTP server', async () => {
  await cliJson(daemon, ['desktop', 'create', 'natd', '--image', 'bb', '--network', 'nat']);
  await cliJson(daemon, ['desktop', 'start', 'natd']);
  await lab.assertQemuConfined(daemon.dataDir, 'natd');
  assert.deepEqual(await guestNetReport(daemon.dataDir, 'natd'), { bound: '10.0.2.15', fetched: LAB_BODY });
});

test('a bridged desktop gets its address from the office DHCP server and reaches the HTTP server', async () => {
  await cliJson(daemon, ['desktop', 'start', 'office']);
  const report = await guestNetReport(daemon.dataDir, 'office');
  assert.match(report.bound ?? '', /^10\.77\.0\.1\d\d$/);
  assert.equal(report.fetched, LAB_BODY);
});

test('a maintenance session opened with --network nat reaches the HTTP server (updates need the network)', async () => {
  const session = await cliJson<{ vm: string }>(daemon, ['image', 'edit', 'bb', '--network', 'nat']);
  assert.equal(session.vm, 'maint-bb');
  await lab.assertQemuConfined(daemon.dataDir, session.vm);
  assert.deepEqual(await guestNetReport(daemon.dataDir, session.vm), { bound: '10.0.2.15', fetched: LAB_BODY });
  const bad = await daemon.cli(['image', 'edit', 'bb', '--network', 'bridge:']);
  assert.notEqual(bad.code, 0);
});
