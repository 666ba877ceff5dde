// `ardesia thinclient build`: the thin-client OS from Debian packages. mmdebstrap minbase + kiosk
// packages (cached by apt index + package list) → idempotent overlay (guest/thinclient/root) →
// kernel, initramfs, root.squashfs (cached by installed versions + the builder's own files) → outDir.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, copyFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { aptIndexDigest, resolveMirror } from '../../images/build/debian.js';
import { DEBIAN_SUITE, mmdebstrapArgs, mmdebstrapStage, parseDpkgStatus, type DebianMirror } from '../../images/build/debian-plan.js';
import { buildFolderPath, removeBuildFolder, sweepAbandonedBuilds } from '../../images/build/build-folders.js';
import { applyOverlay, slimTree, type OverlayFile } from '../../images/build/rootfs-overlay.js';
import { withFileLock } from '../../lib/file-lock.js';
import { X509Certificate } from 'node:crypto';
import { runProgram, ThinClientBuildError } from './exec.js';
import { buildInitramfs } from './initramfs.js';
import {
  outputCacheKey,
  packagesHash,
  renderManifest,
  ROOT_EXCLUDES,
  THIN_CLIENT_ARCHES,
  THIN_CLIENT_CMDLINE,
  thinClientPackages,
  thinClientVersion,
  treeCacheKey,
  type ThinClientArch,
  type ThinClientManifest,
} from './plan.js';

export { ThinClientBuildError } from './exec.js';

export interface BuildThinClientOsOptions {
  arch: ThinClientArch;
  /** Receives vmlinuz, initrd.img, root.squashfs and manifest.json. */
  outDir: string;
  /** Git-ignored cache, e.g. .cache/thinclient. */
  cacheDir: string;
  log?: (line: string) => void;
  progress?: (stage: string, fraction?: number) => void;
  /** Defaults to the bookworm mirror configured in /etc/apt/sources.list.d. */
  mirror?: string;
  /** The CA (PEM) the kiosk verifies the portal's HTTPS certificate with: DATA_DIR/tls/ca.crt, or the administrator's.
   *  Without one the kiosk can only use a plain-HTTP portal. */
  portalCaPem?: string;
}

export interface BuiltThinClientOs {
  outDir: string;
  manifest: ThinClientManifest;
  /** Which cache levels were warm. */
  cached: { tree: boolean; outputs: boolean };
}

export const OUTPUT_FILES = ['vmlinuz', 'initrd.img', 'root.squashfs', 'manifest.json'] as const;

function repoRoot(): string {
  // Compiled to dist/src/thinclients/os/: four levels up is the repository.
  return process.env.ARDESIA_REPO_ROOT ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
}

export function thinClientGuestDir(): string {
  return join(repoRoot(), 'guest', 'thinclient');
}

/** Every file under `dirs` (recursively, sorted), hashed with its relative path: the builder's own inputs. */
function builderDigest(dirs: readonly string[]): string {
  const hash = createHash('sha256');
  const walk = (dir: string, rel: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path, `${rel}/${name}`);
      else if (!name.endsWith('.test.js') && !name.endsWith('.map')) hash.update(`${rel}/${name}\0`).update(readFileSync(path)).update('\n');
    }
  };
  for (const dir of dirs) walk(dir, dir.slice(dir.lastIndexOf('/')));
  return hash.digest('hex');
}

/** The tree stage's share of the whole build's progress (the outputs take the rest). */
const TREE_PROGRESS_SHARE = 0.6;

