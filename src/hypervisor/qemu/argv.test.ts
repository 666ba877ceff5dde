// Table tests of the QEMU command line per boot mode, arch and device choice, comparing the
// rendered text (one flag per line) as Incus does for its QEMU config templates.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ArdesiaError } from '../../contract/errors.js';
import { VmSpec, type VmSpecInput } from '../../contract/vm.js';
import { buildQemuLaunch, DEBIAN_FIRMWARE, defaultMac, defaultTapName, formatArgv, type LaunchContext, nameHandedFiles, QEMU_SANDBOX, type QemuLaunch, runtimePaths } from './argv.js';

/** The command line with each handed file (/dev/fdset/N, /proc/self/fd/K) named by its path and the -add-fd lines
 *  left out: what QEMU is given to open, read as files (the handing itself has its own tests below). */
function named(result: QemuLaunch): string {
  const args = result.args.filter((a, i, all) => a !== '-add-fd' && all[i - 1] !== '-add-fd');
  // A tap's descriptor shown as the interface native/tap-open attaches there.
  const taps = nameHandedFiles(formatArgv(args), result.handed).replace(/(-netdev tap,id=net\d+,fd=)(\d+)/g, (_m, head: string, fd: string) => {
    const tap = result.handed.find((f) => f.tap && f.fd === Number(fd));
    return `${head}${tap ? `<${tap.path}>` : fd}`;
  });
  return taps;
}

const RUN = '/run/ard/vm1';
const MAC0 = defaultMac('vm1', 0);
const MAC1 = defaultMac('vm1', 1);

interface Expected {
  binary?: string;
  boot: string[];
  accel?: string[];
  devices: string[];
  dir?: string;
}

/** The full expected text: the lines every VM has, around the lines a case is about. */
function expectedText({ boot, accel, devices, dir = RUN }: Expected, memory = '256M', smp = '1'): string {
  const esc = dir.replaceAll(',', ',,');
  return [
    '-name guest=vm1,debug-threads=on',
    '-nodefaults',
    '-no-user-config',
    '-S',
    `-sandbox ${QEMU_SANDBOX}`,
    `-pidfile ${dir}/qemu.pid`,
    ...boot,
    ...(accel ?? ['-accel tcg,tb-size=64', '-cpu max']),
    `-m ${memory}`,
    `-smp ${smp}`,
    '-rtc base=utc',
    `-chardev socket,id=qmp0,path=${esc}/qmp.sock,server=on,wait=off`,
    '-mon chardev=qmp0,mode=control',
    `-chardev socket,id=qmpfd0,path=${esc}/qmp-fd.sock,server=on,wait=off`,
    '-mon chardev=qmpfd0,mode=control',
    `-chardev socket,id=serial0,path=${esc}/serial.sock,server=on,wait=off`,
    '-serial chardev:serial0',
    '-device VGA,id=video0',
    '-device virtio-tablet-pci,id=tablet0',
    '-device virtio-keyboard-pci,id=keyboard0',
    '-display none',
    `-vnc unix:${esc}/vnc.sock`,
    '-device virtio-serial-pci,id=vser0',
    `-chardev socket,id=guest0,path=${esc}/guest.sock,server=on,wait=off`,
    '-device virtserialport,id=guest0-port,bus=vser0.0,chardev=guest0,name=org.ardesia.guest.0',
    '-chardev qemu-vdagent,id=vdagent0,name=vdagent,clipboard=on,mouse=off',
    '-device virtserialport,id=vdagent0-port,bus=vser0.0,chardev=vdagent0,name=com.redhat.spice.0',
    ...devices,
  ].join('\n');
}

function launch(input: Omit<VmSpecInput, 'name'>, ctx: Partial<LaunchContext> = {}, dir = RUN) {
  const spec = VmSpec.parse({ name: 'vm1', memoryMiB: 256, ...input });
  return buildQemuLaunch(spec, { paths: runtimePaths(dir), accel: 'tcg', firmware: DEBIAN_FIRMWARE, ...ctx });
}

