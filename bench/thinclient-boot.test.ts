// The pure parts of the thin-client boot benchmark: stage marking from the serial console and the daemon's
// log, its options, MACs and the two kinds of QEMU command line.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bootMac, markDaemonStages, markSerialStages, qemuArgs, roundsFromArgs, stagesOf } from './thinclient-boot.js';

const SERIAL_PXE = [
  'iPXE (PCI 00:02.0) starting execution...ok',
  'Filename: http://10.250.30.1:8080/boot/ipxe?mac=52:54:00:1e:01:01',
  'http://10.250.30.1:8080/boot/files/amd64/initrd.img... ok',
  'ARDESIA-TC stage=init kernel=6.1.0-50-amd64 machine=x86_64',
  'ARDESIA-TC stage=dhcp ok ip=10.250.30.105 if=eth0 mac=52:54:00:1e:01:01',
].join('\n');

test('serial stages: each is marked when first seen and never moved; a baseline boot has no PXE stages', () => {
  const first = markSerialStages('pxe', SERIAL_PXE, 12.5, {});
  assert.deepEqual(first, { ipxe: 12.5, 'dhcp-ipxe': 12.5, kernel: 12.5, init: 12.5, dhcp: 12.5 });
  const later = markSerialStages('pxe', `${SERIAL_PXE}\nARDESIA-TC stage=root fetched bytes=1 sha256=ok`, 30, first);
  assert.equal(later.init, 12.5, 'a stage keeps the time it was first seen');
  assert.equal(later.root, 30);
  assert.deepEqual(first, { ipxe: 12.5, 'dhcp-ipxe': 12.5, kernel: 12.5, init: 12.5, dhcp: 12.5 }, 'pure: the record passed in is unchanged');
  assert.deepEqual(Object.keys(markSerialStages('baseline', SERIAL_PXE, 3, {})).sort(), ['dhcp', 'init']);
  assert.ok(stagesOf('baseline').every((s) => !s.pxeOnly));
});

test("daemon stages: this MAC's entries by their own time; other MACs and a half-written last line are ignored", () => {
  const mac = '52:54:00:1e:01:01';
  const started = Date.parse('2026-11-26T12:00:00.000Z');
  const log = [
    JSON.stringify({ event: 'dhcp-reply', reason: 'OFFER 10.250.30.104 to 52:54:00:1e:02:01', time: started + 1000 }),
    JSON.stringify({ event: 'dhcp-reply', reason: `OFFER 10.250.30.105 to ${mac}`, time: started + 2500 }),
    JSON.stringify({ event: 'dhcp-reply', reason: `ACK 10.250.30.105 to ${mac}`, time: started + 5500 }),
    JSON.stringify({ event: 'boot-script', mac, time: new Date(started + 18900).toISOString() }),
    `{"event":"boot-file","mac":"${mac}","ti`,
  ].join('\n');
  assert.deepEqual(markDaemonStages('pxe', log, mac, started, {}), { offer: 2.5, ack: 5.5, script: 18.9 });
  assert.deepEqual(markDaemonStages('baseline', log, mac, started, {}), {}, 'the baseline boots without DHCP-to-iPXE');
});

test('--rounds: the default, a number, and nonsense refused', () => {
  assert.equal(roundsFromArgs(['thinclient-boot']), 2);
  assert.equal(roundsFromArgs(['thinclient-boot', '--rounds', '3']), 3);
  for (const bad of ['0', '21', 'x', '1.5', undefined]) {
    assert.throws(() => roundsFromArgs(bad === undefined ? ['--rounds'] : ['--rounds', bad]), /whole number from 1 to 20/);
  }
});

test('one MAC per boot, and the same PC either way except how it boots', () => {
  const macs = [1, 2, 3].flatMap((r) => [bootMac(r, 'pxe'), bootMac(r, 'baseline')]);
  assert.equal(new Set(macs).size, macs.length);
  for (const mac of macs) assert.match(mac, /^52:54:00:1e:[0-9a-f]{2}:0[12]$/);
  const paths = { sercon: '/t/sercon', serial: '/t/serial', qmp: '/t/qmp', osDir: '/t/os', kernelCmdline: 'console=ttyS0 quiet' };
  const pxe = qemuArgs('pxe', macs[0]!, paths);
  const direct = qemuArgs('baseline', macs[1]!, paths);
  assert.deepEqual(pxe.slice(pxe.indexOf('-boot'), pxe.indexOf('-boot') + 2), ['-boot', 'n']);
  assert.ok(!pxe.includes('-kernel'));
  assert.equal(direct[direct.indexOf('-kernel') + 1], '/t/os/vmlinuz');
  assert.equal(direct[direct.indexOf('-append') + 1], `console=ttyS0 quiet ardesia.server=http://10.250.30.1:8080 ardesia.mac=${macs[1]}`);
  const common = (args: string[]) => args.filter((a, i) => !['-boot', '-kernel', '-initrd', '-append'].includes(a) && !['-boot', '-kernel', '-initrd', '-append'].includes(args[i - 1] ?? '') && !a.includes('mac='));
  assert.deepEqual(common(pxe), common(direct));
});