async function debianTree(opts: BuildThinClientOsOptions, mirror: DebianMirror): Promise<{ root: string; cached: boolean }> {
  const progress = opts.progress ?? (() => undefined);
  const packages = thinClientPackages(opts.arch);
  const key = treeCacheKey({ arch: opts.arch, mirror: mirror.uri, suite: DEBIAN_SUITE, packages, indexDigest: aptIndexDigest(mirror) });
  const cached = join(opts.cacheDir, `tree-${opts.arch}-${key}`);
  if (existsSync(join(cached, 'complete'))) {
    progress('mmdebstrap: cached', TREE_PROGRESS_SHARE);
    return { root: join(cached, 'root'), cached: true };
  }
  const building = buildFolderPath(opts.cacheDir, `tree-${key}`);
  sweepAbandonedBuilds(opts.cacheDir);
  removeBuildFolder(building);
  const debCache = resolve(opts.cacheDir, `debs-${opts.arch}`);
  mkdirSync(debCache, { recursive: true });
  mkdirSync(building, { recursive: true });
  try {
    const root = join(building, 'root');
    let last = '';
    await runProgram('mmdebstrap', mmdebstrapArgs({ root, mirror, arch: opts.arch, packages, debCache }), {
      // The OS boots with our own initramfs (buildInitramfs): Debian's kernel hook need not make one. It is the
      // slowest step of the build, minutes under qemu-user on a host without IA32 emulation.
      env: { INITRD: 'No' },
      onLine: (line) => {
        opts.log?.(line);
        const stage = mmdebstrapStage(line, last);
        if (stage && stage.stage !== last) progress(stage.stage, stage.fraction * TREE_PROGRESS_SHARE);
        if (stage) last = stage.stage;
      },
    });
    slimTree(root);
    writeFileSync(join(building, 'complete'), `${new Date().toISOString()}\n`);
    rmSync(cached, { recursive: true, force: true });
    renameSync(building, cached);
  } catch (err) {
    removeBuildFolder(building);
    throw err;
  }
  return { root: join(cached, 'root'), cached: false };
}

function kioskOverlay(): OverlayFile[] {
  return [
    { path: 'usr/lib/ardesia/tc-init', from: 'root/tc-init', mode: 0o755 },
    { path: 'usr/lib/ardesia/tc-kiosk', from: 'root/tc-kiosk', mode: 0o755 },
    { path: 'usr/lib/ardesia/tc-browser', from: 'root/tc-browser', mode: 0o755 },
    { path: 'usr/local/bin/ardesia-tc-spice', from: 'root/ardesia-tc-spice', mode: 0o755 },
    { path: 'etc/hostname', content: 'ardesia-thinclient\n' },
    { path: 'etc/hosts', content: '127.0.0.1\tlocalhost\n' },
    { path: 'etc/ardesia-thinclient', content: 'ardesia thin client\n' },
  ];
}

/** Idempotent changes to the cached tree: our scripts, and the unprivileged user the browser runs as. */
async function customiseTree(root: string, log: (line: string) => void): Promise<void> {
  applyOverlay(root, kioskOverlay(), thinClientGuestDir());
  const passwd = readFileSync(join(root, 'etc', 'passwd'), 'utf8');
  if (!/^kiosk:/m.test(passwd)) await runProgram('chroot', [root, 'useradd', '--create-home', '--groups', 'video,input,render', '--shell', '/usr/sbin/nologin', 'kiosk'], { onLine: log });
}

function kernelReleaseOf(root: string): string {
  const releases = readdirSync(join(root, 'usr', 'lib', 'modules')).sort();
  const release = releases.at(-1);
  if (!release || !existsSync(join(root, 'boot', `vmlinuz-${release}`))) throw new ThinClientBuildError(`no kernel in ${root}/boot; is ${thinClientPackages('amd64')[0]} in the package list?`);
  return release;
}

function sha256File(path: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const hash = createHash('sha256');
    createReadStream(path).on('data', (c) => hash.update(c)).on('error', reject).on('end', () => resolvePromise(hash.digest('hex')));
  });
}

/** The CA's SHA-256 fingerprint and subject; a PEM that is not one certificate (CA) fails the build. */
export function portalCaInfo(pem: string): { sha256: string; subject: string } {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch (err) {
    throw new ThinClientBuildError(`the portal CA is not a PEM certificate: ${(err as Error).message}`, 'THINCLIENT_CA_INVALID');
  }
  return { sha256: cert.fingerprint256, subject: cert.subject.replace(/\n/g, ', ') };
}