/** Every q35 VM has one empty PCIe root port for the home volume's hot-plug. */
const Q35_HOTPLUG_PORT = '-device pcie-root-port,id=hotplug0,chassis=1';
const SEABIOS = ['-machine pc', `-fw_cfg name=etc/sercon-port,file=${RUN}/sercon-port`];
const SERCON_FILE = { path: `${RUN}/sercon-port`, contents: new Uint8Array([0xf8, 0x03]) };
const VARS_FILE = { path: `${RUN}/efivars.fd`, copyFrom: '/usr/share/OVMF/OVMF_VARS_4M.fd', onlyIfMissing: true };
const ROOT_DISK = '-blockdev node-name=disk0,driver=qcow2,read-only=off,discard=unmap,file.driver=file,file.filename=/d/root.qcow2';
const USER_NIC = ['-netdev user,id=net0', `-device virtio-net-pci,id=net0-dev,netdev=net0,mac=${MAC0}`];

interface ModeCase {
  name: string;
  input: Omit<VmSpecInput, 'name'>;
  ctx?: Partial<LaunchContext>;
  binary: string;
  expected: Expected;
  files: unknown[];
}

const MODES: ModeCase[] = [
  {
    name: 'direct kernel, amd64',
    input: {
      boot: { kernel: '/k/vmlinuz', initrd: '/k/initrd', cmdline: 'console=ttyS0 root=/dev/vda' },
      disks: [{ path: '/d/root.qcow2' }],
      nics: [{}],
    },
    binary: 'qemu-system-x86_64',
    expected: {
      boot: [...SEABIOS, '-kernel /k/vmlinuz', '-initrd /k/initrd', '-append console=ttyS0 root=/dev/vda'],
      devices: [ROOT_DISK, '-device virtio-blk-pci,id=disk0-dev,drive=disk0', ...USER_NIC],
    },
    files: [SERCON_FILE],
  },
  {
    name: 'a desktop: free page reporting, its balloon after every other device',
    input: { boot: { kernel: '/k/vmlinuz', cmdline: 'console=ttyS0' }, disks: [{ path: '/d/root.qcow2' }], nics: [{}], freePageReporting: true },
    binary: 'qemu-system-x86_64',
    expected: {
      boot: [...SEABIOS, '-kernel /k/vmlinuz', '-append console=ttyS0'],
      devices: [ROOT_DISK, '-device virtio-blk-pci,id=disk0-dev,drive=disk0', ...USER_NIC, '-device virtio-balloon-pci,id=balloon0,free-page-reporting=on'],
    },
    files: [SERCON_FILE],
  },
  {
    name: 'direct kernel, i386',
    input: { arch: 'i386', boot: { kernel: '/k/vmlinuz-686', cmdline: 'console=ttyS0' } },
    binary: 'qemu-system-i386',
    expected: { boot: [...SEABIOS, '-kernel /k/vmlinuz-686', '-append console=ttyS0'], devices: [] },
    files: [SERCON_FILE],
  },
  {
    name: 'BIOS, boot from disk, KVM',
    input: { disks: [{ path: '/d/root.qcow2' }] },
    ctx: { accel: 'kvm' },
    binary: 'qemu-system-x86_64',
    expected: {
      boot: SEABIOS,
      accel: ['-accel kvm', '-cpu Nehalem'],
      devices: [ROOT_DISK, '-device virtio-blk-pci,id=disk0-dev,drive=disk0,bootindex=1'],
    },
    files: [SERCON_FILE],
  },
  {
    name: 'BIOS, boot from cdrom before the disk',
    input: { disks: [{ path: '/d/root.qcow2' }], cdrom: '/iso/install.iso', boot: { device: 'cdrom' } },
    binary: 'qemu-system-x86_64',
    expected: {
      boot: SEABIOS,
      devices: [
        ROOT_DISK,
        '-device virtio-blk-pci,id=disk0-dev,drive=disk0,bootindex=2',
        '-blockdev node-name=cd0,driver=raw,read-only=on,file.driver=file,file.filename=/iso/install.iso',
        '-device ide-cd,id=cd0-dev,drive=cd0,bus=ide.0,unit=0,bootindex=1',
      ],
    },
    files: [SERCON_FILE],
  },
  {
    name: 'UEFI, amd64, disk',
    input: { boot: { firmware: 'uefi' }, disks: [{ path: '/d/root.qcow2' }] },
    binary: 'qemu-system-x86_64',
    expected: {
      boot: [
        '-machine q35,pflash0=ovmf-code,pflash1=ovmf-vars',
        '-blockdev node-name=ovmf-code,driver=raw,read-only=on,file.driver=file,file.filename=/usr/share/OVMF/OVMF_CODE_4M.fd',
        `-blockdev node-name=ovmf-vars,driver=raw,read-only=off,file.driver=file,file.filename=${RUN}/efivars.fd`,
      ],
      devices: [Q35_HOTPLUG_PORT, ROOT_DISK, '-device virtio-blk-pci,id=disk0-dev,drive=disk0,bootindex=1'],
    },
    files: [VARS_FILE],
  },
  {
    name: 'UEFI, i386 (secure-boot OVMF32 needs SMM)',
    input: { arch: 'i386', boot: { firmware: 'uefi' }, cdrom: '/iso/x.iso' },
    binary: 'qemu-system-i386',
    expected: {
      boot: [
        '-machine q35,smm=on,pflash0=ovmf-code,pflash1=ovmf-vars',
        '-global driver=cfi.pflash01,property=secure,value=on',
        '-blockdev node-name=ovmf-code,driver=raw,read-only=on,file.driver=file,file.filename=/usr/share/OVMF/OVMF32_CODE_4M.secboot.fd',
        `-blockdev node-name=ovmf-vars,driver=raw,read-only=off,file.driver=file,file.filename=${RUN}/efivars.fd`,
      ],
      devices: [
        Q35_HOTPLUG_PORT,
        '-blockdev node-name=cd0,driver=raw,read-only=on,file.driver=file,file.filename=/iso/x.iso',
        '-device ide-cd,id=cd0-dev,drive=cd0,bus=ide.0,bootindex=1',
      ],
    },
    files: [{ ...VARS_FILE, copyFrom: '/usr/share/OVMF/OVMF32_VARS_4M.fd' }],
  },
  {
    name: 'network boot first, with QEMU TFTP, disk second',
    input: {
      boot: { device: 'net' },
      disks: [{ path: '/d/root.qcow2' }],
      nics: [{ tftpRoot: '/srv/tftp', bootFile: 'undionly.kpxe' }, { model: 'e1000' }],
    },
    binary: 'qemu-system-x86_64',
    expected: {
      boot: SEABIOS,
      devices: [
        ROOT_DISK,
        '-device virtio-blk-pci,id=disk0-dev,drive=disk0,bootindex=3',
        '-netdev user,id=net0,tftp=/srv/tftp,bootfile=undionly.kpxe',
        `-device virtio-net-pci,id=net0-dev,netdev=net0,mac=${MAC0},bootindex=1`,
        '-netdev user,id=net1',
        `-device e1000,id=net1-dev,netdev=net1,mac=${MAC1},bootindex=2`,
      ],
    },
    files: [SERCON_FILE],
  },
  {
    name: 'BIOS image given as the kernel → -bios',
    input: { boot: { kernel: '/fw/custom-bios.bin' } },
    ctx: { bootKind: 'bios-image' },
    binary: 'qemu-system-x86_64',
    expected: { boot: ['-machine pc', '-bios /fw/custom-bios.bin', SEABIOS[1]!], devices: [] },
    files: [SERCON_FILE],
  },
  {
    name: 'custom BIOS from boot.bios, comma in its path is not escaped (-bios takes a file name)',
    input: { boot: { bios: '/fw/a,b.bin' } },
    binary: 'qemu-system-x86_64',
    expected: { boot: ['-machine pc', '-bios /fw/a,b.bin', SEABIOS[1]!], devices: [] },
    files: [SERCON_FILE],
  },
];

