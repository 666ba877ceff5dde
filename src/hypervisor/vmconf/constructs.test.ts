// Every vm.conf construct Ardesia maps, as a table: input file → the part of the spec it sets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseWith } from './testing.js';
import type { VmConfHost } from './types.js';

const vm = (body: string) => `vm "t" {\n${body}\n}\n`;
const only = (text: string, host: VmConfHost = {}) => {
  const r = parseWith(text, {}, host);
  assert.equal(r.vms.length, 1);
  return r.vms[0]!;
};
const bytes = (...b: number[]) => Uint8Array.from(b);
const QCOW_HEAD = bytes(0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3);
const ELF_HEAD = bytes(0x7f, 0x45, 0x4c, 0x46, 2, 1);

test('memory: bytes by default, scan_scaled suffixes, rounded down to MiB', () => {
  const cases: [string, number][] = [
    ['memory 512M', 512],
    ['memory 1G', 1024],
    ['memory 1.5G', 1536],
    ['memory 2g', 2048],
    ['memory 67108864', 64],
    ['memory 16777217', 16],
    ['memory 65536K', 64],
    ['memory 1T', 1024 * 1024],
    ['memory "256M"', 256],
  ];
  for (const [line, mib] of cases) assert.equal(only(vm(line)).memoryMiB, mib, line);
  assert.equal(only(vm('disk "/a"')).memoryMiB, 512, 'default 512M as in vm.conf(5)');
  const rounded = parseWith(vm('memory 16777217'));
  assert.match(rounded.warnings.join('\n'), /rounded down to 16 MiB/);
});

test('disks: path, format, bus, relative paths, format detection', () => {
  const d = only(vm('disk "/v/a.img"\ndisk rel/b.qcow2\ndisk "/v/c" format qcow2 bus ide\ndisk /v/d bus ahci format raw'));
  assert.deepEqual(
    d.disks.map((x) => [x.path, x.format, x.bus]),
    [
      ['/v/a.img', 'raw', 'virtio'],
      ['/etc/rel/b.qcow2', 'qcow2', 'virtio'],
      ['/v/c', 'qcow2', 'ide'],
      ['/v/d', 'raw', 'ahci'],
    ],
  );
  const probed = only(vm('disk "/v/x.img"\ndisk "/v/y.qcow2"'), { probeFile: (p) => (p === '/v/x.img' ? QCOW_HEAD : bytes(0, 0, 0, 0)) });
  assert.deepEqual(probed.disks.map((x) => x.format), ['qcow2', 'raw'], 'the header wins over the name');
});

test('boot: kernel or BIOS image, boot device, initrd/cmdline, firmware, arch, cpus, accel', () => {
  const cases: [string, Partial<Record<string, unknown>>, VmConfHost?][] = [
    ['boot "/k/vmlinuz"', { kernel: '/k/vmlinuz', firmware: 'bios' }],
    ['boot "k/bzImage"\ninitrd "k/initrd"\ncmdline "console=ttyS0 root=/dev/vda"', { kernel: '/etc/k/bzImage', initrd: '/etc/k/initrd', cmdline: 'console=ttyS0 root=/dev/vda', firmware: 'bios' }],
    ['boot "/usr/share/seabios/bios.bin"', { bios: '/usr/share/seabios/bios.bin', firmware: 'bios' }],
    ['firmware uefi\nboot "/fw/OVMF.fd"', { bios: '/fw/OVMF.fd', firmware: 'uefi' }],
    ['boot "/fw/bios-image"', { kernel: '/fw/bios-image', firmware: 'bios' }, { probeFile: () => ELF_HEAD }],
    ['boot "/fw/custom.img"', { bios: '/fw/custom.img', firmware: 'bios' }, { probeFile: () => bytes(0x55, 0xaa) }],
    ['cdrom "/i.iso"\nboot device cdrom', { device: 'cdrom', firmware: 'bios' }],
    ['disk "/d"\nboot device disk', { device: 'disk', firmware: 'bios' }],
    ['interface\nboot device net', { device: 'net', firmware: 'bios' }],
    ['interfaces 1\nboot device net', { device: 'net', firmware: 'bios' }],
  ];
  for (const [body, boot, host] of cases) assert.deepEqual(only(vm(body), host).boot, boot, body);
  const v = only(vm('arch i386\ncpus 4\naccel tcg\ncdrom "iso/x.iso"'));
  assert.deepEqual([v.arch, v.vcpus, v.accel, v.cdrom], ['i386', 4, 'tcg', '/etc/iso/x.iso']);
});

