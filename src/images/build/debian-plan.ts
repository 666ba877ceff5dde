// Pure decisions of the Debian tree builds (desktop image and thin-client OS): which packages, which mirror,
// the cache key, the mmdebstrap arguments and how to read its output, the kernel command line, and parsers
// for apt sources and dpkg status.
import { createHash } from 'node:crypto';
import { ArdesiaError } from '../../contract/errors.js';

/** Bumped whenever the builder changes what ends up in the tree (invalidates the tree cache). 2: mmdebstrap. 3: the
 *  generic kernel with its unused module trees left out and a virtio-only initramfs. */
export const BUILDER_VERSION = 3;

export const DEBIAN_SUITE = 'bookworm';

/**
 * What the gold image holds beyond minbase. The kernel is Debian's generic one, not -cloud: it is built with
 * CONFIG_VMGENID, so a desktop restored from a pool's template reseeds its random numbers on the new VM generation
 * ID (the cloud kernel lacks it, and restore pools of it boot). It has efifb built in; the image boots under UEFI
 * (OVMF's GOP → efifb → Xorg fbdev), so no DRM driver is needed (DESKTOP_DPKG_EXCLUDES leaves them out).
 */
export const DESKTOP_KERNEL_PACKAGE = 'linux-image-amd64';
export const DESKTOP_PACKAGES: readonly string[] = [
  'systemd-sysv',
  'udev',
  DESKTOP_KERNEL_PACKAGE,
  'e2fsprogs',
  'procps',
  'xserver-xorg-core',
  'xserver-xorg-video-fbdev',
  'xserver-xorg-input-libinput',
  'xauth',
  'xfonts-base',
  'fonts-dejavu-core',
  'jwm',
  'xterm',
  'pcmanfm',
  'xdotool', // desktop-session waits for the session's windows and focuses the terminal before it reports ready
  'spice-vdagent', // the clipboard between the user's client and the desktop (QEMU's vdagent or SPICE's)
  'xclip', // reads and sets the session's CLIPBOARD from a shell (support; the tests check a paste arrived with it)
  'dbus-x11', // the session bus spice-vdagent's GTK (dconf-service) needs, named so that apt picks no other provider
];

/** Module trees of the generic kernel a desktop on QEMU's virtual hardware never loads (sound, GPUs — the screen is
 *  efifb —, radios, capture cards, fabrics): dpkg does not unpack them (path-exclude), about half the kernel's
 *  400 MB. Both spellings of the path: the package ships /lib/modules, merged /usr puts it under /usr/lib. */
const UNUSED_MODULE_TREES: readonly string[] = [
  'sound', 'drivers/gpu', 'drivers/media', 'drivers/staging', 'drivers/infiniband', 'drivers/isdn', 'drivers/bluetooth',
  'drivers/net/wireless', 'drivers/net/ethernet', 'net/bluetooth', 'net/wireless', 'net/mac80211',
];
export const DESKTOP_DPKG_EXCLUDES: readonly string[] = UNUSED_MODULE_TREES.flatMap((tree) =>
  ['/lib', '/usr/lib'].map((lib) => `path-exclude=${lib}/modules/*/kernel/${tree}/*`));

/** The initramfs holds only what finds and mounts the root disk (virtio-blk, ext4) instead of `most` storage drivers:
 *  a smaller initrd to unpack at every boot. udev in the initramfs loads them by modalias; ext4 by its fs- alias. */
export const DESKTOP_INITRAMFS_FILES: ReadonlyArray<{ path: string; content: string; mode: number }> = [
  { path: 'etc/initramfs-tools/conf.d/ardesia-modules', content: 'MODULES=list\n', mode: 0o644 },
  {
    path: 'etc/initramfs-tools/hooks/ardesia-root-disk',
    content: [
      '#!/bin/sh',
      '# The root disk of an Ardesia desktop: virtio-blk on virtio-pci, ext4 (crc32c for its metadata checksums).',
      '[ "$1" = prereqs ] && exit 0',
      '. /usr/share/initramfs-tools/hook-functions',
      'manual_add_modules virtio_pci virtio_blk ext4 crc32c_generic',
      '',
    ].join('\n'),
    mode: 0o755,
  },
];

/** The root disk is the first virtio disk; serial stays the admin's console, tty0 shows the screen. */
export const KERNEL_CMDLINE = 'root=/dev/vda rw console=tty0 console=ttyS0 quiet';

/** Virtual size of the gold image: room for the user's system changes in the linked clone. */
export const IMAGE_VIRTUAL_BYTES = 4 * 1024 ** 3;