describe('buildQemuLaunch: boot modes', () => {
  for (const c of MODES) {
    it(c.name, () => {
      const result = launch(c.input, c.ctx);
      assert.equal(result.binary, c.binary);
      assert.equal(named(result), expectedText(c.expected));
      assert.deepEqual(result.files, c.files);
    });
  }

  it('passes memory and vCPUs through', () => {
    const text = named(launch({ memoryMiB: 2048, vcpus: 4 }));
    assert.equal(text, expectedText({ boot: SEABIOS, devices: [] }, '2048M', '4'));
  });
});

/** The rendered device section: everything after the guest channel. */
function deviceLines(input: Omit<VmSpecInput, 'name'>): string {
  const lines = named(launch(input)).split('\n');
  const lastPort = lines.map((l) => l.startsWith('-device virtserialport')).lastIndexOf(true);
  return lines.slice(lastPort + 1).join('\n');
}

const DEVICE_CASES: Array<{ name: string; input: Omit<VmSpecInput, 'name'>; expected: string[] }> = [
  {
    name: 'legacy IDE disks + cdrom on pc (PIIX master/slave)',
    input: { disks: [{ path: '/d/a.img', format: 'raw', bus: 'ide' }, { path: '/d/b.qcow2', bus: 'ide' }], cdrom: '/iso/c.iso' },
    expected: [
      '-blockdev node-name=disk0,driver=raw,read-only=off,discard=unmap,file.driver=file,file.filename=/d/a.img',
      '-device ide-hd,id=disk0-dev,drive=disk0,bootindex=1,bus=ide.0,unit=0',
      '-blockdev node-name=disk1,driver=qcow2,read-only=off,discard=unmap,file.driver=file,file.filename=/d/b.qcow2',
      '-device ide-hd,id=disk1-dev,drive=disk1,bootindex=2,bus=ide.0,unit=1',
      '-blockdev node-name=cd0,driver=raw,read-only=on,file.driver=file,file.filename=/iso/c.iso',
      '-device ide-cd,id=cd0-dev,drive=cd0,bus=ide.1,unit=0,bootindex=3',
    ],
  },
  {
    name: 'IDE disk on q35 goes to the built-in AHCI ports',
    input: { boot: { firmware: 'uefi' }, disks: [{ path: '/d/a.qcow2', bus: 'ide' }] },
    expected: [
      Q35_HOTPLUG_PORT,
      '-blockdev node-name=disk0,driver=qcow2,read-only=off,discard=unmap,file.driver=file,file.filename=/d/a.qcow2',
      '-device ide-hd,id=disk0-dev,drive=disk0,bootindex=1,bus=ide.0',
    ],
  },
  {
    name: 'explicit AHCI controller',
    input: { disks: [{ path: '/d/a.qcow2', bus: 'ahci' }, { path: '/d/b.qcow2', bus: 'ahci' }] },
    expected: [
      '-device ahci,id=ahci0',
      '-blockdev node-name=disk0,driver=qcow2,read-only=off,discard=unmap,file.driver=file,file.filename=/d/a.qcow2',
      '-device ide-hd,id=disk0-dev,drive=disk0,bootindex=1,bus=ahci0.0',
      '-blockdev node-name=disk1,driver=qcow2,read-only=off,discard=unmap,file.driver=file,file.filename=/d/b.qcow2',
      '-device ide-hd,id=disk1-dev,drive=disk1,bootindex=2,bus=ahci0.1',
    ],
  },
  {
    name: 'virtio-scsi disk with a serial',
    input: { disks: [{ path: '/d/a.qcow2', bus: 'scsi', serial: 'home-alice' }] },
    expected: [
      '-device virtio-scsi-pci,id=scsi0',
      '-blockdev node-name=disk0,driver=qcow2,read-only=off,discard=unmap,file.driver=file,file.filename=/d/a.qcow2',
      '-device scsi-hd,id=disk0-dev,drive=disk0,serial=home-alice,bootindex=1,bus=scsi0.0,scsi-id=0,lun=0',
    ],
  },
  {
    name: 'read-only base image and a virtio disk with a serial',
    input: { disks: [{ path: '/img/gold/3.qcow2', readonly: true }, { path: '/home/u.qcow2', serial: 'HOME01' }] },
    expected: [
      '-blockdev node-name=disk0,driver=qcow2,read-only=on,file.driver=file,file.filename=/img/gold/3.qcow2',
      '-device virtio-blk-pci,id=disk0-dev,drive=disk0,bootindex=1',
      '-blockdev node-name=disk1,driver=qcow2,read-only=off,discard=unmap,file.driver=file,file.filename=/home/u.qcow2',
      '-device virtio-blk-pci,id=disk1-dev,drive=disk1,serial=HOME01,bootindex=2',
    ],
  },
  {
    name: 'NIC models, modes and a given MAC',
    input: {
      nics: [
        { model: 'e1000', mac: '02:AA:BB:CC:DD:EE' },
        { mode: 'bridge', bridge: 'br0', model: 'rtl8139' },
        { mode: 'bridge', bridge: 'br0', ifname: 'tapX' },
        { mode: 'tap', ifname: 'tap7' },
      ],
    },
    expected: [
      '-netdev user,id=net0',
      '-device e1000,id=net0-dev,netdev=net0,mac=02:aa:bb:cc:dd:ee',
      `-netdev tap,id=net1,fd=<${defaultTapName('vm1', 1)}>`,
      `-device rtl8139,id=net1-dev,netdev=net1,mac=${MAC1}`,
      '-netdev tap,id=net2,fd=<tapX>',
      `-device virtio-net-pci,id=net2-dev,netdev=net2,mac=${defaultMac('vm1', 2)}`,
      '-netdev tap,id=net3,fd=<tap7>',
      `-device virtio-net-pci,id=net3-dev,netdev=net3,mac=${defaultMac('vm1', 3)}`,
    ],
  },
  {
    name: 'restricted NAT: an allow-list is plain slirp (the kernel filters its uid), no destination is restrict=on; no guestfwd',
    input: { nics: [{ restrict: true, allow: [{ host: '10.1.2.3', port: 445 }, { host: '10.1.2.4', port: 443 }] }, { restrict: true }] },
    expected: [
      '-netdev user,id=net0',
      `-device virtio-net-pci,id=net0-dev,netdev=net0,mac=${MAC0}`,
      '-netdev user,id=net1,restrict=on',
      `-device virtio-net-pci,id=net1-dev,netdev=net1,mac=${MAC1}`,
    ],
  },
  {
    name: 'a local interface and a locked bridge NIC are taps named after the VM',
    input: { nics: [{ mode: 'local', localPrefix: '100.64.0.0/10' }, { mode: 'bridge', bridge: 'br0', locked: true }] },
    expected: [
      `-netdev tap,id=net0,fd=<${defaultTapName('vm1', 0)}>`,
      `-device virtio-net-pci,id=net0-dev,netdev=net0,mac=${MAC0}`,
      `-netdev tap,id=net1,fd=<${defaultTapName('vm1', 1)}>`,
      `-device virtio-net-pci,id=net1-dev,netdev=net1,mac=${MAC1}`,
    ],
  },
  {
    name: 'commas in QEMU TFTP paths are doubled',
    input: { nics: [{ tftpRoot: '/srv/a,b', bootFile: 'x,y.kpxe' }] },
    expected: ['-netdev user,id=net0,tftp=/srv/a,,b,bootfile=x,,y.kpxe', `-device virtio-net-pci,id=net0-dev,netdev=net0,mac=${MAC0}`],
  },
];

