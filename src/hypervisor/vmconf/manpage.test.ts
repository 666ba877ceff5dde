// The examples of OpenBSD's vm.conf(5), verbatim: those that apply on Linux load; the others fail clearly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as F from './fixtures.js';
import { assertVmConfError, parseWith } from './testing.js';

test('man page: macro example boots /bsd.rd as a kernel with 512M', () => {
  const r = parseWith(F.MANPAGE_MACRO);
  assert.deepEqual(r.vms.map((v) => [v.name, v.memoryMiB, v.boot.kernel, v.enabled]), [['vm1.example.com', 512, '/bsd.rd', true]]);
});

test('man page: include example reads /etc/vm1.example.com.conf', () => {
  const r = parseWith(F.MANPAGE_INCLUDE, { '/etc/vm1.example.com.conf': F.MANPAGE_MACRO });
  assert.deepEqual(r.sources, ['/etc/vm.conf', '/etc/vm1.example.com.conf']);
  assert.equal(r.vms[0]!.name, 'vm1.example.com');
});

test('man page: switch "uplink" on bridge0 plus vm2 on it', () => {
  const r = parseWith(F.MANPAGE_SWITCH + F.MANPAGE_VM2);
  assert.deepEqual(r.switches.map((s) => [s.name, s.interface]), [['uplink', 'bridge0']]);
  const vm2 = r.vms[0]!;
  assert.deepEqual(
    [vm2.name, vm2.memoryMiB, vm2.disks.map((d) => [d.path, d.format]), vm2.nics, vm2.owner],
    ['vm2.example.com', 1024, [['/home/joe/vm2-disk.img', 'raw']], [{ mode: 'bridge', bridge: 'bridge0', model: 'virtio' }], { user: 'joe' }],
  );
});

test('man page: vm2 without its switch fails instead of leaving the interface unplugged', () => {
  assertVmConfError(() => parseWith(F.MANPAGE_VM2), { code: 'VMCONF_PARSE', line: 4, col: 14, says: 'no switch named "uplink"' });
});

test('man page: the vm3 instance example needs allow instance { disk } in vm2, which the example lacks', () => {
  assertVmConfError(() => parseWith(F.MANPAGE_SWITCH + F.MANPAGE_VM2 + F.MANPAGE_VM3_INSTANCE), {
    code: 'VMCONF_PARSE',
    line: 11,
    col: 2,
    says: 'instance "vm3.example.com" may not set disk',
  });
  const allowed = F.MANPAGE_VM2.replace('\towner joe\n', '\towner joe\n\tallow instance { disk }\n');
  const r = parseWith(F.MANPAGE_SWITCH + allowed + F.MANPAGE_VM3_INSTANCE);
  assert.deepEqual(r.vms[1]!.disks.map((d) => d.path), ['/home/joe/vm3-disk.img']);
  assert.equal(r.vms[1]!.memoryMiB, 1024);
});

test('man page: the raw disk device line parses (the device must exist on the Linux host at start)', () => {
  const r = parseWith(`vm "raw" {\n\t${F.MANPAGE_RAW_DISK_LINE}\n}\n`);
  assert.deepEqual(r.vms[0]!.disks, [{ path: '/dev/rsd1c', format: 'raw', bus: 'virtio', readonly: false }]);
});

test('Ardesia examples of docs/vmconf.md load', () => {
  const kernel = parseWith(F.ARDESIA_KERNEL_GUEST).vms[0]!;
  assert.deepEqual(kernel.boot, { firmware: 'bios', kernel: '/etc/kernels/vmlinuz', initrd: '/etc/kernels/initrd.img', cmdline: 'console=ttyS0 quiet' });
  const cd = parseWith(F.ARDESIA_CDROM_GUEST).vms[0]!;
  assert.deepEqual([cd.boot, cd.cdrom], [{ firmware: 'uefi', device: 'cdrom' }, '/srv/iso/debian-12-netinst.iso']);
  const sink = parseWith(F.KITCHEN_SINK);
  assert.deepEqual(sink.vms.map((v) => v.name), ['web', 'web2', 'fw']);
});
