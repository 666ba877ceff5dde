// Thin I/O shell around apt: resolve exact versions, download .debs from the configured Debian
// mirror, extract them. i386 uses a private apt state so the host never gains an architecture.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  FIXED_PACKAGES,
  KERNEL_METAPACKAGES,
  parseCandidates,
  parseKernelDependency,
  type GuestArch,
  type PinnedPackage,
} from './plan.js';

export class GuestBuildError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GuestBuildError';
  }
}

/** Runs a program, returns its stdout as text; a non-zero exit becomes a GuestBuildError with stderr. */
export function run(cmd: string, args: readonly string[], opts: { cwd?: string; input?: Buffer } = {}): string {
  return runBuffer(cmd, args, opts).toString();
}

/** Runs a program, returns its stdout bytes (for binary output such as a cpio archive). */
export function runBuffer(cmd: string, args: readonly string[], opts: { cwd?: string; input?: Buffer } = {}): Buffer {
  const result = spawnSync(cmd, args, { cwd: opts.cwd, input: opts.input, maxBuffer: 256 * 1024 * 1024 });
  if (result.error) throw new GuestBuildError(`${cmd} could not start: ${result.error.message} (is its Debian package installed? run node scripts/setup.mjs)`);
  if (result.status !== 0) {
    const stderr = result.stderr.toString().trim().split('\n').slice(-6).join('\n');
    throw new GuestBuildError(`${cmd} ${args.join(' ')} failed (exit ${result.status}):\n${stderr}`);
  }
  return result.stdout;
}

/** The apt options that select one architecture's package view. */
export interface AptScope {
  arch: GuestArch;
  options: string[];
  /** Folders whose index files decide the versions (for the resolution memo). */
  listsDirs: string[];
}

const HOST_LISTS = '/var/lib/apt/lists';
const asRootSandbox = process.getuid?.() === 0 ? ['-o', 'APT::Sandbox::User=root'] : [];

export function hostScope(): AptScope {
  return { arch: 'amd64', options: [...asRootSandbox], listsDirs: [HOST_LISTS] };
}

/** A private i386 apt state under `dir`, refreshed when missing or older than the host's lists. */
export function privateI386Scope(dir: string): AptScope {
  const state = join(dir, 'state');
  const cache = join(dir, 'cache');
  const options = [
    '-o', 'APT::Architecture=i386',
    '-o', 'APT::Architectures::=i386',
    '-o', `Dir::State=${state}`,
    '-o', `Dir::State::status=${join(state, 'status')}`,
    '-o', `Dir::Cache=${cache}`,
    ...asRootSandbox,
  ];
  return { arch: 'i386', options, listsDirs: [join(state, 'lists')] };
}

export function privateStateIsStale(scope: AptScope): boolean {
  const own = newestIndexMtime(scope.listsDirs[0] ?? '');
  return own === 0 || own < newestIndexMtime(HOST_LISTS);
}

/** `apt-get update` into the private state; a failed secondary index is tolerated if packages still resolve. */
export function refreshPrivateState(scope: AptScope): void {
  const stateArg = scope.options.find((o) => o.startsWith('Dir::State='));
  const cacheArg = scope.options.find((o) => o.startsWith('Dir::Cache='));
  const state = stateArg?.slice('Dir::State='.length) ?? '';
  const cache = cacheArg?.slice('Dir::Cache='.length) ?? '';
  mkdirSync(join(state, 'lists', 'partial'), { recursive: true });
  mkdirSync(join(cache, 'archives', 'partial'), { recursive: true });
  if (!existsSync(join(state, 'status'))) writeFileSync(join(state, 'status'), '');
  const result = spawnSync('apt-get', [...scope.options, '-q', 'update'], { encoding: 'utf8' });
  if (result.status !== 0) console.warn(`guests: apt-get update (i386) reported errors; continuing with the indexes it got:\n${result.stderr.trim()}`);
}

/** The exact kernel, busybox and boot-loader versions apt would fetch now for this scope. */
export function resolvePins(scope: AptScope): PinnedPackage[] {
  const meta = KERNEL_METAPACKAGES[scope.arch];
  const kernel = parseKernelDependency(run('apt-cache', [...scope.options, 'depends', meta]), meta);
  const names = [kernel, ...FIXED_PACKAGES[scope.arch]];
  const candidates = parseCandidates(run('apt-cache', [...scope.options, 'policy', ...names]));
  return names.map((name) => {
    const version = candidates.get(name);
    if (!version) throw new GuestBuildError(`apt has no ${scope.arch} candidate for ${name}; run apt-get update (is the Debian mirror in /etc/apt/sources.list.d reachable?)`);
    return { arch: scope.arch, name, version };
  });
}

/** Downloads (once) the pinned .deb into `debsDir` and checks its control fields match the pin. */
export function downloadPinned(scope: AptScope, pin: PinnedPackage, debsDir: string): string {
  mkdirSync(debsDir, { recursive: true });
  // apt names files NAME_VERSION_ARCH.deb with ':' escaped; ARCH may be 'all'.
  const prefix = `${pin.name}_${pin.version.replace(/:/g, '%3a')}_`;
  const find = (): string | undefined => readdirSync(debsDir).find((f) => f.startsWith(prefix) && f.endsWith('.deb'));
  if (!find()) run('apt-get', [...scope.options, '-q', 'download', `${pin.name}=${pin.version}`], { cwd: debsDir });
  const fileName = find();
  if (!fileName) throw new GuestBuildError(`apt-get download ${pin.name}=${pin.version} left no ${prefix}*.deb in ${debsDir}`);
  const path = join(debsDir, fileName);
  const [name, version] = run('dpkg-deb', ['-f', path, 'Package', 'Version']).trim().split('\n').map((l) => l.replace(/^\w+:\s*/, ''));
  if (name !== pin.name || version !== pin.version) throw new GuestBuildError(`${path} holds ${name} ${version}, expected ${pin.name} ${pin.version}; delete it and rebuild`);
  return path;
}

export function extractDeb(debPath: string, dest: string): void {
  mkdirSync(dest, { recursive: true });
  run('dpkg-deb', ['-x', debPath, dest]);
}

/** Fingerprint of everything that decides apt's candidate versions (index files and apt config). */
export function aptFingerprint(scopes: readonly AptScope[]): string {
  const parts: string[] = [];
  const dirs = [...scopes.flatMap((s) => s.listsDirs), '/etc/apt/sources.list.d', '/etc/apt/preferences.d'];
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    for (const entry of readdirSync(dir).sort()) {
      if (entry === 'lock' || entry === 'partial') continue;
      const st = statSync(join(dir, entry));
      parts.push(`${dir}/${entry}:${st.size}:${st.mtimeMs}`);
    }
  }
  return parts.join('\n');
}

function newestIndexMtime(dir: string): number {
  if (!dir || !existsSync(dir)) return 0;
  let newest = 0;
  for (const entry of readdirSync(dir)) {
    if (!entry.includes('Packages')) continue;
    newest = Math.max(newest, statSync(join(dir, entry)).mtimeMs);
  }
  return newest;
}