describe('buildQemuLaunch: disks, buses and NICs', () => {
  for (const c of DEVICE_CASES) {
    it(c.name, () => assert.equal(deviceLines(c.input), c.expected.join('\n')));
  }
});

describe('buildQemuLaunch: runtime folder with a comma', () => {
  it('escapes socket paths in options but not -pidfile/-fw_cfg file names taken verbatim', () => {
    const dir = '/run/a,b/vm1';
    const result = launch({}, {}, dir);
    const sercon = '-fw_cfg name=etc/sercon-port,file=/run/a,,b/vm1/sercon-port';
    assert.equal(named(result), expectedText({ boot: ['-machine pc', sercon], devices: [], dir }));
    assert.deepEqual(result.files, [{ path: '/run/a,b/vm1/sercon-port', contents: new Uint8Array([0xf8, 0x03]) }]);
  });
});

describe('buildQemuLaunch: specs it refuses', () => {
  const REFUSED: Array<{ name: string; input: Omit<VmSpecInput, 'name'>; ctx?: Partial<LaunchContext>; code: string; message: RegExp }> = [
    { name: 'tap without ifname', input: { nics: [{ mode: 'tap' }] }, code: 'VM_SPEC_INVALID', message: /tap needs the ifname/ },
    { name: 'bridge without a bridge', input: { nics: [{ mode: 'bridge' }] }, code: 'VM_SPEC_INVALID', message: /needs a bridge name/ },
    { name: 'TFTP on a tap NIC', input: { nics: [{ mode: 'tap', ifname: 't0', tftpRoot: '/srv' }] }, code: 'VM_SPEC_INVALID', message: /need mode user/ },
    { name: 'an allow list without restrict', input: { nics: [{ allow: [{ host: '10.1.2.3', port: 80 }] }] }, code: 'VM_SPEC_INVALID', message: /only means something with restrict/ },
    { name: 'restrict on a bridge NIC', input: { nics: [{ mode: 'bridge', bridge: 'br0', restrict: true }] }, code: 'VM_SPEC_INVALID', message: /user-mode NAT options/ },
    { name: 'host access on a restricted NIC', input: { nics: [{ restrict: true, hostAccess: true }] }, code: 'VM_SPEC_INVALID', message: /host access opens unrestricted/ },
    { name: 'host access on a bridge NIC', input: { nics: [{ mode: 'bridge', bridge: 'br0', hostAccess: true }] }, code: 'VM_SPEC_INVALID', message: /host access opens unrestricted/ },
    { name: 'locked lladdr on user NAT', input: { nics: [{ locked: true }] }, code: 'VM_SPEC_INVALID', message: /needs a layer-2 port/ },
    { name: 'initrd without kernel', input: { boot: { initrd: '/k/i' } }, code: 'VM_SPEC_INVALID', message: /needs a kernel/ },
    { name: 'UEFI with a custom BIOS', input: { boot: { firmware: 'uefi', bios: '/fw/b' } }, code: 'VM_SPEC_INVALID', message: /replaces the firmware/ },
    {
      name: 'a BIOS image with an initrd',
      input: { boot: { kernel: '/fw/b', initrd: '/k/i' } },
      ctx: { bootKind: 'bios-image' },
      code: 'VM_SPEC_INVALID',
      message: /is a BIOS image/,
    },
    { name: 'a relative disk path', input: { disks: [{ path: 'disk.qcow2' }] }, code: 'VM_SPEC_INVALID', message: /disk 0 must be an absolute path/ },
    {
      name: 'five IDE devices on pc',
      input: { disks: [1, 2, 3, 4].map((n) => ({ path: `/d/${n}`, bus: 'ide' as const })), cdrom: '/iso/x' },
      code: 'VM_SPEC_INVALID',
      message: /more than 4 devices/,
    },
    {
      name: '32-bit UEFI without ovmf-ia32',
      input: { arch: 'i386', boot: { firmware: 'uefi' } },
      ctx: { firmware: { ovmfCode: '/c', ovmfVarsTemplate: '/v' } },
      code: 'FIRMWARE_UNAVAILABLE',
      message: /no 32-bit UEFI firmware/,
    },
  ];
  for (const c of REFUSED) {
    it(c.name, () => {
      assert.throws(
        () => launch(c.input, c.ctx),
        (err: unknown) => err instanceof ArdesiaError && err.code === c.code && c.message.test(err.message),
      );
    });
  }
});

