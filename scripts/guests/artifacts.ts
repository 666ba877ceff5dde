// Where the cached test guests are: reads the newest .cache/guests/<key>/manifest.json written by
// `npm run guests` (scripts/guests/build.ts) and returns absolute paths.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { newestManifest } from './plan.js';

export interface GuestArtifacts {
  /** The cache folder these came from. */
  dir: string;
  amd64: { kernel: string; initrd: string; rootQcow2: string; banner: string };
  i386: { kernel: string; initrd: string; banner: string };
  biosIso: string;
  uefiEsp?: string;
}

export class GuestArtifactsMissingError extends Error {
  constructor(message: string) {
    super(`${message}; build the test guests with \`npm run guests\` (cached after the first run)`);
    this.name = 'GuestArtifactsMissingError';
  }
}

interface ManifestShape {
  format: number;
  builtAt: string;
  amd64: { kernel: string; initrd: string; rootQcow2: string; banner: string };
  i386: { kernel: string; initrd: string; banner: string };
  biosIso: string;
  uefiEsp?: string;
}

function repoRoot(): string {
  // Compiled to dist/scripts/guests/artifacts.js: three levels up is the repository.
  return process.env.ARDESIA_REPO_ROOT ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
}

function readManifests(cacheRoot: string): Array<{ dir: string; manifest: ManifestShape }> {
  if (!existsSync(cacheRoot)) return [];
  const found: Array<{ dir: string; manifest: ManifestShape }> = [];
  for (const entry of readdirSync(cacheRoot)) {
    const path = join(cacheRoot, entry, 'manifest.json');
    if (entry.startsWith('.') || !existsSync(path)) continue;
    found.push({ dir: join(cacheRoot, entry), manifest: JSON.parse(readFileSync(path, 'utf8')) as ManifestShape });
  }
  return found;
}

/** Absolute paths of the newest built test guests; throws GuestArtifactsMissingError if none or incomplete. */
export function guestArtifacts(): GuestArtifacts {
  const cacheRoot = join(repoRoot(), '.cache', 'guests');
  const found = readManifests(cacheRoot).map((m) => ({ ...m, builtAt: m.manifest.builtAt }));
  const newest = newestManifest(found);
  if (!newest) throw new GuestArtifactsMissingError(`no test guests in ${cacheRoot}`);
  const { dir, manifest } = newest;
  const abs = (rel: string): string => {
    const path = join(dir, rel);
    if (!existsSync(path)) throw new GuestArtifactsMissingError(`${path} is listed in the manifest but missing`);
    return path;
  };
  return {
    dir,
    amd64: {
      kernel: abs(manifest.amd64.kernel),
      initrd: abs(manifest.amd64.initrd),
      rootQcow2: abs(manifest.amd64.rootQcow2),
      banner: manifest.amd64.banner,
    },
    i386: { kernel: abs(manifest.i386.kernel), initrd: abs(manifest.i386.initrd), banner: manifest.i386.banner },
    biosIso: abs(manifest.biosIso),
    ...(manifest.uefiEsp ? { uefiEsp: abs(manifest.uefiEsp) } : {}),
  };
}
