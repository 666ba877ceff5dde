// Pure decisions of the thin-client OS build: packages per architecture, cache keys, which kernel
// modules go into the initramfs (and their modules.dep / modules.alias), the manifest. No I/O here.
import { createHash } from 'node:crypto';

export type ThinClientArch = 'amd64' | 'i386';
export const THIN_CLIENT_ARCHES: readonly ThinClientArch[] = ['amd64', 'i386'];

/** Bumped when the builder changes what ends up in the tree or the outputs (invalidates every cache). */
export const THIN_CLIENT_BUILDER_VERSION = 2; // 2: mmdebstrap

/**
 * The kiosk beyond minbase: the standard kernel (bochs DRM for QEMU's std VGA, i915/radeon/nouveau
 * for real PCs — the cloud kernel has none), udev for input and DRM devices, cage (Wayland kiosk
 * compositor) + seatd, cog (WPE WebKit), remote-viewer for SPICE. (The screen mode is the kernel's: drm.edid_firmware.)
 */
export const KIOSK_PACKAGES: readonly string[] = [
  'udev',
  'kmod',
  'cage',
  'xwayland', // cage 0.1.4 starts XWayland unconditionally and exits without it
  'seatd',
  'cog',
  'virt-viewer',
  'libgl1-mesa-dri',
  'libegl-mesa0',
  'fonts-dejavu-core',
  // No ca-certificates: the boot writes Ardesia's CA as the only system bundle (guest/thinclient/init), so Debian's would
  // be overwritten unread; its set-up also runs a shell loop per certificate, minutes under qemu-user for i386 here.
  'wget',
  // dconf-service (virt-viewer) needs `default-dbus-session-bus | dbus-session-bus`: named, so that apt picks no other provider
  'dbus-x11',
  // the initramfs's shell, DHCP client and downloader (static, so the initramfs needs no libraries)
  'busybox-static',
];

/** Busybox applets the initramfs /init and its udhcpc hook use (links to /bin/busybox). */
export const INITRAMFS_APPLETS: readonly string[] = [
  'sh', 'mount', 'umount', 'mkdir', 'rm', 'cat', 'echo', 'sleep', 'tr', 'grep', 'cut', 'sed', 'head', 'wc', 'uname',
  'modprobe', 'insmod', 'ip', 'udhcpc', 'wget', 'sha256sum', 'switch_root', 'losetup', 'ls', 'dmesg', 'reboot', 'timeout',
  // the config fetch over HTTPS runs the root image's GNU wget (it verifies certificates; busybox's does not)
  'chroot', 'cp',
];

/** Kernel metapackage per architecture: i386 needs a PAE-less-safe 686 kernel (Debian 12's i386 floor is i686). */
export const KERNEL_PACKAGE: Record<ThinClientArch, string> = {
  amd64: 'linux-image-amd64',
  i386: 'linux-image-686',
};

export function thinClientPackages(arch: ThinClientArch): string[] {
  return [KERNEL_PACKAGE[arch], ...KIOSK_PACKAGES];
}

/** The base command line; the iPXE script adds `ardesia.server=URL ardesia.mac=MAC` (the last console= is /dev/console). */
export const THIN_CLIENT_CMDLINE = 'console=tty0 console=ttyS0,115200 quiet loglevel=3';

/**
 * Modules the initramfs carries (with their dependencies): the NICs of old PCs and of QEMU, and
 * what mounting the root image needs. Loaded by matching PCI/virtio modalias, so absent hardware costs nothing.
 */
export const INITRAMFS_MODULES: readonly string[] = [
  // root image: squashfs in a loop device, a tmpfs overlay on top
  'squashfs', 'loop', 'overlay',
  // QEMU / virtual
  'virtio_pci', 'virtio_net', 'e1000', 'e1000e', '8139cp', 'ne2k_pci', 'pcnet32', 'vmxnet3',
  // old-PC NICs (Intel, Realtek, Broadcom, VIA, SiS, nVidia, Atheros, 3Com, Marvell)
  'e100', 'igb', 'r8169', '8139too', 'tg3', 'bnx2', 'b44', 'via_rhine', 'via_velocity', 'sis900', 'sis190',
  'forcedeth', 'atl1', 'atl1c', 'atl1e', 'alx', '3c59x', 'skge', 'sky2',
];

/** Module folders the root image leaves out: NIC drivers are loaded from the initramfs already; no disks, sound, media. */
const ROOT_EXCLUDED_MODULES: readonly string[] = [
  'drivers/net', 'drivers/media', 'drivers/scsi', 'drivers/infiniband', 'drivers/iio', 'drivers/staging', 'drivers/md',
  'drivers/target', 'drivers/mtd', 'drivers/comedi', 'drivers/isdn', 'drivers/bluetooth', 'drivers/nvme', 'drivers/ata',
  'drivers/mmc', 'drivers/w1', 'drivers/xen', 'drivers/watchdog', 'drivers/hwmon', 'drivers/gpu/drm/amd', 'fs', 'net', 'sound',
];

/** Paths the root image leaves out (mksquashfs -wildcards): the kernel and initrd (served separately), apt state, modules no kiosk loads. */
export const ROOT_EXCLUDES: readonly string[] = [
  'boot',
  'var/cache/apt',
  'var/lib/apt/lists',
  ...ROOT_EXCLUDED_MODULES.map((dir) => `usr/lib/modules/*/kernel/${dir}`),
];