describe('runtimePaths', () => {
  it('names the runtime files', () => {
    assert.deepEqual(runtimePaths('/var/lib/ardesia/runtime/vm1/'), {
      dir: '/var/lib/ardesia/runtime/vm1',
      qmp: '/var/lib/ardesia/runtime/vm1/qmp.sock',
      serial: '/var/lib/ardesia/runtime/vm1/serial.sock',
      vnc: '/var/lib/ardesia/runtime/vm1/vnc.sock',
      guest: '/var/lib/ardesia/runtime/vm1/guest.sock',
      qmpFd: '/var/lib/ardesia/runtime/vm1/qmp-fd.sock',
      pidfile: '/var/lib/ardesia/runtime/vm1/qemu.pid',
      log: '/var/lib/ardesia/runtime/vm1/qemu.log',
    });
  });
  it('refuses a relative folder and one too long for unix sockets', () => {
    assert.throws(() => runtimePaths('runtime/vm1'), /absolute/);
    assert.throws(() => runtimePaths(`/${'x'.repeat(100)}`), /too long for unix sockets/);
    assert.doesNotThrow(() => runtimePaths(`/${'x'.repeat(90)}`));
  });
});

describe('buildQemuLaunch: the clipboard agent port', () => {
  const agentLines = (input: Omit<VmSpecInput, 'name'>, ctx: Partial<LaunchContext> = {}) =>
    named(launch(input, ctx))
      .split('\n')
      .filter((l) => l.includes('vdagent0'));

  it("serves the VNC clipboard through QEMU's own agent", () => {
    assert.deepEqual(agentLines({}), [
      '-chardev qemu-vdagent,id=vdagent0,name=vdagent,clipboard=on,mouse=off',
      '-device virtserialport,id=vdagent0-port,bus=vser0.0,chardev=vdagent0,name=com.redhat.spice.0',
    ]);
  });

  it('gives the port to SPICE when the VM has a SPICE display', () => {
    assert.deepEqual(agentLines({ display: { spice: {} } }, { spicePort: 5930 }), [
      '-chardev spicevmc,id=vdagent0,name=vdagent',
      '-device virtserialport,id=vdagent0-port,bus=vser0.0,chardev=vdagent0,name=com.redhat.spice.0',
    ]);
  });
});