test('owner, enable/disable (vm.conf default is enabled)', () => {
  const cases: [string, unknown, boolean][] = [
    ['owner joe', { user: 'joe' }, true],
    ['owner joe:staff', { user: 'joe', group: 'staff' }, true],
    ['owner :staff\ndisable', { group: 'staff' }, false],
    ['owner 1000\nenable', { user: '1000' }, true],
    ['disable\nenable', undefined, true],
  ];
  for (const [body, owner, enabled] of cases) {
    const v = only(vm(body));
    assert.deepEqual([v.owner, v.enabled], [owner, enabled], body);
  }
});

test('interfaces: switch → bridge, bridge extension, named tap, user NAT, lladdr, model, interfaces N', () => {
  const sw = 'switch "uplink" {\n\tinterface br0\n}\nswitch "dmz" {\n\tinterface brdmz\n\tlocked lladdr\n}\n';
  const cases: [string, unknown[]][] = [
    ['interface { switch "uplink" }', [{ mode: 'bridge', bridge: 'br0', model: 'virtio' }]],
    ['interface switch "uplink"', [{ mode: 'bridge', bridge: 'br0', model: 'virtio' }]],
    ['interface tap4 { switch "uplink"\nlladdr 0:1:2:a:b:CC }', [{ mode: 'bridge', bridge: 'br0', ifname: 'tap4', mac: '00:01:02:0a:0b:cc', model: 'virtio' }]],
    ['interface', [{ mode: 'user', model: 'virtio' }]],
    ['interface tap', [{ mode: 'user', model: 'virtio' }]],
    ['interface tap9', [{ mode: 'tap', ifname: 'tap9', model: 'virtio' }]],
    ['interface { model e1000, up }', [{ mode: 'user', model: 'e1000' }]],
    ['interface bridge "br7" model rtl8139', [{ mode: 'bridge', bridge: 'br7', model: 'rtl8139' }]],
    ['interface { locked lladdr 52:54:00:00:00:01\nswitch "uplink" }', [{ mode: 'bridge', bridge: 'br0', mac: '52:54:00:00:00:01', locked: true, model: 'virtio' }]],
    ['interface\ninterfaces 3', [{ mode: 'user', model: 'virtio' }, { mode: 'user', model: 'virtio' }, { mode: 'user', model: 'virtio' }]],
    ['interfaces 0', []],
    ['interface { host access }', [{ mode: 'user', model: 'virtio', hostAccess: true }]],
    ['interface tap host access', [{ mode: 'user', model: 'virtio', hostAccess: true }]],
  ];
  for (const [body, nics] of cases) assert.deepEqual(only(sw + vm(body)).nics, nics, body);
  const locked = parseWith(sw + vm('interface { switch "dmz" }\ninterface { switch "uplink"\nlocked lladdr }\ninterface'));
  assert.deepEqual(locked.lockedNics, [{ vm: 't', nic: 0 }, { vm: 't', nic: 1 }]);
  assert.deepEqual(locked.vms[0]!.nics.map((n) => n.locked), [true, true, undefined]);
  assert.deepEqual(locked.warnings, []);
  for (const [body, why] of [
    ['interface { switch "uplink"\nhost access }', /host access opens user-mode NAT .* a bridge interface does not take it/],
    ['interface tap9 host access', /a tap interface does not take it/],
    ['local interface { host access }', /a local interface does not take it/],
    ['interface { host }', /access/],
  ] as const) assert.throws(() => parseWith(sw + vm(body)), why, body);
});

