// Pool desktops on a network, with the real daemon, QEMU and CLI in a network namespace: `--network nat`
// gets slirp's 10.0.2.15 and reaches the HTTP server outside; `--network bridge:br0` gets an address from the
// office DHCP server on br0 and reaches it; restricted NAT reaches the allowed destination at its own address
// and, allowed nothing, reaches nothing.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { after, before, test } from 'node:test';
import type { PoolView } from '../../src/contract/pools.js';
import { TestDaemon } from '../helpers/daemon.js';
import { buildHelperGuest, KERNEL_APPEND } from '../image-build/helper-guest.js';
import { cliJson } from '../images/support.js';
import { untilDesktops } from '../pools/support.js';
import { guestNetReport, LAB_BODY, LAB_HTTP_PORT, NetworkLab, OUTSIDE_HOST, OUTSIDE_URL } from './lab.js';

let lab: NetworkLab;
let daemon: TestDaemon;

async function image(name: string, fetchUrl: string): Promise<void> {
  const guest = buildHelperGuest(mkdtempSync('/tmp/pimg-'));
  const cmdline = `${KERNEL_APPEND} ardesia.net=dhcp ardesia.fetch=${fetchUrl}`;
  await cliJson(daemon, ['image', 'create', name, '--from', guest.root, '--format', 'raw', '--kernel', guest.kernel, '--initrd', guest.initrd, '--cmdline', cmdline, '--memory', '192M']);
}

async function desktopOf(pool: string): Promise<string> {
  // Its QEMU must be running (the confinement check reads its pidfile): the warm spare, once booted.
  const ds = await untilDesktops(daemon, pool, `pool ${pool}'s warm spare booted`, (all) => all.some((d) => d.state === 'ready'));
  return ds.find((d) => d.state === 'ready')!.name;
}

before(async () => {
  lab = await NetworkLab.create('pn');
  const dir = mkdtempSync('/tmp/ard-');
  await lab.startHttp();
  await lab.startOutside(); // NAT guests reach the outside, never the daemon's own addresses (the NAT guard)
  await lab.startOfficeDhcp(dir);
  daemon = await TestDaemon.start({ dataDir: dir, netns: lab.ns });
  await image('bb', OUTSIDE_URL);
  const pool = (name: string, img: string, ...flags: string[]) => cliJson<PoolView>(daemon, ['pool', 'create', name, '--image', img, '--max', '1', '--warm', '1', '--memory', '192M', ...flags]);
  await pool('nat', 'bb', '--network', 'nat');
  await pool('office', 'bb', '--network', 'bridge:br0');
  await pool('allow', 'bb', '--network', 'nat', '--nat-allow', `${OUTSIDE_HOST}:${LAB_HTTP_PORT}`);
  await pool('closed', 'bb', '--network', 'nat', '--nat-allow', '');
});
after(async () => {
  await daemon?.destroy();
  await lab?.destroy();
});

test('the network setting is shown, refused when malformed, and pools default to none', async () => {
  const shown = await daemon.cli(['pool', 'show', 'office']);
  assert.match(shown.stdout, /network {2}bridge:br0/);
  const bad = await daemon.cli(['pool', 'set', 'office', '--network', 'bridge:not a name']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /--network takes none, nat or bridge:BRIDGE/);
  const plain = await cliJson<PoolView>(daemon, ['pool', 'create', 'plain', '--image', 'bb', '--max', '1', '--warm', '0']);
  assert.deepEqual(plain.network, { mode: 'none' });
  const allow = await cliJson<PoolView>(daemon, ['pool', 'show', 'allow']);
  assert.deepEqual(allow.network, { mode: 'nat', allow: [{ host: OUTSIDE_HOST, port: LAB_HTTP_PORT }] });
});

test('a NAT pool desktop gets an address by DHCP and reaches the HTTP server', async () => {
  const nat = await desktopOf('nat');
  await lab.assertQemuConfined(daemon.dataDir, nat);
  assert.deepEqual(await guestNetReport(daemon.dataDir, nat), { bound: '10.0.2.15', fetched: LAB_BODY });
});

test('a bridged pool desktop gets its address from the office DHCP server and reaches the HTTP server', async () => {
  const report = await guestNetReport(daemon.dataDir, await desktopOf('office'));
  assert.match(report.bound ?? '', /^10\.77\.0\.1\d\d$/);
  assert.equal(report.fetched, LAB_BODY);
});

test('restricted NAT reaches the allowed destination at its own address, and nothing when nothing is allowed', async () => {
  const [allow, closed] = [await desktopOf('allow'), await desktopOf('closed')];
  // QEMU runs in the test's namespace, whose only way out is the lab's outside namespace.
  await lab.assertQemuConfined(daemon.dataDir, allow);
  await lab.assertQemuConfined(daemon.dataDir, closed);
  assert.deepEqual(await guestNetReport(daemon.dataDir, allow), { bound: '10.0.2.15', fetched: LAB_BODY });
  assert.deepEqual(await guestNetReport(daemon.dataDir, closed), { bound: '10.0.2.15', fetched: null });
});
