// `ardesia image build`: a bootable Debian desktop gold image from Debian packages. mmdebstrap
// (cached by package index + builder inputs) → overlay (guest helper, session) → mkfs.ext4 -d → qcow2,
// with the kernel and initrd next to it for direct-kernel boot under UEFI (OVMF GOP → efifb → Xorg).
import { withFileLock } from '../../lib/file-lock.js';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, createReadStream, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, copyFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DEBIAN_SUITE,
  DESKTOP_DPKG_EXCLUDES,
  DESKTOP_INITRAMFS_FILES,
  DESKTOP_KERNEL_PACKAGE,
  DESKTOP_PACKAGES,
  guestHelperVersion,
  IMAGE_VIRTUAL_BYTES,
  KERNEL_CMDLINE,
  debianTreeCacheKey,
  mmdebstrapArgs,
  mmdebstrapFailureKind,
  mmdebstrapStage,
  parseDeb822Sources,
  parseDpkgStatus,
  parseOneLineSources,
  pickMirror,
  type AptSource,
  type DebianMirror,
  type InstalledPackage,
} from './debian-plan.js';
import { applyOverlay, desktopOverlay, slimTree } from './rootfs-overlay.js';
import { buildFolderPath, removeBuildFolder, sweepAbandonedBuilds } from './build-folders.js';
import { ArdesiaError } from '../../contract/errors.js';

export interface BuildDebianImageOptions {
  /** The qcow2 to create; kernel and initrd are written beside it. */
  dest: string;
  /** Cache folder (git-ignored), e.g. .cache/images. */
  workDir: string;
  onProgress?: (stage: string, fraction?: number) => void;
  /** Defaults to ARDESIA_DEBIAN_MIRROR, then the bookworm mirror configured in /etc/apt/sources.list.d. */
  mirror?: string;
}

export interface BuiltDebianImage {
  boot: { firmware: 'bios' | 'uefi'; kernel?: string; initrd?: string; cmdline?: string };
  /** The version of the guest helper installed (its HELPER_VERSION line): what a pool of the image can do. */
  guestHelper: number;
  packages: InstalledPackage[];
  virtualSize: number;
  sha256: string;
}

const SOURCES_DIR = '/etc/apt/sources.list.d';
const APT_LISTS_DIR = '/var/lib/apt/lists';

function guestLinuxDir(): string {
  // Compiled to dist/src/images/build/: four levels up is the repository.
  const repo = process.env.ARDESIA_REPO_ROOT ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
  return join(repo, 'guest', 'linux');
}

export function configuredSources(dir: string = SOURCES_DIR): AptSource[] {
  if (!existsSync(dir)) return [];
  const sources: AptSource[] = [];
  for (const name of readdirSync(dir).sort()) {
    const text = readFileSync(join(dir, name), 'utf8');
    if (name.endsWith('.sources')) sources.push(...parseDeb822Sources(text));
    else if (name.endsWith('.list')) sources.push(...parseOneLineSources(text));
  }
  return sources;
}

/** The mirror to build from: the one given, ARDESIA_DEBIAN_MIRROR, or the host's configured bookworm "main" mirror (its keyring kept). */
export function resolveMirror(given: string | undefined, fail: (message: string) => Error = (m) => new ArdesiaError('IMAGE_BUILD_NO_MIRROR', m)): DebianMirror {
  const explicit = given ?? (process.env.ARDESIA_DEBIAN_MIRROR || undefined);
  const picked = pickMirror(configuredSources());
  if (explicit) return { uri: explicit, ...(picked?.keyring ? { keyring: picked.keyring } : {}) };
  if (!picked) throw fail(`no Debian ${DEBIAN_SUITE} mirror with "main" in ${SOURCES_DIR}; add one (deb822 .sources) and run apt-get update`);
  return picked;
}

