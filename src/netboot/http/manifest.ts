// The thin-client OS build's manifest (DATA_DIR/thinclient/current/manifest.json), read and checked.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';

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
}).passthrough();
export type OsManifest = z.infer<typeof OsManifest>;

export function osFolder(dataDir: string): string {
  return join(dataDir, 'thinclient', 'current');
}

export class OsManifestError extends Error {
  constructor(path: string, why: string) {
    super(`the thin-client OS manifest ${path} is unusable: ${why}`);
    this.name = 'OsManifestError';
  }
}

/** The manifest, or undefined when no OS is built; throws OsManifestError when it is broken. */
export async function readOsManifest(dataDir: string): Promise<OsManifest | undefined> {
  const path = join(osFolder(dataDir), 'manifest.json');
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
