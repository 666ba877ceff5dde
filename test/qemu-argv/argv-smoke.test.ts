// Real QEMU accepts every command line buildQemuLaunch renders: for each boot mode, arch and
// device choice, QEMU daemonizes paused, writes its pidfile, opens its sockets, answers QMP with
// status "prelaunch", and quits. Disks are empty images from qemu-img; kernels are memdisk (a real
// Linux boot protocol image from syslinux-common) and spec-shaped multiboot and PVH images.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { VmSpec, type VmSpecInput } from '../../src/contract/vm.js';
import {
  BOOT_IMAGE_HEAD_BYTES,
  type BootKind,
  buildQemuLaunch,
  classifyBootImage,
  DEBIAN_FIRMWARE,
  defaultTapName,
  formatArgv,
  nameHandedFiles,
  type QemuLaunch,
  type RuntimePaths,
  runtimePaths,
} from '../../src/hypervisor/qemu/argv.js';
import { closeHandedFds, openHandedFiles, qemuCommand } from '../../src/hypervisor/qemu/process.js';
import { multibootImage, pvhElfImage } from './boot-files.js';
import { RawQmp } from './raw-qmp.js';
import { addTestNamespaceSync } from '../helpers/netns.js';

const MEMDISK = '/usr/lib/syslinux/memdisk';
const SEABIOS_IMAGE = '/usr/share/seabios/bios-256k.bin';
const HAS_QEMU = existsSync('/usr/bin/qemu-system-x86_64') && existsSync('/usr/bin/qemu-img');
const HAS_OVMF32 = existsSync(DEBIAN_FIRMWARE.ovmfCode32 ?? '') && existsSync(DEBIAN_FIRMWARE.ovmfVars32Template ?? '');
const CAN_NETNS = process.getuid?.() === 0 && existsSync('/usr/sbin/ip') && existsSync('/dev/net/tun');
const EXIT_DEADLINE_MS = 20_000;

let tmp = '';
const netns = `ardargv${process.pid}`;
const startedPids = new Set<number>();

function run(cmd: string, args: string[]): ReturnType<typeof spawnSync> {
  return spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000 });
}

function qcow2(name: string): string {
  const path = join(tmp, `${name}.qcow2`);
  const made = run('qemu-img', ['create', '-q', '-f', 'qcow2', path, '64M']);
  assert.equal(made.status, 0, String(made.stderr));
  return path;
}

function file(name: string, contents: Uint8Array | string): string {
  const path = join(tmp, name);
  writeFileSync(path, contents);
  return path;
}

function readHead(path: string): Uint8Array {
  return new Uint8Array(readFileSync(path)).subarray(0, BOOT_IMAGE_HEAD_BYTES);
}

/** What the daemon does with boot.kernel: classify it, and boot BIOS images with -bios. */
function bootKindOf(path: string): BootKind {
  return classifyBootImage(readHead(path)) === 'bios' ? 'bios-image' : 'kernel';
}

function writeLaunchFiles(launch: QemuLaunch): void {
  for (const f of launch.files) {
    if (f.onlyIfMissing && existsSync(f.path)) continue;
    if (f.copyFrom) copyFileSync(f.copyFrom, f.path);
    else writeFileSync(f.path, f.contents ?? new Uint8Array());
  }
}

function isGone(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] === 'Z';
  } catch {
    return true;
  }
}

async function waitGone(pid: number): Promise<void> {
  const deadline = Date.now() + EXIT_DEADLINE_MS;
  while (!isGone(pid)) {
    if (Date.now() > deadline) throw new Error(`QEMU ${pid} did not exit`);
    await new Promise((r) => setTimeout(r, 50));
  }
  startedPids.delete(pid);
}

interface Started {
  launch: QemuLaunch;
  paths: RuntimePaths;
  pid: number;
}