/** Digest of the host's apt index for the mirror: it fixes which package versions mmdebstrap picks. */
export function aptIndexDigest(mirror: DebianMirror): string {
  const host = mirror.uri.replace(/^[a-z]+:\/\//, '').replace(/\/+$/, '').replace(/\//g, '_');
  const hash = createHash('sha256');
  const files = existsSync(APT_LISTS_DIR) ? readdirSync(APT_LISTS_DIR).filter((f) => f.startsWith(host) && f.includes(`${DEBIAN_SUITE}_`) && /Release$/.test(f)).sort() : [];
  for (const file of files) hash.update(file).update(readFileSync(join(APT_LISTS_DIR, file)));
  return files.length > 0 ? hash.digest('hex') : 'no-index';
}

/** A build tool that exited non-zero, as a registry error with the tail of its output (mmdebstrap: a mirror that did not answer said so). */
function toolFailure(cmd: string, args: readonly string[], code: number | null, tail: string): ArdesiaError {
  const last = tail.split('\n').slice(-12).join('\n');
  if (cmd === 'mmdebstrap' && mmdebstrapFailureKind(tail) === 'mirror-unreachable') {
    return new ArdesiaError('IMAGE_BUILD_MIRROR_UNREACHABLE', `mmdebstrap could not fetch from the Debian mirror ${args.at(-1)}:\n${last}`);
  }
  return new ArdesiaError('IMAGE_BUILD_FAILED', `${cmd} failed (exit ${code}):\n${last}`);
}

function runLogged(cmd: string, args: readonly string[], onLine?: (line: string) => void): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive', LC_ALL: 'C' } });
    let tail = '';
    let partial = ''; // a line split across two reads is passed on whole
    const take = (data: Buffer): void => {
      const text = data.toString();
      tail = (tail + text).slice(-4000);
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      if (onLine) for (const line of lines) if (line) onLine(line);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'ENOENT' ? new ArdesiaError('IMAGE_BUILD_TOOL_MISSING', `${cmd} is not installed`) : new ArdesiaError('IMAGE_BUILD_FAILED', `${cmd} could not start (${err.code ?? err.message})`)),
    );
    child.on('close', (code) => (code === 0 ? resolvePromise() : reject(toolFailure(cmd, args, code, tail))));
  });
}

/** The cached Debian tree for these inputs, building it into a temporary folder first if absent. */
async function debianTree(workDir: string, mirror: DebianMirror, progress: (stage: string, fraction?: number) => void): Promise<string> {
  const treeSetup = { dpkg: DESKTOP_DPKG_EXCLUDES, files: DESKTOP_INITRAMFS_FILES };
  const key = debianTreeCacheKey({ mirror: mirror.uri, suite: DEBIAN_SUITE, packages: DESKTOP_PACKAGES, indexDigest: aptIndexDigest(mirror), treeSetup });
  const cached = join(workDir, `debian-${key}`);
  if (existsSync(join(cached, 'complete'))) {
    progress('mmdebstrap: cached', 1);
    return join(cached, 'root');
  }
  const building = buildFolderPath(workDir, key);
  sweepAbandonedBuilds(workDir);
  removeBuildFolder(building);
  mkdirSync(join(workDir, 'debs'), { recursive: true });
  mkdirSync(building, { recursive: true });
  try {
    const root = join(building, 'root');
    const setupFiles = join(building, 'setup');
    for (const file of DESKTOP_INITRAMFS_FILES) {
      mkdirSync(dirname(join(setupFiles, file.path)), { recursive: true });
      writeFileSync(join(setupFiles, file.path), file.content);
      chmodSync(join(setupFiles, file.path), file.mode);
    }
    const args = mmdebstrapArgs({
      root, mirror, arch: 'amd64', packages: DESKTOP_PACKAGES, debCache: resolve(workDir, 'debs'), setupFiles, dpkgOptions: DESKTOP_DPKG_EXCLUDES,
    });
    let lastStage = '';
    await runLogged('mmdebstrap', args, (line) => {
      const stage = mmdebstrapStage(line, lastStage);
      if (stage && stage.stage !== lastStage) progress(stage.stage, stage.fraction);
      if (stage) lastStage = stage.stage;
    });
    rmSync(setupFiles, { recursive: true, force: true });
    slimTree(root);
    writeFileSync(join(building, 'complete'), `${new Date().toISOString()}\n`);
    rmSync(cached, { recursive: true, force: true });
    renameSync(building, cached);
  } catch (err) {
    removeBuildFolder(building);
    throw err;
  }
  return join(cached, 'root');
}

