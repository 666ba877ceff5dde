// The QEMU command line of a VM, as a pure function of its spec and a runtime context: no files
// are read or written here; the files the runtime folder must hold are returned for the caller.
//
// QEMU runs unprivileged and under its seccomp sandbox (spawn=deny forbids fork, so no -daemonize: the
// daemon starts it in its own session). Its messages, early and late, go to its stderr, which is
// qemu.log opened by the daemon; it opens no host file by name (handed-files.ts).
import { posix } from 'node:path';
import { ArdesiaError } from '../../contract/errors.js';
import type { VmSpec } from '../../contract/vm.js';
import { type BootKind, bootIndexes, bootPlan, type FirmwarePaths, type LaunchFile } from './boot-args.js';
import { nicArgs } from './network-args.js';
import { escapeOptionValue, renderOption } from './qemu-options.js';
import { HandedFiles, type HandedFile } from './handed-files.js';
import { type BackingChains, type MachineType, storageArgs } from './storage-args.js';
import { spiceArgs } from './spice-args.js';

export { classifyBootImage, BOOT_IMAGE_HEAD_BYTES, type BootImageKind } from './boot-image.js';
export { DEBIAN_FIRMWARE, EFI_VARS_FILE, SERCON_PORT_FILE, type BootKind, type FirmwarePaths, type LaunchFile } from './boot-args.js';
export { defaultMac, defaultTapName } from './network-args.js';
export { escapeOptionValue, formatArgv } from './qemu-options.js';
export { type HandedFile, nameHandedFiles } from './handed-files.js';
export type { BackingChains, BackingImage } from './storage-args.js';

export interface RuntimePaths {
  dir: string;
  qmp: string;
  serial: string;
  vnc: string;
  guest: string;
  /** A second QMP monitor, used only to pass descriptors (SCM_RIGHTS) for files opened after the start. */
  qmpFd: string;
  pidfile: string;
  log: string;
}

export interface QemuLaunch {
  binary: string;
  args: string[];
  files: LaunchFile[];
  /** Opened by the daemon in this order as fds 3, 4, …: QEMU opens no host file by name. */
  handed: HandedFile[];
  /** Programs that exec the rest of the chain with the same pid, run before setpriv (the sanlock registration). */
  prefix?: string[] | undefined;
}

export interface LaunchContext {
  paths: RuntimePaths;
  accel: 'kvm' | 'tcg';
  firmware: FirmwarePaths;
  /** What boot.kernel is (from classifyBootImage); 'kernel' when not given. */
  bootKind?: BootKind;
  /** The SPICE port, chosen by the caller before the launch when the spec has a SPICE display. */
  spicePort?: number;
  /** The backing chains of the qcow2 disks, read by the caller from their headers. */
  chains?: BackingChains;
  /** SPICE's TLS credentials folder (x509-dir), made by the caller when SPICE listens off loopback. */
  spiceX509Dir?: string;
}

/** QEMU's seccomp filter: no obsolete syscalls, no set*id, no fork/exec, no scheduler or cgroup changes. */
export const QEMU_SANDBOX = 'on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny';

/** The virtio-serial port the guest helper opens (/dev/virtio-ports/org.ardesia.guest.0). */
export const GUEST_CHANNEL_NAME = 'org.ardesia.guest.0';
/** Caps TCG's translated-code buffer at 64 MiB: ~44 MiB resident instead of 1 GiB reserved. */
export const TCG_TB_SIZE_MIB = 64;
/** Linux's limit for a unix socket path (sun_path less the NUL). */
export const MAX_UNIX_SOCKET_PATH = 107;

const QEMU_BINARY: Record<VmSpec['arch'], string> = { amd64: 'qemu-system-x86_64', i386: 'qemu-system-i386' };

/**
 * CPU model. TCG: `max`, every feature TCG emulates, so x86-64-v2+ guests run. KVM: a named model,
 * because `host`/`max` copy the host's MSRs and fail on nested/paravirtualised hosts ("failed to
 * set MSR 0x10a"), and a named model keeps a VM identical across hosts. Nehalem is x86-64-v2
 * (SSE4.2, POPCNT, CX16), which current distributions need and every VT-x/AMD-V host has.
 */
export function cpuModel(accel: 'kvm' | 'tcg'): string {
  return accel === 'tcg' ? 'max' : 'Nehalem';
}