async function buildOutputs(opts: BuildThinClientOsOptions, root: string, release: string, key: string, installed: { hash: string; count: number }, dest: string): Promise<void> {
  const progress = opts.progress ?? (() => undefined);
  const building = buildFolderPath(opts.cacheDir, `out-${key}`);
  rmSync(building, { recursive: true, force: true });
  mkdirSync(building, { recursive: true });
  try {
    progress('kernel', 0.62);
    copyFileSync(join(root, 'boot', `vmlinuz-${release}`), join(building, 'vmlinuz'));
    progress('initramfs', 0.65);
    const modules = await buildInitramfs({ root, release, guestDir: thinClientGuestDir(), dest: join(building, 'initrd.img'), workDir: building,
      ...(opts.portalCaPem ? { portalCa: { pem: opts.portalCaPem, sha256: portalCaInfo(opts.portalCaPem).sha256 } } : {}) });
    opts.log?.(`initramfs: ${modules} kernel modules`);
    progress('root.squashfs', 0.7);
    await cachedRootImage(opts, root, installed.hash, join(building, 'root.squashfs'));
    progress('manifest', 0.97);
    const builtAt = new Date();
    const files = {} as ThinClientManifest['files'];
    for (const name of ['vmlinuz', 'initrd.img', 'root.squashfs'] as const) {
      files[name] = { size: statSync(join(building, name)).size, sha256: await sha256File(join(building, name)) };
    }
    const manifest: ThinClientManifest = {
      version: thinClientVersion(builtAt, key), arch: opts.arch, builtAt: builtAt.toISOString(), packages: installed.hash,
      packageCount: installed.count, kernelRelease: release, files, kernelCmdline: THIN_CLIENT_CMDLINE,
      portalCa: opts.portalCaPem ? portalCaInfo(opts.portalCaPem) : null,
    };
    writeFileSync(join(building, 'manifest.json'), renderManifest(manifest));
    rmSync(dest, { recursive: true, force: true });
    renameSync(building, dest);
  } catch (err) {
    rmSync(building, { recursive: true, force: true });
    throw err;
  }
}

// zstd level 6: level 15-19 took 90-375 s on 2 cores for ~5 % less; zstd decompresses as fast at any level.
const MKSQUASHFS_OPTIONS = ['-noappend', '-comp', 'zstd', '-Xcompression-level', '6', '-no-progress', '-quiet', '-wildcards'];

/** root.squashfs has its own cache level (the slow step): installed versions + the root's own files + how it is packed. */
async function cachedRootImage(opts: BuildThinClientOsOptions, root: string, installedHash: string, dest: string): Promise<void> {
  const rootInputs = `${builderDigest([join(thinClientGuestDir(), 'root')])}\n${JSON.stringify([ROOT_EXCLUDES, MKSQUASHFS_OPTIONS])}`;
  const key = outputCacheKey(opts.arch, installedHash, createHash('sha256').update(rootInputs).digest('hex'));
  const cached = join(opts.cacheDir, `root-${opts.arch}-${key}.squashfs`);
  if (!existsSync(cached)) {
    const temp = `${cached}.${process.pid}`;
    try {
      await runProgram('mksquashfs', [root, temp, ...MKSQUASHFS_OPTIONS, ...ROOT_EXCLUDES.flatMap((pattern) => ['-e', pattern])], { onLine: opts.log });
      renameSync(temp, cached);
    } finally {
      rmSync(temp, { force: true });
    }
  }
  linkOrCopy(cached, dest);
}

function linkOrCopy(from: string, to: string): void {
  try {
    linkSync(from, to);
  } catch {
    copyFileSync(from, to);
  }
}

