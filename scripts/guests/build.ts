// `npm run guests`: builds the test guests once from Debian packages into
// .cache/guests/<key>/ (key = exact package versions + build inputs), atomically; later runs say "cached".
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  aptFingerprint,
  downloadPinned,
  extractDeb,
  GuestBuildError,
  hostScope,
  privateI386Scope,
  privateStateIsStale,
  refreshPrivateState,
  resolvePins,
  type AptScope,
} from './apt.js';
import { buildBiosIso, buildInitramfs, buildRootQcow2, buildSystemTree, buildUefiEsp, type ExtractedArch } from './assemble.js';
import { bannerFor, cacheKey, inputsDigest, kernelRelease, MANIFEST_FORMAT, type GuestArch, type GuestManifest, type PinnedPackage } from './plan.js';

const REPO_ROOT = process.env.ARDESIA_REPO_ROOT ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const CACHE_ROOT = join(REPO_ROOT, '.cache', 'guests');
const GUEST_DIR = join(REPO_ROOT, 'guest');
const MEMO_PATH = join(CACHE_ROOT, 'resolved.json');
/** Builds kept in the cache: the new one plus a couple that a parallel test run may still read. */
const KEPT_BUILDS = 3;

/**
 * Every file that shapes the guests: what goes inside them (guest/system, initramfs, boot — not
 * guest/linux, the desktop helper, which the tests inject themselves) and the scripts that build them.
 */
const GUEST_INPUT_DIRS = ['system', 'initramfs', 'boot'];

function buildInputs(): Array<{ path: string; content: Buffer }> {
  const files: Array<{ path: string; content: Buffer }> = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (!entry.name.endsWith('.test.ts')) files.push({ path: `${relative(REPO_ROOT, path)}:${statSync(path).mode & 0o111 ? 'x' : '-'}`, content: readFileSync(path) });
    }
  };
  for (const dir of GUEST_INPUT_DIRS) walk(join(GUEST_DIR, dir));
  walk(join(REPO_ROOT, 'scripts', 'guests'));
  return files;
}

/** Exact versions apt would fetch; memoised on the apt index files so a cached run stays fast. */
function pinnedPackages(scopes: readonly AptScope[]): PinnedPackage[] {
  const fingerprint = aptFingerprint(scopes);
  if (existsSync(MEMO_PATH)) {
    const memo = JSON.parse(readFileSync(MEMO_PATH, 'utf8')) as { fingerprint?: string; pins?: PinnedPackage[] };
    if (memo.fingerprint === fingerprint && memo.pins) return memo.pins;
  }
  const pins = scopes.flatMap((scope) => resolveWithRefresh(scope));
  writeFileSync(MEMO_PATH, JSON.stringify({ fingerprint, pins }, null, 1));
  return pins;
}

/** A fresh machine may never have run `apt-get update`: do it once (as root) before giving up. */
function resolveWithRefresh(scope: AptScope): PinnedPackage[] {
  try {
    return resolvePins(scope);
  } catch (err) {
    if (scope.arch !== 'amd64' || process.getuid?.() !== 0) throw err;
    console.log('guests: apt has no candidates yet; running apt-get update');
    spawnSync('apt-get', ['-q', 'update'], { stdio: 'inherit' });
    return resolvePins(scope);
  }
}

/** Old builds beyond the newest few are removed (other test runs may still use the recent ones). */
function pruneOldBuilds(keep: number): void {
  const builds = readdirSync(CACHE_ROOT)
    .filter((entry) => !entry.startsWith('.') && existsSync(join(CACHE_ROOT, entry, 'manifest.json')))
    .map((entry) => ({ entry, mtime: statSync(join(CACHE_ROOT, entry, 'manifest.json')).mtimeMs }))
    .sort((a, b) => b.mtime - a.mtime);
  for (const old of builds.slice(keep)) rmSync(join(CACHE_ROOT, old.entry), { recursive: true, force: true });
}