describe('buildQemuLaunch: free page reporting', () => {
  const balloonLines = (input: Omit<VmSpecInput, 'name'>) =>
    named(launch(input))
      .split('\n')
      .filter((l) => l.includes('balloon'));
  it('adds the balloon only when the spec asks: absent and false give the same command line', () => {
    assert.deepEqual(balloonLines({}), []);
    assert.deepEqual(balloonLines({ freePageReporting: false }), []);
    assert.equal(named(launch({ freePageReporting: false })), named(launch({})));
    assert.deepEqual(balloonLines({ freePageReporting: true }), ['-device virtio-balloon-pci,id=balloon0,free-page-reporting=on']);
  });
  it('leaves every other line where it was (a saved state restores into the same slots)', () => {
    const without = named(launch({ disks: [{ path: '/d/root.qcow2' }] })).split('\n');
    const withIt = named(launch({ disks: [{ path: '/d/root.qcow2' }], freePageReporting: true })).split('\n');
    assert.deepEqual(withIt.slice(0, without.length), without);
    assert.equal(withIt.length, without.length + 1);
  });
});

describe('buildQemuLaunch: VM generation ID', () => {
  it('adds vmgenid with guid=auto (a new GUID in every QEMU process, a clone too) last, only when the spec asks', () => {
    assert.equal(named(launch({ vmgenid: false })), named(launch({})));
    const lines = named(launch({ disks: [{ path: '/d/root.qcow2' }], freePageReporting: true, vmgenid: true })).split('\n');
    assert.equal(lines.at(-1), '-device vmgenid,id=vmgenid0,guid=auto');
    const without = named(launch({ disks: [{ path: '/d/root.qcow2' }], freePageReporting: true })).split('\n');
    assert.deepEqual(lines.slice(0, without.length), without);
  });
});

