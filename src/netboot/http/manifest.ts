// The thin-client OS builds' manifests (DATA_DIR/thinclient/current-<arch>/manifest.json), read and checked.
// One OS per architecture: a server can boot a mixed fleet of 64-bit and 32-bit-only PCs.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { THIN_CLIENT_ARCHES, type ThinClientArch } from '../../thinclients/os/plan.js';

/** File names the boot routes may serve: one path component, no dot files. */
export const BOOT_FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;

export const OsManifest = z.object({
  files: z.record(
    z.string().regex(BOOT_FILE_NAME),
    z.object({ size: z.number().int().nonnegative(), sha256: z.string().regex(/^[0-9a-f]{64}$/) }),
  ),
  kernelCmdline: z.string().max(2048).regex(/^[\x20-\x7e]*$/).default(''),
  kernel: z.string().regex(BOOT_FILE_NAME).default('vmlinuz'),
  initrd: z.string().regex(BOOT_FILE_NAME).default('initrd.img'),
  /** The CA its kiosk verifies the portal with (null or absent: none baked in). */
  portalCa: z.object({ sha256: z.string().max(200), subject: z.string().max(1000) }).nullable().optional(),
}).passthrough();
export type OsManifest = z.infer<typeof OsManifest>;

/** Where the current OS of `arch` lives (a symlink to its version folder, switched atomically). */
export function osFolder(dataDir: string, arch: ThinClientArch): string {
  return join(dataDir, 'thinclient', `current-${arch}`);
}

export function isThinClientArch(text: string): text is ThinClientArch {
  return (THIN_CLIENT_ARCHES as readonly string[]).includes(text);
}

export class OsManifestError extends Error {
  constructor(path: string, why: string) {
    super(`the thin-client OS manifest ${path} is unusable: ${why}`);
    this.name = 'OsManifestError';
  }
}

/** The manifest of `arch`, or undefined when that OS is not built; throws OsManifestError when it is broken. */
export async function readOsManifest(dataDir: string, arch: ThinClientArch): Promise<OsManifest | undefined> {
  const path = join(osFolder(dataDir, arch), 'manifest.json');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new OsManifestError(path, (err as Error).message);
  }
  const parsed = OsManifest.safeParse(json);
  if (!parsed.success) throw new OsManifestError(path, parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  for (const name of [parsed.data.kernel, parsed.data.initrd]) {
    if (!parsed.data.files[name]) throw new OsManifestError(path, `${name} is not in files`);
  }
  return parsed.data;
}

/** Every built OS's manifest by architecture (none built: an empty object). */
export async function readOsManifests(dataDir: string): Promise<Partial<Record<ThinClientArch, OsManifest>>> {
  const found: Partial<Record<ThinClientArch, OsManifest>> = {};
  for (const arch of THIN_CLIENT_ARCHES) {
    const manifest = await readOsManifest(dataDir, arch);
    if (manifest) found[arch] = manifest;
  }
  return found;
}