/** The runtime folder's files; QEMU chdirs to / when it detaches, so the folder must be absolute. */
export function runtimePaths(runtimeDir: string): RuntimePaths {
  if (!posix.isAbsolute(runtimeDir)) throw new ArdesiaError('INTERNAL', `runtime folder must be an absolute path: ${runtimeDir}`);
  const dir = posix.normalize(runtimeDir).replace(/(.)\/+$/, '$1');
  const paths: RuntimePaths = {
    dir,
    qmp: posix.join(dir, 'qmp.sock'),
    serial: posix.join(dir, 'serial.sock'),
    vnc: posix.join(dir, 'vnc.sock'),
    guest: posix.join(dir, 'guest.sock'),
    qmpFd: posix.join(dir, 'qmp-fd.sock'),
    pidfile: posix.join(dir, 'qemu.pid'),
    log: posix.join(dir, 'qemu.log'),
  };
  const longest = [paths.qmp, paths.serial, paths.vnc, paths.guest, paths.qmpFd].reduce((a, b) => (Buffer.byteLength(b) > Buffer.byteLength(a) ? b : a));
  if (Buffer.byteLength(longest) > MAX_UNIX_SOCKET_PATH) {
    throw new ArdesiaError('RUNTIME_PATH_TOO_LONG', `the VM's socket path ${longest} is too long for unix sockets (more than ${MAX_UNIX_SOCKET_PATH} bytes)`);
  }
  return paths;
}

/** Every file a spec names, checked absolute: QEMU resolves later reopens from /, not from our cwd. */
function requireAbsolutePaths(spec: VmSpec): void {
  const named: Array<[string, string | undefined]> = [
    ...spec.disks.map((d, i): [string, string] => [`disk ${i}`, d.path]),
    ['cdrom', spec.cdrom],
    ['kernel', spec.boot.kernel],
    ['initrd', spec.boot.initrd],
    ['bios', spec.boot.bios],
    ...spec.nics.map((n, i): [string, string | undefined] => [`NIC ${i} tftpRoot`, n.tftpRoot]),
  ];
  for (const [what, path] of named) {
    if (path !== undefined && !posix.isAbsolute(path)) {
      throw new ArdesiaError('VM_SPEC_INVALID', `vm ${spec.name}: ${what} must be an absolute path, not "${path}"`);
    }
  }
}

function socketChardev(id: string, path: string): string {
  return renderOption('socket', { id, path, server: true, wait: false });
}

function processArgs(spec: VmSpec, paths: RuntimePaths): string[] {
  return [
    '-name', renderOption(undefined, { guest: spec.name, 'debug-threads': true }),
    '-nodefaults',
    '-no-user-config',
    '-S', // paused: the daemon attaches QMP and the serial console, then sends `cont`
    '-sandbox',
    QEMU_SANDBOX,
    '-pidfile', paths.pidfile, // a plain file name, not an option: no escaping
  ];
}

function accelArgs(spec: VmSpec, accel: 'kvm' | 'tcg'): string[] {
  return [
    '-accel', accel === 'kvm' ? 'kvm' : `tcg,tb-size=${TCG_TB_SIZE_MIB}`,
    '-cpu', cpuModel(accel),
    '-m', `${spec.memoryMiB}M`,
    '-smp', String(spec.vcpus),
    '-rtc', 'base=utc',
  ];
}

function consoleArgs(paths: RuntimePaths): string[] {
  return [
    // QMP as -chardev + -mon (what -qmp unix:… expands to): one escaping rule for every socket.
    '-chardev', socketChardev('qmp0', paths.qmp),
    '-mon', 'chardev=qmp0,mode=control',
    '-chardev', socketChardev('qmpfd0', paths.qmpFd),
    '-mon', 'chardev=qmpfd0,mode=control',
    '-chardev', socketChardev('serial0', paths.serial),
    '-serial', 'chardev:serial0',
    // -nodefaults drops the VGA; std VGA has a SeaBIOS VGA ROM and an OVMF driver (QemuVideoDxe).
    '-device', 'VGA,id=video0',
    // Absolute pointer and a keyboard with a deep queue for remote displays: with only PS/2, VNC's absolute
    // pointer becomes relative motion the guest accelerates (the cursor drifts from the user's), and the PS/2
    // keyboard's 16-byte queue drops keys a CPU-starved guest has not read. Guests without a virtio-input
    // driver keep using PS/2: QEMU routes input to a virtio device only once its driver is up.
    '-device', 'virtio-tablet-pci,id=tablet0',
    '-device', 'virtio-keyboard-pci,id=keyboard0',
    '-display', 'none',
    '-vnc', `unix:${escapeOptionValue(paths.vnc)}`,
  ];
}

