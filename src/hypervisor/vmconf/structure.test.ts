// Macros, include (relative, nested, cycles) and instances with allow instance.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertVmConfError, parseWith } from './testing.js';

test('macros: unquoted $name expands, also inside a word; quotes stay literal; joined strings', () => {
  const text = [
    'dir = "/srv/vms"',
    'mem=256M',
    'kern = /k/vmlinuz',
    'name = web',
    'vm $name {',
    '\tmemory $mem',
    '\tboot $kern',
    '\tdisk $dir/root.qcow2',
    '\tdisk "$dir/literal.img"',
    '\tdisk $dir "/" $name ".img" format raw',
    '\tcmdline "console=ttyS0 root=" $name',
    '}',
  ].join('\n');
  const r = parseWith(text);
  const v = r.vms[0]!;
  assert.equal(v.name, 'web');
  assert.equal(v.memoryMiB, 256);
  assert.equal(v.boot.kernel, '/k/vmlinuz');
  assert.deepEqual(v.disks.map((d) => d.path), ['/srv/vms/root.qcow2', '/etc/$dir/literal.img', '/srv/vms/web.img']);
  assert.equal(v.boot.cmdline, 'console=ttyS0 root=web');
  assert.deepEqual(r.warnings, []);
});

test('macros: a redefinition wins from there on; an unused macro is a warning; values may use earlier macros', () => {
  const r = parseWith('m = 64M\nvm "a" {\n\tmemory $m\n}\nm = 128M\nn = $m\nvm "b" {\n\tmemory $n\n}\nunused = 1\n');
  assert.deepEqual(r.vms.map((v) => v.memoryMiB), [64, 128]);
  assert.deepEqual(r.warnings, ["/etc/vm.conf:10:1: macro 'unused' is defined but never used"]);
});

test('include: relative to the including file, nested, shares macros, errors point into the included file', () => {
  const files = {
    '/etc/vms/common.conf': 'mem = 96M\ninclude "more/web.conf"\n',
    '/etc/vms/more/web.conf': 'vm "web" {\n\tmemory $mem\n\tdisk "web.img"\n}\n',
    '/etc/vms/bad.conf': '\nvm "x" {\n\tmemory lots\n}\n',
  };
  const r = parseWith('include "vms/common.conf"\nvm "after" {\n\tmemory $mem\n}\n', files);
  assert.deepEqual(r.vms.map((v) => [v.name, v.memoryMiB]), [['web', 96], ['after', 96]]);
  assert.equal(r.vms[0]!.disks[0]!.path, '/etc/vms/more/web.img', 'relative to the file that wrote it');
  assert.deepEqual(r.sources, ['/etc/vm.conf', '/etc/vms/common.conf', '/etc/vms/more/web.conf']);
  assert.equal(r.sourceOf.web, '/etc/vms/more/web.conf:1');
  assertVmConfError(() => parseWith('include "/etc/vms/bad.conf"', files), {
    code: 'VMCONF_PARSE',
    file: '/etc/vms/bad.conf',
    line: 3,
    col: 2,
    says: 'memory "lots" is not a size',
  });
});

test('include: cycles and self-includes are detected with the chain', () => {
  const files = { '/etc/a.conf': 'include "b.conf"\n', '/etc/b.conf': '\ninclude "/etc/a.conf"\n' };
  assertVmConfError(() => parseWith('include "a.conf"', files), {
    code: 'VMCONF_PARSE',
    file: '/etc/b.conf',
    line: 2,
    col: 9,
    says: 'include cycle: /etc/a.conf → /etc/b.conf → /etc/a.conf',
  });
  assertVmConfError(() => parseWith('include "vm.conf"'), { code: 'VMCONF_PARSE', line: 1, col: 9, says: 'include cycle: /etc/vm.conf → /etc/vm.conf' });
});

