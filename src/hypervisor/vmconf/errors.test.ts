// Every error case: the code, the exact line and column, and words that say why.
import { test } from 'node:test';
import { assertVmConfError, parseWith, type ExpectedError } from './testing.js';

const SW = 'switch "s" {\n\tinterface br0\n}\n'; // 3 lines

const parseErrors: [string, number, number, string][] = [
  ['vm "a" {\n\tmemry 1G\n}', 2, 2, "unknown option 'memry' in vm \"a\""],
  ['frobnicate yes', 1, 1, "unknown statement starting with 'frobnicate'"],
  ['vm "a"\n{\n}', 1, 7, "expected '{' after vm \"a\" (on the same line)"],
  ['vm "a" {\n\tmemory 1G', 1, 8, 'is never closed'],
  ['vm "a" {\n\tmemory 1G disk "/x"\n}', 2, 12, 'expected the end of the line after the memory option'],
  ['vm "a" {\n\tmemory\n}', 2, 8, 'expected a value after "memory"'],
  ['vm "a" {\n\tmemory 0\n}', 2, 2, 'memory 0 is zero, below the minimum of 16 MiB'],
  ['vm "a" {\n\tmemory 512\n}', 2, 2, 'did you mean 512M?'],
  ['vm "a" {\n\tmemory 8M\n}', 2, 2, 'memory 8M is 8 MiB, below the minimum of 16 MiB'],
  ['vm "a" {\n\tmemory 2T\n}', 2, 2, 'above the maximum of 1048576 MiB'],
  ['vm "a" {\n\tmemory 512MB\n}', 2, 2, 'memory "512MB" is not a size'],
  ['vm "a" {\n\tmemory 1G\n\tmemory 2G\n}', 3, 2, 'memory is given twice in vm "a" (first at /etc/vm.conf:2:2)'],
  ['vm "a" {\n\tcpus 0\n}', 2, 2, 'cpus 0 is out of range (1-64)'],
  ['vm "a" {\n\tcpus two\n}', 2, 2, 'cpus needs a whole number'],
  ['vm "a" {\n\tarch arm64\n}', 2, 2, 'arch "arm64" is not one of amd64, i386'],
  ['vm "a" {\n\taccel hvf\n}', 2, 2, 'accel "hvf" is not one of auto, kvm, tcg'],
  ['vm "a" {\n\tfirmware coreboot\n}', 2, 2, 'firmware "coreboot" is not one of bios, uefi'],
  ['vm "a" {\n\tdisk "/x" format vmdk\n}', 2, 2, 'format "vmdk" is not one of qcow2, raw'],
  ['vm "a" {\n\tdisk "/x" bus usb\n}', 2, 2, 'bus "usb" is not one of virtio, ide, ahci, scsi'],
  ['vm "a" {\n\tdisk "/x" format raw format raw\n}', 2, 23, '"format" is given twice'],
  ['vm "a" {\n\tboot device floppy\n}', 2, 2, 'boot device "floppy" is not one of cdrom, disk, net'],
  ['vm "a" {\n\tboot device cdrom\n}', 2, 2, 'boot device cdrom but vm "a" has no cdrom'],
  ['vm "a" {\n\tboot device disk\n}', 2, 2, 'boot device disk but vm "a" has no disk'],
  ['vm "a" {\n\tboot device net\n}', 2, 2, 'boot device net but vm "a" has no interface'],
  ['vm "a" {\n\tinitrd "/i"\n}', 2, 2, 'initrd needs a kernel'],
  ['vm "a" {\n\tcmdline "quiet"\n}', 2, 2, 'cmdline needs a kernel'],
  ['vm "a" {\n\tcdrom "/a"\n\tcdrom "/b"\n}', 3, 2, 'cdrom is given twice'],
  ['vm "a" {\n\towner a:b:c\n}', 2, 2, 'owner "a:b:c" is not user, user:group or :group'],
  ['vm "a" {\n\tinterfaces 9\n}', 2, 2, 'interfaces 9 is out of range (0-8)'],
  ['vm "a" {\n\tinterface { lladdr 52:54:00:00:00 }\n}', 2, 14, 'is not a MAC address'],
  ['vm "a" {\n\tinterface { model ne2k }\n}', 2, 14, 'model "ne2k" is not one of virtio, e1000, rtl8139'],
  ['vm "a" {\n\tinterface { colour blue }\n}', 2, 14, "unknown interface option 'colour'"],
  ['vm "a" {\n\tinterface { switch "nope" }\n}', 2, 14, 'no switch named "nope" is defined'],
  ['vm "a" {\n\tinterface averyveryverylongtap\n}', 2, 12, 'is not a Linux interface name'],
  [SW + 'vm "a" {\n\tinterface { switch "s"\n\tbridge "br1" }\n}', 6, 2, 'either switch or bridge, not both'],
  [SW + 'vm "a" {\n\tinterface { switch "s"\n\tswitch "s" }\n}', 6, 2, 'switch is given twice for this interface'],
  ['switch "d" {\n\tinterface br0\n\tdisable\n}\nvm "a" {\n\tinterface switch "d"\n}', 6, 12, 'switch "d" is disabled'],
  ['switch "x" {\n\tlocked lladdr\n}', 1, 1, 'switch "x" has no interface'],
  ['switch "x" {\n\tinterface br0\n\tinterface br1\n}', 3, 2, 'a second interface'],
  [SW + SW, 4, 8, 'switch "s" is already defined at /etc/vm.conf:1'],
  ['switch "x" {\n\tcolour red\n}', 2, 2, "unknown option 'colour' in switch \"x\""],
  ['vm "a" {\n\tmemory 64M\n}\nvm "a" {\n\tmemory 64M\n}', 4, 4, 'vm "a" is already defined at /etc/vm.conf:1:1'],
  ['vm "-bad" {\n\tmemory 64M\n}', 1, 4, 'name: a name is 1-63 letters'],
  ['vm "a" {\n\tallow instance { reboot }\n}', 2, 19, 'expected an allow instance option'],
  ['vm "a" {\n\tallow instance { memory', 2, 17, "the '{' of allow instance is never closed"],
  ['memory = 5', 1, 1, "macro name 'memory' is a reserved word"],
  ['"my-mac" = 5', 1, 1, "macro name 'my-mac' may only contain"],
  ['vm "a" {\n\tboot $kernel\n}', 2, 7, "macro 'kernel' is not defined"],
  ['x = \nvm "a" {}', 1, 5, 'expected a value after "x ="'],
  ['local prefix 10.0.0.0/24', 1, 1, 'with a length of 1 to 16'],
  ['local prefix 10.0.0.1/16', 1, 1, 'has host bits set'],
  ['local inet6 prefix 10.0.0.0/8', 1, 1, 'is not an IPv6 address'],
  ['local frobs', 1, 7, "expected 'inet6' or \"prefix\""],
  ['staggered start parallel 0 delay 30', 1, 1, 'staggered start parallel 0 is out of range'],
  ['staggered start delay 30', 1, 17, "expected 'parallel'"],
  ['include "missing.conf"', 1, 9, 'cannot read included file /etc/missing.conf'],
];