/** The guest channel's virtio-serial port; the clipboard agent's follows it. */
export const GUEST_PORT_ID = 'guest0-port';
function guestChannelArgs(paths: RuntimePaths): string[] {
  return [
    '-device', 'virtio-serial-pci,id=vser0',
    '-chardev', socketChardev('guest0', paths.guest),
    '-device', renderOption('virtserialport', { id: GUEST_PORT_ID, bus: 'vser0.0', chardev: 'guest0', name: GUEST_CHANNEL_NAME }),
  ];
}

/** The clipboard between the user's client and the guest: the guest's spice-vdagent speaks on the port
 *  com.redhat.spice.0. Behind it QEMU's own agent serves the VNC clipboard (noVNC's paste); a VM with a
 *  SPICE display gives the port to SPICE instead (remote-viewer's clipboard), as only one may own it. */
export const CLIPBOARD_AGENT_PORT = 'com.redhat.spice.0';
export function clipboardAgentArgs(spice: boolean): string[] {
  const agent = spice ? renderOption('spicevmc', { id: 'vdagent0', name: 'vdagent' }) : renderOption('qemu-vdagent', { id: 'vdagent0', name: 'vdagent', clipboard: true, mouse: false });
  return ['-chardev', agent, '-device', renderOption('virtserialport', { id: 'vdagent0-port', bus: 'vser0.0', chardev: 'vdagent0', name: CLIPBOARD_AGENT_PORT })];
}

/** Where a disk hot-plugged over QMP goes (a user's home volume): q35's root bus takes no hot-plug, so
 *  every q35 VM gets one empty PCIe root port; on pc the default PCI bus takes it (ACPI hot-plug). */
export const HOTPLUG_PORT_ID = 'hotplug0';
export function hotplugBus(machine: MachineType): string | undefined {
  return machine === 'q35' ? HOTPLUG_PORT_ID : undefined;
}

function hotplugArgs(machine: MachineType): string[] {
  return machine === 'q35' ? ['-device', renderOption('pcie-root-port', { id: HOTPLUG_PORT_ID, chassis: 1 })] : [];
}

/**
 * Free page reporting: the guest's virtio_balloon driver reports free 2 MiB blocks, QEMU discards them
 * (MADV_DONTNEED) and the host gets them back; the guest faults them in again on use. No balloon target is ever
 * set, so the device only reports. Last on the command line: the other devices keep their PCI slots with or without it.
 */
export const BALLOON_ID = 'balloon0';
function balloonArgs(spec: VmSpec): string[] {
  return spec.freePageReporting === true ? ['-device', renderOption('virtio-balloon-pci', { id: BALLOON_ID, 'free-page-reporting': true })] : [];
}

/** The VM generation ID (ACPI): guid=auto makes each QEMU process pick a new one, also one that loads a saved state
 *  (the device's post-load writes this process's GUID into the guest and notifies it). Last, after the balloon. */
export const VMGENID_ID = 'vmgenid0';
function vmgenidArgs(spec: VmSpec): string[] {
  return spec.vmgenid === true ? ['-device', renderOption('vmgenid', { id: VMGENID_ID, guid: 'auto' })] : [];
}

/** Binary, argv (no shell) and runtime files to create before the launch for a validated spec. */
export function buildQemuLaunch(spec: VmSpec, ctx: LaunchContext): QemuLaunch {
  requireAbsolutePaths(spec);
  const handed = new HandedFiles(ctx.paths.dir);
  const boot = bootPlan(spec, ctx.paths.dir, ctx.firmware, handed, ctx.bootKind);
  const order = bootIndexes(spec, boot.usesBootOrder);
  const storage = storageArgs(spec.name, boot.machine, spec.disks, spec.cdrom, order, handed, ctx.chains ?? new Map());
  const args = [
    ...processArgs(spec, ctx.paths),
    ...handed.args(),
    ...boot.args,
    ...accelArgs(spec, ctx.accel),
    ...consoleArgs(ctx.paths),
    ...spiceArgs(spec.name, spec.display?.spice, ctx.spicePort, ctx.spiceX509Dir),
    ...guestChannelArgs(ctx.paths),
    ...clipboardAgentArgs(spec.display?.spice !== undefined),
    ...hotplugArgs(boot.machine),
    ...storage,
    ...nicArgs(spec.name, spec.nics, order.nics, handed),
    ...balloonArgs(spec),
    ...vmgenidArgs(spec),
  ];
  return { binary: QEMU_BINARY[spec.arch], args, files: boot.files, handed: handed.files };
}