/** Spawns QEMU as the daemon does: its own session, stderr on qemu.log, the handed files as fds 3, 4, … */
function spawnLaunch(launch: QemuLaunch, paths: RuntimePaths, name: string, inNetns = false): { pid: number; exited: () => number | null | undefined } {
  const fds = openHandedFiles(name, launch.handed);
  const logFd = openSync(paths.log, 'w');
  let code: number | null | undefined;
  try {
    const [cmd, ...args] = [...(inNetns ? ['ip', 'netns', 'exec', netns] : []), ...qemuCommand(launch.binary, launch.args, launch.handed, undefined)];
    const child = spawn(cmd!, args, { detached: true, stdio: ['ignore', logFd, logFd, ...fds.map((fd) => fd ?? 'ignore')] });
    child.once('exit', (c) => (code = c));
    child.unref();
    return { pid: child.pid!, exited: () => code };
  } finally {
    closeHandedFds(fds);
    closeSync(logFd);
  }
}

/** Builds and runs the launch; asserts QEMU accepted it (its QMP greeting, pidfile, sockets). */
async function start(name: string, input: Omit<VmSpecInput, 'name'>, opts: { bootKind?: BootKind; inNetns?: boolean; dir?: string } = {}): Promise<Started> {
  const spec = VmSpec.parse({ name, memoryMiB: 64, ...input });
  const paths = runtimePaths(opts.dir ?? join(tmp, name));
  mkdirSync(paths.dir, { recursive: true });
  const launch = buildQemuLaunch(spec, { paths, accel: 'tcg', firmware: DEBIAN_FIRMWARE, bootKind: opts.bootKind });
  writeLaunchFiles(launch);
  const child = spawnLaunch(launch, paths, name, opts.inNetns);
  startedPids.add(child.pid);
  const deadline = Date.now() + EXIT_DEADLINE_MS * 3;
  // QEMU makes its sockets during initialisation; it greets on QMP once that finished (checkAndQuit reads the greeting).
  while (![paths.qmp, paths.serial, paths.vnc, paths.guest, paths.qmpFd, paths.pidfile].every((f) => existsSync(f))) {
    assert.equal(child.exited(), undefined, `QEMU refused:\n${readFileSync(paths.log, 'utf8')}\n${formatArgv(launch.args)}`);
    assert.ok(Date.now() < deadline, `QEMU made no sockets:\n${readFileSync(paths.log, 'utf8')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  for (const socket of [paths.qmp, paths.serial, paths.vnc, paths.guest, paths.qmpFd]) assert.ok(statSync(socket).isSocket(), socket);
  assert.equal(Number.parseInt(readFileSync(paths.pidfile, 'utf8'), 10), child.pid);
  return { launch, paths, pid: child.pid };
}

/** QMP handshake, paused status, an optional look at the machine, then quit. */
async function checkAndQuit(vm: Started, inspect?: (qmp: RawQmp) => Promise<void>): Promise<void> {
  const { qmp, greeting } = await RawQmp.open(vm.paths.qmp);
  try {
    assert.ok('QMP' in greeting, JSON.stringify(greeting));
    assert.deepEqual(await qmp.execute('qmp_capabilities'), { return: {} });
    const status = (await qmp.execute('query-status')).return as { status: string; running: boolean };
    assert.equal(status.status, 'prelaunch');
    assert.equal(status.running, false);
    if (inspect) await inspect(qmp);
    assert.deepEqual(await qmp.execute('quit'), { return: {} });
  } finally {
    qmp.close();
  }
  await waitGone(vm.pid);
}

async function blockDevices(qmp: RawQmp): Promise<Map<string, { ro: boolean; file: string }>> {
  const reply = (await qmp.execute('query-named-block-nodes', { flat: true })).return as Array<{ 'node-name': string; ro: boolean; file: string }>;
  return new Map(reply.map((n) => [n['node-name'], { ro: n.ro, file: n.file }]));
}

describe('QEMU accepts the built command lines', { skip: HAS_QEMU ? false : 'qemu-system-x86 and qemu-utils are not installed' }, () => {
  before(() => {
    tmp = mkdtempSync('/tmp/aqa-');
  });

  after(() => {
    for (const pid of startedPids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    if (CAN_NETNS) run('ip', ['netns', 'delete', netns]);
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('classifies the real and spec-shaped boot files it uses', () => {
    if (existsSync(MEMDISK)) assert.equal(classifyBootImage(readHead(MEMDISK)), 'bzimage');
    assert.equal(classifyBootImage(readHead(SEABIOS_IMAGE)), 'bios');
    assert.equal(classifyBootImage(readHead(DEBIAN_FIRMWARE.ovmfCode)), 'bios');
    assert.equal(classifyBootImage(multibootImage()), 'multiboot');
    assert.equal(classifyBootImage(pvhElfImage()), 'elf');
  });

  it('direct kernel, amd64: bzImage + initrd + cmdline, virtio disk, user NIC', { skip: !existsSync(MEMDISK) && 'syslinux-common (memdisk) missing' }, async () => {
    const vm = await start('k64', {
      boot: { kernel: MEMDISK, initrd: file('initrd.img', 'initrd bytes'), cmdline: 'console=ttyS0' },
      disks: [{ path: qcow2('k64') }],
      nics: [{}],
    }, { bootKind: bootKindOf(MEMDISK) });
    await checkAndQuit(vm);
  });

  it('direct kernel, i386 (qemu-system-i386)', { skip: !existsSync(MEMDISK) && 'syslinux-common (memdisk) missing' }, async () => {
    const vm = await start('k32', { arch: 'i386', boot: { kernel: MEMDISK, cmdline: 'console=ttyS0' } });
    assert.equal(vm.launch.binary, 'qemu-system-i386');
    await checkAndQuit(vm);
  });

  it('direct kernel: multiboot and PVH ELF images', async () => {
    const multiboot = file('multiboot.bin', multibootImage());
    await checkAndQuit(await start('mb', { boot: { kernel: multiboot } }, { bootKind: bootKindOf(multiboot) }));
    const elf = file('pvh.elf', pvhElfImage());
    await checkAndQuit(await start('pvh', { boot: { kernel: elf } }, { bootKind: bootKindOf(elf) }));
  });

  it('BIOS, disk boot: legacy IDE disks + cdrom, e1000', async () => {
    const vm = await start('bdisk', {
      disks: [{ path: qcow2('bdisk0'), bus: 'ide' }, { path: file('raw.img', new Uint8Array(1 << 20)), format: 'raw', bus: 'ide', serial: 'RAW1' }],
      cdrom: file('empty.iso', new Uint8Array(1 << 20)),
      nics: [{ model: 'e1000' }],
    });
    await checkAndQuit(vm);
  });

  it('BIOS, cdrom boot: AHCI + virtio-scsi disks with serials, read-only base, rtl8139', async () => {
    const base = qcow2('base');
    const vm = await start('bcd', {
      disks: [{ path: qcow2('bcd-ahci'), bus: 'ahci' }, { path: qcow2('bcd-scsi'), bus: 'scsi', serial: 'home-1' }, { path: base, readonly: true }],
      cdrom: join(tmp, 'empty.iso'),
      boot: { device: 'cdrom' },
      nics: [{ model: 'rtl8139' }],
    });
    await checkAndQuit(vm, async (qmp) => {
      const nodes = await blockDevices(qmp);
      assert.equal(nodes.get('disk2')?.ro, true, 'read-only disk');
      assert.equal(nodes.get('disk0')?.ro, false);
      assert.equal(nodes.get('cd0')?.ro, true, 'cdrom');
    });
  });

  it('UEFI, amd64: OVMF 4M code + per-VM vars copy, IDE disk on q35 AHCI', async () => {
    const vm = await start('uefi64', { boot: { firmware: 'uefi' }, disks: [{ path: qcow2('uefi64') }, { path: qcow2('uefi64b'), bus: 'ide' }] });
    assert.equal(statSync(join(vm.paths.dir, 'efivars.fd')).size, statSync(DEBIAN_FIRMWARE.ovmfVarsTemplate).size);
    await checkAndQuit(vm, async (qmp) => {
      const nodes = await blockDevices(qmp);
      assert.equal(nodes.get('ovmf-code')?.ro, true);
      assert.equal(nodes.get('ovmf-vars')?.ro, false);
    });
  });

  it('UEFI, i386: OVMF32 secure boot with SMM', { skip: !HAS_OVMF32 && 'ovmf-ia32 is not installed' }, async () => {
    await checkAndQuit(await start('uefi32', { arch: 'i386', boot: { firmware: 'uefi' }, cdrom: join(tmp, 'empty.iso') }));
  });

  it('UEFI + direct kernel', { skip: !existsSync(MEMDISK) && 'syslinux-common (memdisk) missing' }, async () => {
    await checkAndQuit(await start('uefik', { boot: { firmware: 'uefi', kernel: MEMDISK, cmdline: 'console=ttyS0' } }));
  });

  it('network boot with QEMU TFTP, NIC first in the boot order', async () => {
    mkdirSync(join(tmp, 'tftp'), { recursive: true });
    await checkAndQuit(await start('pxe', { boot: { device: 'net' }, nics: [{ tftpRoot: join(tmp, 'tftp'), bootFile: 'undionly.kpxe' }] }));
  });

  it('a BIOS image given as the kernel boots with -bios; boot.bios too', async () => {
    assert.equal(bootKindOf(SEABIOS_IMAGE), 'bios-image');
    await checkAndQuit(await start('bimg', { boot: { kernel: SEABIOS_IMAGE } }, { bootKind: 'bios-image' }));
    await checkAndQuit(await start('bcustom', { boot: { bios: '/usr/share/seabios/bios.bin' } }));
  });

  it('commas in the runtime folder, disk, kernel and initrd paths', { skip: !existsSync(MEMDISK) && 'syslinux-common (memdisk) missing' }, async () => {
    const dir = join(tmp, 'a,b');
    mkdirSync(dir);
    const kernel = join(dir, 'ker,nel');
    copyFileSync(MEMDISK, kernel);
    const vm = await start('comma', {
      boot: { kernel, initrd: file('init,rd', 'x'), cmdline: 'a=b,c' },
      disks: [{ path: qcow2('dis,k') }],
    }, { dir: join(dir, 'run,time') });
    await checkAndQuit(vm, async (qmp) => {
      // The disk is handed as an fdset: the comma in its name never reaches QEMU's options.
      assert.match((await blockDevices(qmp)).get('disk0')?.file ?? '', /^\/dev\/fdset\/\d+$/);
      assert.ok(vm.launch.handed.some((f) => f.path === join(tmp, 'dis,k.qcow2')));
    });
  });

  it('bridge and tap NICs open tap devices (in a private network namespace)', { skip: !CAN_NETNS && 'needs root, iproute2 and /dev/net/tun' }, async () => {
    addTestNamespaceSync(netns);
    const vm = await start('taps', { nics: [{ mode: 'bridge', bridge: 'br0' }, { mode: 'tap', ifname: 'ardtap1', model: 'e1000' }] }, { inNetns: true });
    for (const ifname of [defaultTapName('taps', 0), 'ardtap1']) {
      assert.equal(run('ip', ['-n', netns, 'link', 'show', ifname]).status, 0, `${ifname} exists`);
    }
    await checkAndQuit(vm);
  });

  it('start errors come back synchronously: a disk in use by another VM', async () => {
    const shared = qcow2('shared');
    const first = await start('lock1', { disks: [{ path: shared }] });
    const paths = runtimePaths(join(tmp, 'lock2'));
    mkdirSync(paths.dir);
    const second = buildQemuLaunch(VmSpec.parse({ name: 'lock2', memoryMiB: 64, disks: [{ path: shared }] }), {
      paths,
      accel: 'tcg',
      firmware: DEBIAN_FIRMWARE,
    });
    writeLaunchFiles(second);
    const child = spawnLaunch(second, paths, 'lock2');
    const deadline = Date.now() + EXIT_DEADLINE_MS;
    while (child.exited() === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(child.exited(), 1, 'QEMU exits 1 once it failed to start');
    // The disk is a handed fdset: QEMU names /dev/fdset/N; the daemon puts the path back (nameHandedFiles).
    assert.match(nameHandedFiles(readFileSync(paths.log, 'utf8'), second.handed), new RegExp(`Failed to get "write" lock[\\s\\S]*${shared.replaceAll('/', '\\/')}`));
    await checkAndQuit(first);
  });

  it('late messages land in qemu.log (its stderr) while it runs detached', async () => {
    const vm = await start('logd', {});
    const { qmp } = await RawQmp.open(vm.paths.qmp);
    qmp.close();
    process.kill(vm.pid, 'SIGTERM');
    await waitGone(vm.pid);
    assert.match(readFileSync(vm.paths.log, 'utf8'), /terminating on signal 15/);
  });
});