test('VMCONF_PARSE errors name file, line and column', () => {
  for (const [text, line, col, says] of parseErrors) {
    const want: ExpectedError = { code: 'VMCONF_PARSE', line, col, says };
    try {
      assertVmConfError(() => parseWith(text), want);
    } catch (err) {
      throw new Error(`case ${JSON.stringify(text)}: ${(err as Error).message}`);
    }
  }
});

const unsupported: [string, number, number, string, string][] = [
  ['socket owner _vmd:_vmd', 1, 1, 'socket owner', 'users and roles'],
  ['agentx context "vm" path "/var/agentx/master"', 1, 1, 'agentx', 'Prometheus'],
  ['vm "a" {\n\tsev\n}', 2, 2, 'sev', 'AMD SEV'],
  ['vm "a" {\n\tseves\n}', 2, 2, 'seves', 'AMD SEV'],
  ['vm "a" {\n\tinterface { group "vms" }\n}', 2, 14, 'group', 'interface groups'],
  ['vm "a" {\n\tinterface { rdomain 1 }\n}', 2, 14, 'rdomain', 'routing domains'],
  ['vm "a" {\n\tinterface { down }\n}', 2, 14, 'down', 'link up'],
  ['vm "a" {\n\tinterface { locked lladdr }\n}', 2, 14, 'locked lladdr', 'user-mode NAT'],
  ['switch "s" {\n\tinterface br0\n\tgroup "vms"\n}', 3, 2, 'group', 'interface groups'],
  ['switch "s" {\n\tinterface br0\n\trdomain 2\n}', 3, 2, 'rdomain', 'routing domains'],
  ['switch "s" {\n\tinterface br0\n\tdown\n}', 3, 2, 'down', 'ip link'],
  ['switch "s" {\n\tinterface veb0\n}', 2, 2, 'interface veb0', 'OpenBSD switch devices'],
  ['vm "a" {\n\tboot "/k/vmlinuz"\n\tboot device net\n}', 3, 2, 'boot device net', 'simulated network boot'],
];

test('VMCONF_UNSUPPORTED errors name the option, line, column and why', () => {
  for (const [text, line, col, option, why] of unsupported) {
    assertVmConfError(() => parseWith(text), { code: 'VMCONF_UNSUPPORTED', line, col, says: `"${option}" is not supported: ` });
    assertVmConfError(() => parseWith(text), { code: 'VMCONF_UNSUPPORTED', line, col, says: why });
  }
});

test('a switch interface that exists but is not a bridge is refused', () => {
  assertVmConfError(() => parseWith('switch "s" {\n\tinterface eth0\n}', {}, { interfaceKind: () => 'other' }), {
    code: 'VMCONF_UNSUPPORTED',
    line: 2,
    col: 2,
    says: 'eth0 exists but is not a Linux bridge',
  });
});