test('local interfaces: a routed tap with a /31 of the local prefix (100.64.0.0/10 unless set), lockable', () => {
  const cases: Array<[string, string, unknown[]]> = [
    ['', 'local interface', [{ mode: 'local', model: 'virtio', localPrefix: '100.64.0.0/10' }]],
    ['local prefix 10.20.0.0/16\n', 'local interface tap3 { locked lladdr }', [{ mode: 'local', ifname: 'tap3', locked: true, model: 'virtio', localPrefix: '10.20.0.0/16' }]],
    ['', 'local interface { lladdr 52:54:00:00:00:07 }\ninterface', [{ mode: 'local', mac: '52:54:00:00:00:07', model: 'virtio', localPrefix: '100.64.0.0/10' }, { mode: 'user', model: 'virtio' }]],
  ];
  for (const [globals, body, nics] of cases) assert.deepEqual(only(globals + vm(body)).nics, nics, body);
  assert.throws(() => parseWith('switch "uplink" {\n\tinterface br0\n}\n' + vm('local interface { switch "uplink" }')), /a local interface is a point-to-point link of its own/);
});

test('switches and globals are returned', () => {
  const r = parseWith(
    'local prefix 10.20.0.0/16\nlocal inet6\nstaggered start parallel 4 delay 30\n' +
      'switch "a" {\n\tinterface br0\n\tdisable\n}\nswitch "b" {\n\tinterface "br1"\n\tlocked lladdr\n\tup\n\tenable\n}\n',
  );
  assert.deepEqual(r.globals, { localPrefix: '10.20.0.0/16', localInet6: {}, staggeredStart: { parallel: 4, delaySeconds: 30 } });
  assert.deepEqual(r.switches, [
    { name: 'a', interface: 'br0', enabled: false, lockedLladdr: false, source: '/etc/vm.conf:4' },
    { name: 'b', interface: 'br1', enabled: true, lockedLladdr: true, source: '/etc/vm.conf:8' },
  ]);
  assert.deepEqual(parseWith('local inet6 prefix fd00:12::/56\n').globals, { localInet6: { prefix: 'fd00:12::/56' } });
  assert.deepEqual(parseWith('local prefix 100.64.0.0/10').globals, { localPrefix: '100.64.0.0/10' });
});

test('switch bridge check through the host: a real bridge or a bridge still to come is fine', () => {
  const text = 'switch "s" {\n\tinterface br0\n}\n' + vm('interface { switch "s" }');
  for (const kind of ['bridge', 'missing'] as const) {
    assert.equal(only(text, { interfaceKind: () => kind }).nics[0]!.bridge, 'br0');
  }
});

test('syntax details: comments, continuation, blank lines, one-line blocks, sourceOf', () => {
  const text = '# header\n\n\nvm "a" { memory 64M }\nvm "b" \\\n{\n\n  memory \\\n 128M   # comment\n\n}\n# end';
  const r = parseWith(text);
  assert.deepEqual(r.vms.map((v) => [v.name, v.memoryMiB]), [['a', 64], ['b', 128]]);
  assert.deepEqual(r.sourceOf, { a: '/etc/vm.conf:4', b: '/etc/vm.conf:5' });
  assert.deepEqual(r.sources, ['/etc/vm.conf']);
});

test('restart-on-host-loss yes|no (an Ardesia extension): off unless said; an instance inherits it', () => {
  assert.equal(only(vm('restart-on-host-loss yes')).restartOnHostLoss, true);
  assert.equal(only(vm('restart-on-host-loss no')).restartOnHostLoss, false);
  assert.equal(only(vm('memory 64M')).restartOnHostLoss, undefined);
  assert.throws(() => parseWith(vm('restart-on-host-loss maybe')), /restart-on-host-loss takes yes or no, not "maybe"/);
  assert.throws(() => parseWith(vm('restart-on-host-loss yes\nrestart-on-host-loss no')), /restart-on-host-loss is given twice/);
  const r = parseWith('vm "p" {\n restart-on-host-loss yes\n allow instance { memory }\n}\nvm "p" instance "i" {\n memory 64M\n}\n');
  assert.deepEqual(r.vms.map((v) => [v.name, v.restartOnHostLoss]), [['p', true], ['i', true]]);
});