function newestBootFile(root: string, prefix: string): string {
  const names = readdirSync(join(root, 'boot')).filter((n) => n.startsWith(prefix)).sort();
  const name = names.at(-1);
  if (!name) throw new ArdesiaError('IMAGE_BUILD_FAILED', `no /boot/${prefix}* in the Debian tree; is ${DESKTOP_KERNEL_PACKAGE} installed?`);
  return join(root, 'boot', name);
}

function sha256File(path: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolvePromise(hash.digest('hex')));
  });
}

/** Builds the desktop gold image at `dest` (qcow2) plus `<dest>.vmlinuz` and `<dest>.initrd`. */
export function buildDebianImage(opts: BuildDebianImageOptions): Promise<BuiltDebianImage> {
  return underBuildLock(opts, () => buildDebianImageLocked(opts));
}

/** Only the cached Debian tree an image build starts from (the test suite's cache warmer): no image is written. */
export function buildDebianTree(opts: Omit<BuildDebianImageOptions, 'dest'>): Promise<string> {
  return underBuildLock(opts, () => cachedTree(opts));
}

/** One build at a time per work folder (the .deb cache and the tree cache are shared). */
function underBuildLock<T>(opts: Omit<BuildDebianImageOptions, 'dest'>, build: () => Promise<T>): Promise<T> {
  mkdirSync(opts.workDir, { recursive: true });
  return withFileLock(join(opts.workDir, 'build.lock'), build, (pid) =>
    (opts.onProgress ?? (() => undefined))(`waiting for another image build (pid ${pid})`));
}

async function cachedTree(opts: Omit<BuildDebianImageOptions, 'dest'>): Promise<string> {
  if (process.getuid?.() !== 0) throw new ArdesiaError('IMAGE_BUILD_NEEDS_ROOT', `building a Debian image needs root; this process runs as uid ${process.getuid?.()}`);
  return debianTree(opts.workDir, resolveMirror(opts.mirror), opts.onProgress ?? (() => undefined));
}

async function buildDebianImageLocked(opts: BuildDebianImageOptions): Promise<BuiltDebianImage> {
  const progress = opts.onProgress ?? (() => undefined);
  const root = await cachedTree(opts);

  progress('overlay', 0);
  applyOverlay(root, desktopOverlay(), guestLinuxDir());
  const packages = parseDpkgStatus(readFileSync(join(root, 'var/lib/dpkg/status'), 'utf8'));

  const dest = resolve(opts.dest);
  mkdirSync(dirname(dest), { recursive: true });
  const raw = `${dest}.raw-${process.pid}`;
  try {
    progress('mkfs.ext4', 0);
    rmSync(raw, { force: true });
    await runLogged('mkfs.ext4', ['-q', '-F', '-L', 'ardesia-root', '-d', root, '-E', 'root_owner=0:0', raw, `${IMAGE_VIRTUAL_BYTES / 1024}k`]);
    progress('qcow2', 0);
    await runLogged('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, `${dest}.tmp`]);
  } finally {
    rmSync(raw, { force: true });
  }
  const kernel = `${dest}.vmlinuz`;
  const initrd = `${dest}.initrd`;
  copyFileSync(newestBootFile(root, 'vmlinuz-'), kernel);
  copyFileSync(newestBootFile(root, 'initrd.img-'), initrd);
  renameSync(`${dest}.tmp`, dest);
  progress('sha256', 0);
  const sha256 = await sha256File(dest);
  progress('done', 1);
  return {
    boot: { firmware: 'uefi', kernel, initrd, cmdline: KERNEL_CMDLINE },
    guestHelper: guestHelperVersion(readFileSync(join(guestLinuxDir(), 'ardesia-guest-helper'), 'utf8')),
    packages,
    virtualSize: IMAGE_VIRTUAL_BYTES,
    sha256,
  };
}