/** Hard-links (or copies across file systems) the cached outputs into outDir, each file replaced atomically. */
function publish(fromDir: string, outDir: string): void {
  mkdirSync(outDir, { recursive: true });
  for (const name of OUTPUT_FILES) {
    const temp = join(outDir, `.${name}.${process.pid}`);
    rmSync(temp, { force: true });
    linkOrCopy(join(fromDir, name), temp);
    renameSync(temp, join(outDir, name));
  }
}

/** Output sets kept per architecture: each portal CA makes its own (a few MB: the root image is a hard link). */
const KEPT_OUTPUTS = 4;

/** Drops all but the newest KEPT_OUTPUTS output folders of `arch` (runs under the cache lock; published copies stay). */
function pruneOutputs(cacheDir: string, arch: ThinClientArch, current: string): void {
  const sets = readdirSync(cacheDir).filter((name) => name.startsWith(`out-${arch}-`)).map((name) => join(cacheDir, name))
    .filter((dir) => dir !== current).sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  for (const dir of sets.slice(KEPT_OUTPUTS - 1)) rmSync(dir, { recursive: true, force: true });
}

/** One build at a time per cache folder and architecture (each has its own .deb cache, tree, root image and outputs;
 *  the two architectures build at once); see buildThinClientOsLocked. */
export async function buildThinClientOs(opts: BuildThinClientOsOptions): Promise<BuiltThinClientOs> {
  mkdirSync(resolve(opts.cacheDir), { recursive: true });
  return withFileLock(join(resolve(opts.cacheDir), `build-${opts.arch}.lock`), () => buildThinClientOsLocked(opts), (pid) =>
    (opts.log ?? (() => undefined))(`waiting for another thin-client build (pid ${pid}) using ${opts.cacheDir}`));
}

async function buildThinClientOsLocked(opts: BuildThinClientOsOptions): Promise<BuiltThinClientOs> {
  const progress = opts.progress ?? (() => undefined);
  const log = opts.log ?? (() => undefined);
  if (!THIN_CLIENT_ARCHES.includes(opts.arch)) throw new ThinClientBuildError(`unsupported architecture ${String(opts.arch)}: use ${THIN_CLIENT_ARCHES.join(' or ')}`, 'BAD_REQUEST');
  if (process.getuid?.() !== 0) throw new ThinClientBuildError('building the thin-client OS needs root (mmdebstrap, chroot, a root-owned tree)', 'IMAGE_BUILD_NEEDS_ROOT');
  const cacheDir = resolve(opts.cacheDir);
  mkdirSync(cacheDir, { recursive: true });
  const tree = await debianTree({ ...opts, cacheDir }, resolveMirror(opts.mirror, (m) => new ThinClientBuildError(m, 'IMAGE_BUILD_NO_MIRROR')));
  progress('customise', 0.6);
  await customiseTree(tree.root, log);
  const release = kernelReleaseOf(tree.root);
  const installed = parseDpkgStatus(readFileSync(join(tree.root, 'var', 'lib', 'dpkg', 'status'), 'utf8'));
  const installedHash = packagesHash(installed);
  const portalCa = opts.portalCaPem ? portalCaInfo(opts.portalCaPem) : null; // a bad PEM fails before the slow steps
  const key = outputCacheKey(opts.arch, installedHash, builderDigest([thinClientGuestDir(), dirname(fileURLToPath(import.meta.url))]), portalCa?.sha256 ?? null);
  const outputs = join(cacheDir, `out-${opts.arch}-${key}`);
  const outputsCached = existsSync(join(outputs, 'manifest.json'));
  if (!outputsCached) await buildOutputs({ ...opts, cacheDir }, tree.root, release, key, { hash: installedHash, count: installed.length }, outputs);
  else progress('outputs: cached', 0.97);
  publish(outputs, resolve(opts.outDir));
  pruneOutputs(cacheDir, opts.arch, outputs);
  progress('done', 1);
  const manifest = JSON.parse(readFileSync(join(outputs, 'manifest.json'), 'utf8')) as ThinClientManifest;
  return { outDir: resolve(opts.outDir), manifest, cached: { tree: tree.cached, outputs: outputsCached } };
}