const PARENT = [
  'switch "lan" {',
  '\tinterface br0',
  '}',
  'vm "base" {',
  '\tmemory 1G',
  '\tcpus 2',
  '\tboot "/k/vmlinuz"',
  '\tcmdline "quiet"',
  '\tdisk "/vm/base.qcow2"',
  '\tinterface tap5 { switch "lan"; lladdr 52:54:00:00:00:05 }',
  '\towner joe',
  '\tallow instance { memory, disk',
  '\t\towner :devs',
  '\t}',
  '}',
].join('\n').replace('; ', '\n') + '\n';

test('instances inherit from the parent except disks, lladdr and interface name', () => {
  const r = parseWith(PARENT + 'vm "base" instance "dev1" {\n\tmemory 2G\n\tdisk "/vm/dev1.qcow2"\n\towner :devs\n\tdisable\n}\n');
  const [base, dev1] = r.vms;
  assert.equal(dev1!.memoryMiB, 2048);
  assert.equal(dev1!.vcpus, 2);
  assert.deepEqual(dev1!.boot, base!.boot);
  assert.deepEqual(dev1!.disks.map((d) => d.path), ['/vm/dev1.qcow2']);
  assert.deepEqual(dev1!.nics, [{ mode: 'bridge', bridge: 'br0', model: 'virtio' }]);
  assert.deepEqual(base!.nics[0]!.mac, '52:54:00:00:00:05');
  assert.deepEqual(dev1!.owner, { group: 'devs' });
  assert.equal(dev1!.enabled, false);
  assert.deepEqual(r.instancePolicy, { base: { allow: ['memory', 'disk'], owners: [{ group: 'devs' }] } });
  const bare = parseWith(PARENT + 'vm "base" instance "clone" {\n}\n').vms[1]!;
  assert.deepEqual([bare.memoryMiB, bare.disks, bare.owner], [1024, [], { user: 'joe' }]);
});

test('instances may only override what allow instance lists', () => {
  const cases: [string, number, number, string][] = [
    ['\tcpus 4', 18, 2, 'may not set cpus: vm "base" does not list "cpus"'],
    ['\tcdrom "/x.iso"', 18, 2, 'may not set cdrom'],
    ['\tboot "/k/other"', 18, 2, 'may not set boot'],
    ['\tcmdline "debug"', 18, 2, 'may not set cmdline: vm "base" does not list "boot"'],
    ['\tinterface', 18, 2, 'may not set interface'],
    ['\tallow instance memory', 18, 2, 'may not set allow instance: vm "base" does not list "instance"'],
    ['\towner mallory', 18, 2, 'may not set owner'],
  ];
  for (const [body, line, col, says] of cases) {
    assertVmConfError(() => parseWith(PARENT + `vm "base" instance "i" {\n${body}\n}\n`), { code: 'VMCONF_PARSE', line, col, says });
  }
  assertVmConfError(() => parseWith('vm "nope" instance "i" {\n}\n'), { code: 'VMCONF_PARSE', line: 1, col: 4, says: 'vm "nope" is not defined above' });
});

test('instances of instances need allow instance { instance }', () => {
  const grand = 'vm "i1" instance "i2" {\n}\n';
  assertVmConfError(() => parseWith(PARENT + 'vm "base" instance "i1" {\n}\n' + grand), {
    code: 'VMCONF_PARSE',
    line: 19,
    col: 4,
    says: 'does not allow instances of instances',
  });
  const allowing = PARENT.replace('\tallow instance { memory, disk', '\tallow instance { memory, disk, instance');
  const r = parseWith(allowing + 'vm "base" instance "i1" {\n\tmemory 512M\n}\nvm "i1" instance "i2" {\n\tmemory 256M\n}\n');
  assert.deepEqual(r.vms.map((v) => [v.name, v.memoryMiB]), [['base', 1024], ['i1', 512], ['i2', 256]]);
});

test('an instance cannot inherit a named tap device', () => {
  const text = 'vm "p" {\n\tinterface tap3\n\tallow instance memory\n}\nvm "p" instance "c" {\n\tmemory 64M\n}\n';
  assertVmConfError(() => parseWith(text), { code: 'VMCONF_PARSE', line: 5, col: 1, says: 'would share tap device "tap3"' });
});
