// Pure decisions of the Debian desktop image build: which packages, which mirror, the cache key,
// the debootstrap arguments, the kernel command line, and parsers for apt sources and dpkg status.
import { createHash } from 'node:crypto';

/** Bumped whenever the builder changes what ends up in the tree (invalidates the debootstrap cache). */
export const BUILDER_VERSION = 1;

export const DEBIAN_SUITE = 'bookworm';

/**
 * What the gold image holds beyond minbase. The cloud kernel is small and has efifb built in; the
 * image boots under UEFI (OVMF's GOP → efifb → Xorg fbdev), so no DRM driver is needed.
 */
export const DESKTOP_PACKAGES: readonly string[] = [
  'systemd-sysv',
  'udev',
  'linux-image-cloud-amd64',
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
  'dbus-x11', // provides the virtual session bus spice-vdagent's GTK (dconf-service) needs: debootstrap resolves no virtual packages
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
}

/** Short hash of everything that decides the debootstrap tree. */
export function debootstrapCacheKey(inputs: CacheKeyInputs): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify({ v: BUILDER_VERSION, ...inputs, packages: [...inputs.packages].sort() }));
  return hash.digest('hex').slice(0, 20);
}

/** The debootstrap command line (run as root so the tree is owned right). */
export function debootstrapArgs(opts: { root: string; mirror: DebianMirror; debCache: string; suite?: string }): string[] {
  return [
    '--variant=minbase',
    '--arch=amd64',
    '--components=main',
    `--include=${DESKTOP_PACKAGES.join(',')}`,
    `--cache-dir=${opts.debCache}`,
    ...(opts.mirror.keyring ? [`--keyring=${opts.mirror.keyring}`] : []),
    opts.suite ?? DEBIAN_SUITE,
    opts.root,
    opts.mirror.uri,
  ];
}

/** Maps a debootstrap output line to a progress stage, or undefined for noise. */
export function debootstrapStage(line: string): { stage: string; fraction?: number } | undefined {
  if (/^I: Retrieving Release/.test(line)) return { stage: 'debootstrap: resolving', fraction: 0.02 };
  if (/^I: Retrieving /.test(line)) return { stage: 'debootstrap: downloading', fraction: 0.1 };
  if (/^I: Extracting /.test(line)) return { stage: 'debootstrap: extracting', fraction: 0.3 };
  if (/^I: Installing core packages/.test(line)) return { stage: 'debootstrap: installing core', fraction: 0.4 };
  if (/^I: Unpacking the base system/.test(line)) return { stage: 'debootstrap: unpacking', fraction: 0.5 };
  if (/^I: Configuring the base system/.test(line)) return { stage: 'debootstrap: configuring', fraction: 0.8 };
  if (/^I: Base system installed successfully/.test(line)) return { stage: 'debootstrap: done', fraction: 1 };
  return undefined;
}

/** debootstrap's words when the mirror cannot be reached (wget failing on the Release file or on packages). */
const MIRROR_FAILURE_LINES = [/^E: Failed getting release file /m, /^E: Couldn't download /m, /^E: Failed getting InRelease /m];

/** Why debootstrap failed, from its output: the mirror did not answer, or something else (the output says what). */
export function debootstrapFailureKind(output: string): 'mirror-unreachable' | 'failed' {
  return MIRROR_FAILURE_LINES.some((re) => re.test(output)) ? 'mirror-unreachable' : 'failed';
}
