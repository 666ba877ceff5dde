// Pure core of the guest builder: what to fetch, the cache key, module load order, the manifest.
// No I/O here, so every rule is covered by table tests in test/guests/plan.test.ts.
import { createHash } from 'node:crypto';

export type GuestArch = 'amd64' | 'i386';

/** A Debian package pinned to the exact version apt would fetch. */
export interface PinnedPackage {
  arch: GuestArch;
  name: string;
  version: string;
}

/** Kernel modules every guest loads; the rest of the load list is their dependency closure. */
export const GUEST_MODULES = ['virtio_pci', 'virtio_blk', 'virtio_console', 'virtio_net', 'virtio_balloon', 'button', 'evdev'] as const;

/** Metapackages whose single `Depends:` names the kernel package of the moment. */
export const KERNEL_METAPACKAGES: Record<GuestArch, string> = {
  amd64: 'linux-image-cloud-amd64',
  i386: 'linux-image-686',
};

/** Fixed packages per architecture (the kernel is resolved from its metapackage). */
export const FIXED_PACKAGES: Record<GuestArch, readonly string[]> = {
  amd64: ['busybox-static', 'isolinux', 'syslinux-common'],
  i386: ['busybox-static'],
};

export const MANIFEST_FORMAT = 1;

export interface GuestManifest {
  format: typeof MANIFEST_FORMAT;
  key: string;
  builtAt: string;
  packages: PinnedPackage[];
  /** Paths relative to the manifest's folder. */
  amd64: { kernel: string; initrd: string; rootQcow2: string; banner: string; kernelRelease: string; modules: string[] };
  i386: { kernel: string; initrd: string; banner: string; kernelRelease: string; modules: string[] };
  biosIso: string;
  uefiEsp?: string;
}

export class GuestPlanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GuestPlanError';
  }
}

export function bannerFor(arch: GuestArch): string {
  return `ARDESIA-GUEST ${arch} READY`;
}

/** Cache folder name: changes with any package version or any build input byte. */
export function cacheKey(packages: readonly PinnedPackage[], inputsDigest: string): string {
  const pins = packages.map((p) => `${p.arch}:${p.name}=${p.version}`).sort();
  const hash = createHash('sha256').update(JSON.stringify({ format: MANIFEST_FORMAT, pins, inputsDigest }));
  return hash.digest('hex').slice(0, 20);
}

/** Digest of build inputs given as (relative path, content) pairs, independent of listing order. */
export function inputsDigest(files: ReadonlyArray<{ path: string; content: Buffer | string }>): string {
  const hash = createHash('sha256');
  for (const file of [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    const body = createHash('sha256').update(file.content).digest('hex');
    hash.update(`${file.path}\0${body}\n`);
  }
  return hash.digest('hex');
}

/** The package named by `apt-cache depends META` (its first `Depends:` line). */
export function parseKernelDependency(aptCacheDependsOutput: string, metapackage: string): string {
  const match = /^\s*Depends:\s*(\S+)/m.exec(aptCacheDependsOutput);
  if (!match?.[1]) throw new GuestPlanError(`apt-cache depends ${metapackage} names no kernel package; run apt-get update`);
  return match[1];
}

/** Candidate versions from `apt-cache policy A B …`, keyed by package name. */
export function parseCandidates(aptCachePolicyOutput: string): Map<string, string> {
  const candidates = new Map<string, string>();
  let current: string | undefined;
  for (const line of aptCachePolicyOutput.split('\n')) {
    const header = /^(\S+):$/.exec(line);
    if (header?.[1]) current = header[1].replace(/:(amd64|i386)$/, '');
    const candidate = /^\s+Candidate:\s*(\S+)/.exec(line);
    if (current && candidate?.[1] && candidate[1] !== '(none)') candidates.set(current, candidate[1]);
  }
  return candidates;
}

/** Module names from a .ko's modinfo `depends=` string ('' → none). */
export function parseModuleDepends(modinfoDepends: string): string[] {
  return modinfoDepends
    .split(',')
    .map((name) => normalizeModuleName(name.trim()))
    .filter((name) => name.length > 0);
}

/** Module names use '_' where file names may use '-'. */
export function normalizeModuleName(name: string): string {
  return name.replace(/-/g, '_');
}

/** Load order for `wanted` and everything they depend on: each module after its dependencies. */
export function moduleLoadOrder(wanted: readonly string[], dependsOf: (name: string) => string[] | undefined): string[] {
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, path: readonly string[]): void => {
    const seen = state.get(name);
    if (seen === 'done') return;
    if (seen === 'visiting') throw new GuestPlanError(`module dependency cycle: ${[...path, name].join(' -> ')}`);
    const deps = dependsOf(name);
    if (deps === undefined) throw new GuestPlanError(`kernel module ${name} is not in the kernel package (needed by ${path.at(-1) ?? 'the guest'})`);
    state.set(name, 'visiting');
    for (const dep of deps) visit(dep, [...path, name]);
    state.set(name, 'done');
    order.push(name);
  };
  for (const name of wanted) visit(normalizeModuleName(name), []);
  return order;
}

/** Where a kernel package keeps its image, and its release string, from the package name. */
export function kernelRelease(kernelPackage: string): string {
  const match = /^linux-image-(.+)$/.exec(kernelPackage);
  if (!match?.[1]) throw new GuestPlanError(`not a kernel image package: ${kernelPackage}`);
  return match[1];
}

/** Picks the newest manifest among candidates by build time (ISO strings sort chronologically). */
export function newestManifest<T extends { builtAt: string }>(manifests: readonly T[]): T | undefined {
  return [...manifests].sort((a, b) => (a.builtAt < b.builtAt ? 1 : a.builtAt > b.builtAt ? -1 : 0))[0];
}