export interface AptSource {
  uris: string[];
  suites: string[];
  components: string[];
  signedBy?: string;
}

/** Parses deb822 `.sources` text (stanzas separated by blank lines); `Types` other than deb are skipped. */
export function parseDeb822Sources(text: string): AptSource[] {
  const sources: AptSource[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    for (const line of stanza.split('\n')) {
      if (line.startsWith('#')) continue;
      const match = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
      if (match) fields.set(match[1]!.toLowerCase(), match[2]!.trim());
    }
    if (!(fields.get('types') ?? '').split(/\s+/).includes('deb')) continue;
    const words = (key: string): string[] => (fields.get(key) ?? '').split(/\s+/).filter(Boolean);
    const signedBy = fields.get('signed-by');
    sources.push({ uris: words('uris'), suites: words('suites'), components: words('components'), ...(signedBy ? { signedBy } : {}) });
  }
  return sources;
}

/** Parses one-line `deb [opts] URI SUITE COMPONENT…` entries of a `.list` file. */
export function parseOneLineSources(text: string): AptSource[] {
  const sources: AptSource[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    const match = /^deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)\s*(.*)$/.exec(line);
    if (!match) continue;
    const signedBy = /signed-by=(\S+)/.exec(match[1] ?? '')?.[1];
    sources.push({ uris: [match[2]!], suites: [match[3]!], components: match[4]!.split(/\s+/).filter(Boolean), ...(signedBy ? { signedBy } : {}) });
  }
  return sources;
}

export interface DebianMirror {
  uri: string;
  keyring?: string;
}

/** The configured mirror that serves the release suite itself (not -updates or -security) with `main`. */
export function pickMirror(sources: readonly AptSource[], suite: string = DEBIAN_SUITE): DebianMirror | undefined {
  for (const source of sources) {
    if (!source.suites.includes(suite) || !source.components.includes('main')) continue;
    const uri = source.uris[0];
    if (uri) return { uri, ...(source.signedBy ? { keyring: source.signedBy } : {}) };
  }
  return undefined;
}

export interface InstalledPackage {
  name: string;
  version: string;
}

/** Installed packages from /var/lib/dpkg/status, sorted by name. */
export function parseDpkgStatus(text: string): InstalledPackage[] {
  const packages: InstalledPackage[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const name = /^Package:\s*(\S+)/m.exec(stanza)?.[1];
    const version = /^Version:\s*(\S+)/m.exec(stanza)?.[1];
    const installed = /^Status:.*\binstalled$/m.test(stanza);
    if (name && version && installed) packages.push({ name, version });
  }
  return packages.sort((a, b) => a.name.localeCompare(b.name));
}

export interface CacheKeyInputs {
  mirror: string;
  suite: string;
  packages: readonly string[];
  /** The apt index state the versions come from (the host's InRelease files for this mirror). */
  indexDigest: string;
  /** dpkg options and files set in the tree before installing (they change what is installed). */
  treeSetup?: unknown;
}

/** Short hash of everything that decides the desktop's Debian tree. */
export function debianTreeCacheKey(inputs: CacheKeyInputs): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify({ v: BUILDER_VERSION, ...inputs, packages: [...inputs.packages].sort() }));
  return hash.digest('hex').slice(0, 20);
}

/** mmdebstrap's hook folders (Debian package mmdebstrap): eatmydata (no fsync while installing; needs eatmydata on the
 *  host); merged-usr, which makes /bin, /lib, … links into /usr first and marks usr-is-merged installed: without it apt
 *  satisfies init-system-helpers' `usrmerge | usr-is-merged` with usrmerge and perl (45 MB) where debootstrap took usr-is-merged. */
export const MMDEBSTRAP_HOOK_DIRS: readonly string[] = ['/usr/share/mmdebstrap/hooks/eatmydata', '/usr/share/mmdebstrap/hooks/merged-usr'];

export interface MmdebstrapInputs {
  root: string;
  mirror: DebianMirror;
  arch: string;
  packages: readonly string[];
  /** Folder of .debs kept between builds: copied in before apt runs, the new ones copied back after. */
  debCache: string;
  suite?: string;
  /** Lines for dpkg's configuration in the tree (mmdebstrap --dpkgopt), e.g. path-exclude. */
  dpkgOptions?: readonly string[];
  /** A folder whose contents are copied into the tree before any package is installed (configuration packages read). */
  setupFiles?: string;
}

