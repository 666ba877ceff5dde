// Wire types of the vmd/vmctl layer, shared by daemon, API, CLI and (later) web.
import { z } from 'zod';

/** Names of VMs, switches, users: safe as a folder name, never a path. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
export const VmName = z
  .string()
  .regex(NAME_PATTERN, 'a name is 1-63 letters, digits, "_", "." or "-", starting with a letter or digit');

export const MIN_MEMORY_MIB = 16;
export const MAX_MEMORY_MIB = 1024 * 1024; // 1 TiB: above that it is a typo, not a plan
export const MAX_VCPUS = 64;

export const Arch = z.enum(['amd64', 'i386']);
export type Arch = z.infer<typeof Arch>;

export const DiskSpec = z.object({
  path: z.string().min(1),
  format: z.enum(['qcow2', 'raw']).default('qcow2'),
  /** virtio by default; legacy buses for old guests without virtio drivers. */
  bus: z.enum(['virtio', 'ide', 'ahci', 'scsi']).default('virtio'),
  readonly: z.boolean().default(false),
  /** Serial number the guest sees (/dev/disk/by-id/virtio-<serial>). */
  serial: z.string().regex(/^[A-Za-z0-9_-]{1,20}$/).optional(),
});
export type DiskSpec = z.infer<typeof DiskSpec>;

const Ipv4 = z.string().ip({ version: 'v4', message: 'an IPv4 address like 10.0.0.1' });

/** vmd's `local prefix` default: local interfaces get /31s from it. */
export const DEFAULT_LOCAL_PREFIX = '100.64.0.0/10';

export const NicSpec = z.object({
  /**
   * user: QEMU's NAT (default); bridge: a tap the daemon adds to a Linux bridge; tap: an existing tap device;
   * local: vm.conf `local interface`, a tap with a /31 from `localPrefix` (host side on the tap, the guest's
   * address from the daemon's DHCP on that tap).
   */
  mode: z.enum(['user', 'bridge', 'tap', 'local']).default('user'),
  bridge: z.string().optional(),
  /** bridge, tap and local: frames whose source MAC is not the NIC's are dropped (vm.conf `locked lladdr`, nftables). */
  locked: z.boolean().optional(),
  /** local mode: the IPv4 prefix the /31 comes from (vm.conf `local prefix`). */
  localPrefix: z.string().regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/, 'a prefix like 100.64.0.0/10').optional(),
  /** user mode: the guest reaches only QEMU's DHCP and the `allow` list (no DNS, no other TCP, no UDP). */
  restrict: z.boolean().optional(),
  /** user mode with restrict: TCP destinations the guest may reach at their own address (the kernel filters the VM's uid). */
  allow: z.array(z.object({ host: Ipv4, port: z.number().int().min(1).max(65535) }).strict()).max(16).optional(),
  /** user mode without restrict: the guest may reach the host's own addresses (10.0.2.2, its loopback and LAN
   *  addresses); by default the daemon's NAT guard refuses them (docs/security/60-guest-nat.md). */
  hostAccess: z.boolean().optional(),
  ifname: z.string().max(15).optional(),
  mac: z
    .string()
    .regex(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i, 'a MAC address is six hex pairs separated by ":"')
    .optional(),
  model: z.enum(['virtio', 'e1000', 'rtl8139']).default('virtio'),
  /** user mode only: TFTP root and boot file for a network boot without external servers. */
  tftpRoot: z.string().optional(),
  bootFile: z.string().optional(),
});
export type NicSpec = z.infer<typeof NicSpec>;

export const BootSpec = z.object({
  firmware: z.enum(['bios', 'uefi']).default('bios'),
  /** Boot order device when no kernel is given (vm.conf `boot device`). */
  device: z.enum(['disk', 'cdrom', 'net']).optional(),
  /** Direct kernel boot: bzImage, ELF or multiboot image. */
  kernel: z.string().optional(),
  initrd: z.string().optional(),
  cmdline: z.string().optional(),
  /** A custom BIOS image instead of SeaBIOS (vmctl `-b` given a BIOS file). */
  bios: z.string().optional(),
});
export type BootSpec = z.infer<typeof BootSpec>;