describe('runtimePaths refusals', () => {
  it('refuses a folder whose socket paths exceed the unix limit with RUNTIME_PATH_TOO_LONG, saying what to shorten', () => {
    const dir = `/var/lib/${'x'.repeat(100)}/runtime/vm1`;
    assert.throws(() => runtimePaths(dir), (err: unknown) => err instanceof ArdesiaError && err.code === 'RUNTIME_PATH_TOO_LONG' && /data folder/.test(err.hint) && err.message.includes(dir));
  });
});

describe('buildQemuLaunch: files handed as descriptors', () => {
  it('gives QEMU /dev/fdset/N for block nodes (a writable one with a read-only and a read-write fd) and /proc/self/fd/K for the kernel', () => {
    const result = launch({ boot: { kernel: '/k/vm,linuz', initrd: '/k/initrd' }, disks: [{ path: '/d/a,b.qcow2' }, { path: '/d/ro.raw', format: 'raw', readonly: true }], cdrom: '/iso/x.iso' });
    assert.deepEqual(result.handed, [
      { path: '/k/vm,linuz', writable: false, fd: 3, set: undefined, inRuntimeDir: undefined },
      { path: '/k/initrd', writable: false, fd: 4, set: undefined, inRuntimeDir: undefined },
      { path: '/d/a,b.qcow2', writable: false, fd: 5, set: 1, inRuntimeDir: undefined },
      { path: '/d/a,b.qcow2', writable: true, fd: 6, set: 1, inRuntimeDir: undefined },
      { path: '/d/ro.raw', writable: false, fd: 7, set: 2, inRuntimeDir: undefined },
      { path: '/iso/x.iso', writable: false, fd: 8, set: 3, inRuntimeDir: undefined },
    ]);
    const text = formatArgv(result.args);
    // No host path reaches QEMU's options: a comma in a file name cannot change them.
    assert.ok(!text.includes('/d/') && !text.includes('/k/') && !text.includes('/iso/'), text);
    for (const line of ['-add-fd fd=5,set=1', '-add-fd fd=6,set=1', '-add-fd fd=7,set=2', '-add-fd fd=8,set=3', '-kernel /proc/self/fd/3', '-initrd /proc/self/fd/4']) {
      assert.ok(text.split('\n').includes(line), `${line} missing:\n${text}`);
    }
    assert.ok(text.indexOf('-add-fd') < text.indexOf('-blockdev'), 'fdsets come before the nodes that use them');
  });

  it("opens a qcow2 disk's backing chain as explicit read-only nodes, base first, each naming the one below", () => {
    const chains = new Map([['/d/top.qcow2', [{ path: '/img/mid.qcow2', format: 'qcow2' as const }, { path: '/img/base.raw', format: 'raw' as const }]]]);
    const result = launch({ disks: [{ path: '/d/top.qcow2' }] }, { chains });
    const blockdevs = formatArgv(result.args).split('\n').filter((l) => l.startsWith('-blockdev'));
    assert.deepEqual(blockdevs, [
      '-blockdev node-name=disk0-b2,driver=raw,read-only=on,file.driver=file,file.filename=/dev/fdset/1',
      '-blockdev node-name=disk0-b1,driver=qcow2,read-only=on,file.driver=file,file.filename=/dev/fdset/2,backing=disk0-b2',
      '-blockdev node-name=disk0,driver=qcow2,read-only=off,discard=unmap,file.driver=file,file.filename=/dev/fdset/3,backing=disk0-b1',
    ]);
    assert.deepEqual(result.handed.map((f) => [f.path, f.writable]), [['/img/base.raw', false], ['/img/mid.qcow2', false], ['/d/top.qcow2', false], ['/d/top.qcow2', true]]);
  });

  it('opens the UEFI variable store in the runtime folder without following links', () => {
    const result = launch({ boot: { firmware: 'uefi' } });
    const vars = result.handed.filter((f) => f.path === `${RUN}/efivars.fd`);
    assert.deepEqual(vars.map((f) => [f.writable, f.inRuntimeDir]), [[false, true], [true, true]]);
  });

  it('runs QEMU under its seccomp sandbox, paused, without -daemonize (spawn=deny forbids its fork)', () => {
    const args = launch({}).args;
    assert.equal(args[args.indexOf('-sandbox') + 1], 'on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny');
    assert.ok(!args.includes('-daemonize') && !args.includes('-runas') && !args.includes('-D'));
  });

  it('keeps the sandbox for a NAT allow-list too: no command runs per connection', () => {
    const args = launch({ nics: [{ mode: 'user', restrict: true, allow: [{ host: '10.1.2.3', port: 445 }] }] }).args;
    assert.equal(args[args.indexOf('-sandbox') + 1], 'on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny');
    assert.ok(!args.some((a) => a.includes('guestfwd')));
  });
});