/**
 * The mmdebstrap command line (root mode, so the tree is owned right): minbase + `packages`, resolved by apt and
 * installed under eatmydata (no fsync: a failed build is thrown away). The .deb cache: essential/unlink is skipped
 * so the essential .debs stay in the chroot's archive until the customize hook copies them all out; the cleanup
 * step then empties it. cleanup/reproducible is skipped: the tree keeps its machine-id and logs, as debootstrap left them.
 */
export function mmdebstrapArgs(opts: MmdebstrapInputs): string[] {
  const archives = '/var/cache/apt/archives';
  return [
    '--mode=root',
    '--format=directory',
    '--verbose', // apt's and dpkg's lines: the install step's progress (mmdebstrapStage)
    '--variant=minbase',
    `--architectures=${opts.arch}`,
    '--components=main',
    `--include=${opts.packages.join(',')}`,
    ...MMDEBSTRAP_HOOK_DIRS.map((dir) => `--hook-dir=${dir}`),
    '--skip=essential/unlink',
    '--skip=cleanup/reproducible',
    `--setup-hook=mkdir -p "$1${archives}"`,
    `--setup-hook=sync-in ${opts.debCache} ${archives}`,
    ...(opts.setupFiles ? [`--setup-hook=sync-in ${opts.setupFiles} /`] : []),
    ...(opts.dpkgOptions ?? []).map((option) => `--dpkgopt=${option}`),
    `--customize-hook=sync-out ${archives} ${opts.debCache}`,
    ...(opts.mirror.keyring ? [`--keyring=${opts.mirror.keyring}`] : []),
    opts.suite ?? DEBIAN_SUITE,
    opts.root,
    opts.mirror.uri,
  ];
}

/** mmdebstrap's steps (its `I:` lines), in order, as progress stages of the tree build. */
const MMDEBSTRAP_STEPS: ReadonlyArray<[RegExp, string, number]> = [
  [/^I: running apt-get update/, 'resolving', 0.02],
  [/^I: downloading packages/, 'downloading essential', 0.05],
  [/^I: extracting archives/, 'extracting', 0.15],
  [/^I: installing essential packages/, 'installing essential', 0.2],
  [/^I: installing remaining packages/, 'installing', 0.3],
  [/^I: running special hook: sync-out/, 'caching packages', 0.9],
  [/^I: cleaning package lists/, 'cleaning', 0.95],
  [/^I: success in /, 'done', 1],
];

/** apt's lines (mmdebstrap --verbose) within the last install step, in order: dpkg says the same words in the essential step. */
const APT_INSTALL_LINES: ReadonlyArray<[RegExp, string, number]> = [
  [/^Get:\d+ /, 'downloading', 0.35],
  [/^Unpacking /, 'unpacking', 0.5],
  [/^Setting up /, 'configuring', 0.75],
];

const INSTALL_STAGES = ['installing', 'downloading', 'unpacking', 'configuring'].map((name) => `mmdebstrap: ${name}`);

/** Maps an mmdebstrap output line to a progress stage, given the stage before it (apt's lines only move the last
 *  install step forward); undefined for noise. */
export function mmdebstrapStage(line: string, last?: string): { stage: string; fraction: number } | undefined {
  for (const [re, stage, fraction] of MMDEBSTRAP_STEPS) if (re.test(line)) return { stage: `mmdebstrap: ${stage}`, fraction };
  const lastInstall = INSTALL_STAGES.indexOf(last ?? '');
  if (lastInstall < 0) return undefined;
  for (const [re, stage, fraction] of APT_INSTALL_LINES) {
    if (re.test(line) && INSTALL_STAGES.indexOf(`mmdebstrap: ${stage}`) > lastInstall) return { stage: `mmdebstrap: ${stage}`, fraction };
  }
  return undefined;
}

/** apt's words (through mmdebstrap) when the mirror cannot be reached: the index or a package could not be fetched. */
const MIRROR_FAILURE_LINES = [/^E: Failed to fetch /m, /^E: Unable to fetch some archives/m, /^E: Failed getting release file /m];

/** Why mmdebstrap failed, from its output: the mirror did not answer, or something else (the output says what). */
export function mmdebstrapFailureKind(output: string): 'mirror-unreachable' | 'failed' {
  return MIRROR_FAILURE_LINES.some((re) => re.test(output)) ? 'mirror-unreachable' : 'failed';
}

/** The HELPER_VERSION the guest helper script declares (recorded with the image: what its pools can do). */
export function guestHelperVersion(script: string): number {
  const version = /^HELPER_VERSION=(\d+)$/m.exec(script)?.[1];
  if (!version) throw new ArdesiaError('IMAGE_BUILD_FAILED', 'the guest helper declares no HELPER_VERSION');
  return Number(version);
}