export const SpiceDisplaySpec = z.object({
  /** Where QEMU's SPICE server listens: loopback unless the administrator opens it to thin clients. */
  listen: z.string().ip('the SPICE listen address is an IPv4 or IPv6 address').default('127.0.0.1'),
  /** TCP port; a free one is picked at each start when absent. */
  port: z.number().int().min(1024).max(65535).optional(),
});
export type SpiceDisplaySpec = z.infer<typeof SpiceDisplaySpec>;

/** Displays besides the VNC unix socket every VM has. */
export const DisplaySpec = z.object({ spice: SpiceDisplaySpec.optional() });
export type DisplaySpec = z.infer<typeof DisplaySpec>;

export const VmSpec = z.object({
  name: VmName,
  arch: Arch.default('amd64'),
  memoryMiB: z.number().int().min(MIN_MEMORY_MIB).max(MAX_MEMORY_MIB).default(512),
  vcpus: z.number().int().min(1).max(MAX_VCPUS).default(1),
  disks: z.array(DiskSpec).max(16).default([]),
  cdrom: z.string().optional(),
  boot: BootSpec.default({}),
  nics: z.array(NicSpec).max(8).default([]),
  /** vm.conf `owner user[:group]`: who besides root may operate this VM. */
  owner: z.object({ user: z.string().optional(), group: z.string().optional() }).optional(),
  /** vm.conf enable/disable: start when the daemon starts. */
  enabled: z.boolean().default(false),
  accel: z.enum(['auto', 'kvm', 'tcg']).default('auto'),
  /** A SPICE display for native clients (remote-viewer), with one-time passwords. */
  display: DisplaySpec.optional(),
  /** A virtio-balloon device with free page reporting: memory the guest frees goes back to the host (a Linux guest
   *  with CONFIG_PAGE_REPORTING, e.g. Debian 12's 6.1). Part of the VM's shape: a restored state needs the same. */
  freePageReporting: z.boolean().optional(),
  /** QEMU's VM generation ID device (guid=auto: a new GUID in every QEMU process): a restored clone's kernel, built with
   *  CONFIG_VMGENID, sees a new generation and reseeds its random numbers. Part of the VM's shape, as above. */
  vmgenid: z.boolean().optional(),
  /** vm.conf `restart-on-host-loss yes`: when its host is down (its storage lease expired), the controller starts it on
   *  another host from the same disks; without it, the VM is recorded lost and waits for the administrator. */
  restartOnHostLoss: z.boolean().optional(),
});
export type VmSpec = z.infer<typeof VmSpec>;
export type VmSpecInput = z.input<typeof VmSpec>;

/** Who asked for a start through the API (absent for the daemon's own starts); non-admins are confined by the owner policy. */
export interface StartCaller {
  name: string;
  admin: boolean;
}

/** Observed state, as vmctl status shows it. */
export const VmState = z.enum(['stopped', 'starting', 'running', 'paused', 'stopping']);
export type VmState = z.infer<typeof VmState>;

export const VmStatus = z.object({
  name: z.string(),
  state: VmState,
  pid: z.number().nullable(),
  accel: z.enum(['kvm', 'tcg']).nullable(),
  /** Said loudly whenever the VM runs under TCG. */
  accelNote: z.string().nullable(),
  memoryMiB: z.number(),
  vcpus: z.number(),
  arch: Arch,
  owner: z.string().nullable(),
  source: z.string().nullable(),
  /** Why the VM last stopped (guest poweroff, killed, QEMU died while the daemon was down …). */
  lastStopReason: z.string().nullable(),
  startedAt: z.string().nullable(),
  /** Set when the controller started it on its host after the host it ran on was lost (restart-on-host-loss). */
  hostLoss: z.string().nullable(),
  /** The host its saved state is on (vm stop --to-disk, or a state received), which its next start resumes; or null. */
  savedStateOn: z.string().nullable(),
  spec: VmSpec,
});
export type VmStatus = z.infer<typeof VmStatus>;

/** The lastStopReason of VMs the daemon stopped on its way out (serve --stop-vms-on-exit): not a failure. */
export const DAEMON_STOP_REASON = 'stopped with the daemon';