function main(): void {
  const started = Date.now();
  mkdirSync(CACHE_ROOT, { recursive: true });
  const i386 = privateI386Scope(join(CACHE_ROOT, 'apt-i386'));
  if (privateStateIsStale(i386)) refreshPrivateState(i386);
  const scopes = [hostScope(), i386];
  const pins = pinnedPackages(scopes);
  const key = cacheKey(pins, inputsDigest(buildInputs()));
  const finalDir = join(CACHE_ROOT, key);
  removeAbandonedBuilds();
  if (existsSync(join(finalDir, 'manifest.json'))) {
    console.log(`guests: cached ${relative(REPO_ROOT, finalDir)} (${Date.now() - started} ms)`);
    return;
  }
  const tmpDir = join(CACHE_ROOT, `.tmp-${key}-${process.pid}`);
  rmSync(tmpDir, { recursive: true, force: true });
  mkdirSync(tmpDir, { recursive: true });
  try {
    const manifest = buildAll(scopes, pins, key, tmpDir);
    writeFileSync(join(tmpDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    publish(tmpDir, finalDir);
    pruneOldBuilds(KEPT_BUILDS);
  } catch (err) {
    rmSync(tmpDir, { recursive: true, force: true });
    throw err;
  }
  console.log(`guests: built ${relative(REPO_ROOT, finalDir)} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/** Atomic publish: a rename; if a concurrent build got there first, keep its folder. */
function publish(tmpDir: string, finalDir: string): void {
  try {
    renameSync(tmpDir, finalDir);
  } catch (err) {
    if (!existsSync(join(finalDir, 'manifest.json'))) throw err;
    rmSync(tmpDir, { recursive: true, force: true });
  }
}

/** Temp folders of builds whose process is gone (interrupted) are deleted. */
function removeAbandonedBuilds(): void {
  for (const entry of readdirSync(CACHE_ROOT)) {
    const pid = Number(/^\.tmp-[0-9a-f]+-(\d+)$/.exec(entry)?.[1]);
    if (!pid || isAlive(pid)) continue;
    rmSync(join(CACHE_ROOT, entry), { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function step<T>(label: string, fn: () => T): T {
  const t0 = Date.now();
  const result = fn();
  console.log(`guests: ${label} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  return result;
}

/** Downloads and unpacks one architecture's packages under `work`. */
function fetchArch(scope: AptScope, pins: readonly PinnedPackage[], work: string): ExtractedArch & { bootloaderRoot: string } {
  const debs = join(CACHE_ROOT, 'debs', scope.arch);
  const kernelPin = pins.find((p) => p.arch === scope.arch && p.name.startsWith('linux-image-'));
  if (!kernelPin) throw new GuestBuildError(`no kernel package resolved for ${scope.arch}`);
  const root = join(work, scope.arch);
  const rootOf = (pin: PinnedPackage): string =>
    pin === kernelPin ? join(root, 'kernel') : pin.name === 'busybox-static' ? join(root, 'busybox') : join(root, 'bootloader');
  for (const pin of pins.filter((p) => p.arch === scope.arch)) extractDeb(downloadPinned(scope, pin, debs), rootOf(pin));
  return {
    arch: scope.arch,
    kernelRoot: join(root, 'kernel'),
    kernelRelease: kernelRelease(kernelPin.name),
    busyboxRoot: join(root, 'busybox'),
    bootloaderRoot: join(root, 'bootloader'),
  };
}

/** The kernel image and an initramfs for one architecture; returns the module load order. */
function kernelAndInitrd(src: ExtractedArch, work: string, outDir: string, rootQcow2?: string): string[] {
  const tree = join(work, src.arch, 'system');
  const modules = buildSystemTree(src, GUEST_DIR, tree);
  mkdirSync(outDir, { recursive: true });
  if (rootQcow2) step(`${src.arch} root.qcow2`, () => buildRootQcow2(tree, join(work, src.arch), rootQcow2));
  copyFileSync(join(src.kernelRoot, 'boot', `vmlinuz-${src.kernelRelease}`), join(outDir, 'vmlinuz'));
  step(`${src.arch} initrd.img`, () => buildInitramfs(tree, GUEST_DIR, join(outDir, 'initrd.img')));
  return modules;
}

function buildAll(scopes: readonly AptScope[], pins: PinnedPackage[], key: string, outDir: string): GuestManifest {
  const work = join(outDir, 'work');
  const [amd64Scope, i386Scope] = scopes as [AptScope, AptScope];
  const amd64 = step('amd64 packages', () => fetchArch(amd64Scope, pins, work));
  const i386 = step('i386 packages', () => fetchArch(i386Scope, pins, work));
  const amd64Modules = kernelAndInitrd(amd64, work, join(outDir, 'amd64'), join(outDir, 'amd64', 'root.qcow2'));
  const i386Modules = kernelAndInitrd(i386, work, join(outDir, 'i386'));
  const boot = { kernel: join(outDir, 'amd64', 'vmlinuz'), initrd: join(outDir, 'amd64', 'initrd.img'), guestDir: GUEST_DIR };
  step('bios.iso', () => buildBiosIso(boot, amd64.bootloaderRoot, work, join(outDir, 'bios.iso')));
  step('uefi-esp.img', () => buildUefiEsp(boot, join(outDir, 'uefi-esp.img')));
  rmSync(work, { recursive: true, force: true });
  const archEntry = (arch: GuestArch, src: ExtractedArch, modules: string[]) => ({
    kernel: `${arch}/vmlinuz`,
    initrd: `${arch}/initrd.img`,
    banner: bannerFor(arch),
    kernelRelease: src.kernelRelease,
    modules,
  });
  return {
    format: MANIFEST_FORMAT,
    key,
    builtAt: new Date().toISOString(),
    packages: pins,
    amd64: { ...archEntry('amd64', amd64, amd64Modules), rootQcow2: 'amd64/root.qcow2' },
    i386: archEntry('i386', i386, i386Modules),
    biosIso: 'bios.iso',
    uefiEsp: 'uefi-esp.img',
  };
}

try {
  main();
} catch (err) {
  const known = err instanceof GuestBuildError || (err instanceof Error && err.name === 'GuestPlanError');
  console.error(`guests: build failed: ${known ? (err as Error).message : String((err as Error)?.stack ?? err)}`);
  process.exit(1);
}