export interface TreeKeyInputs {
  arch: ThinClientArch;
  mirror: string;
  suite: string;
  packages: readonly string[];
  /** Digest of the apt index (Release files) that decides the versions mmdebstrap picks. */
  indexDigest: string;
}

/** Key of the cached Debian tree. */
export function treeCacheKey(inputs: TreeKeyInputs): string {
  const body = JSON.stringify({ v: THIN_CLIENT_BUILDER_VERSION, ...inputs, packages: [...inputs.packages].sort() });
  return createHash('sha256').update(body).digest('hex').slice(0, 20);
}

/** Stable hash of the installed `name=version` list (the manifest's `packages`). */
export function packagesHash(packages: ReadonlyArray<{ name: string; version: string }>): string {
  const lines = packages.map((p) => `${p.name}=${p.version}`).sort();
  return createHash('sha256').update(lines.join('\n')).digest('hex');
}

/** Key of the cached outputs: installed package versions + every byte of the builder's own files + the portal CA baked in
 *  (its SHA-256 fingerprint, null for none): a new CA in the data folder makes a new initramfs. */
export function outputCacheKey(arch: ThinClientArch, installedHash: string, builderDigest: string, portalCaSha256: string | null = null): string {
  const body = JSON.stringify({ v: THIN_CLIENT_BUILDER_VERSION, arch, installedHash, builderDigest, ...(portalCaSha256 ? { portalCaSha256 } : {}) });
  return createHash('sha256').update(body).digest('hex').slice(0, 20);
}

/** The version string: date of the build plus the output key, e.g. `20250520-1a2b3c4d5e`. */
export function thinClientVersion(builtAt: Date, outputKey: string): string {
  return `${builtAt.toISOString().slice(0, 10).replace(/-/g, '')}-${outputKey.slice(0, 10)}`;
}

/** Parses modules.dep (`kernel/a/b.ko: kernel/c.ko kernel/d.ko`) into module name → {path, deps paths}. */
export function parseModulesDep(text: string): Map<string, { path: string; deps: string[] }> {
  const modules = new Map<string, { path: string; deps: string[] }>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const path = line.slice(0, colon).trim();
    const deps = line.slice(colon + 1).trim().split(/\s+/).filter(Boolean);
    modules.set(moduleNameOf(path), { path, deps });
  }
  return modules;
}

/** `kernel/drivers/net/via-rhine.ko(.xz)` → `via_rhine`. */
export function moduleNameOf(path: string): string {
  const file = path.slice(path.lastIndexOf('/') + 1);
  return file.replace(/\.ko(\.[a-z]+)?$/, '').replace(/-/g, '_');
}

export class ThinClientPlanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ThinClientPlanError';
  }
}

/** Paths of `wanted` modules and all their dependencies; names missing from the kernel are skipped unless `required`. */
export function moduleClosure(dep: Map<string, { path: string; deps: string[] }>, wanted: readonly string[], required: readonly string[] = []): string[] {
  const paths = new Set<string>();
  for (const name of wanted) {
    const entry = dep.get(name.replace(/-/g, '_'));
    if (!entry) {
      // Built into the kernel (loop on some configs) or not offered on this architecture: nothing to copy.
      if (required.includes(name)) throw new ThinClientPlanError(`kernel module ${name} is neither a module nor listed in modules.dep`);
      continue;
    }
    paths.add(entry.path);
    for (const d of entry.deps) paths.add(d);
  }
  return [...paths].sort();
}

/** The lines of modules.dep that describe only the included modules (busybox modprobe reads it). */
export function filterModulesDep(text: string, included: ReadonlySet<string>): string {
  return text.split('\n').filter((line) => included.has(line.slice(0, line.indexOf(':')).trim())).join('\n') + '\n';
}

/** `pattern module` lines from modules.alias for PCI/virtio aliases of the included modules (the /init matches them with `case`). */
export function filterModulesAlias(text: string, includedNames: ReadonlySet<string>): string {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const match = /^alias\s+((?:pci|virtio):\S+)\s+(\S+)$/.exec(line.trim());
    if (match && includedNames.has(match[2]!.replace(/-/g, '_'))) out.push(`${match[1]} ${match[2]!.replace(/-/g, '_')}`);
  }
  return out.join('\n') + '\n';
}

export interface ManifestFile {
  size: number;
  sha256: string;
}

export interface ThinClientManifest {
  version: string;
  arch: ThinClientArch;
  builtAt: string;
  /** sha256 of the sorted `name=version` list of installed packages. */
  packages: string;
  packageCount: number;
  kernelRelease: string;
  files: Record<'vmlinuz' | 'initrd.img' | 'root.squashfs', ManifestFile>;
  kernelCmdline: string;
  /** The CA the kiosk verifies the portal with (baked into the initramfs): its SHA-256 fingerprint and subject; null when
   *  the OS was built without one (its kiosk can only use a plain-HTTP portal). */
  portalCa: { sha256: string; subject: string } | null;
}

/** One-line JSON keeps the initramfs's sed/grep parsing of `"root.squashfs":{…}` simple. */
export function renderManifest(manifest: ThinClientManifest): string {
  return `${JSON.stringify(manifest)}\n`;
}
