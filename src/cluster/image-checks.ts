// The image files a VM placed on an agent's host rests on, with the sha256 each version was published with: the agent
// reads each before its first use there (agent/remote/image-checks.ts). Found from the disks' qcow2 headers, so a pool
// desktop's clone, a standalone desktop and a plain VM on an image's version are all covered.
import { dirname, join, relative, resolve, sep } from 'node:path';
import type { Logger } from 'pino';
import { IMAGE_FILE_CHECKS_MAX, type ImageFileCheck, type LocalDisk, type LocalFiles } from '../contract/agent.js';
import type { VmSpec } from '../contract/vm.js';
import { versionGet } from '../images/repo.js';
import { readQcow2Header } from '../storage/clone.js';
import type { Store } from '../store/db.js';
import { backingChains } from '../vms/qemu-confinement.js';

/** Pure: the image and version of a file in DATA_DIR/images (IMAGE/N.qcow2), or undefined for any other file. */
export function imageVersionAt(imagesDir: string, path: string): { image: string; version: number } | undefined {
  const rel = relative(imagesDir, path);
  const parts = rel.split(sep);
  if (parts.length !== 2 || parts[0] === '..' || parts[0] === '') return undefined;
  const m = /^([1-9][0-9]{0,9})\.qcow2$/.exec(parts[1]!);
  return m ? { image: parts[0]!, version: Number(m[1]) } : undefined;
}

export type ImageChecksOf = (spec: VmSpec) => Promise<ImageFileCheck[]>;

export function imageChecksFor(db: Store, dataDir: string, log: Logger): ImageChecksOf {
  const imagesDir = join(dataDir, 'images');
  return async (spec) => {
    // A disk the controller cannot read here fails the start there with QEMU's own words; nothing to check meanwhile.
    const chains = await backingChains(spec).catch((err: Error) => {
      log.warn({ vm: spec.name, err: err.message }, `vm ${spec.name}: its disks' backing files could not be read here (${err.message}); its host checks none`);
      return new Map<string, { path: string }[]>();
    });
    const files = new Set([...spec.disks.map((d) => d.path), ...[...chains.values()].flat().map((b) => b.path)]);
    const checks: ImageFileCheck[] = [];
    for (const path of files) {
      const at = imageVersionAt(imagesDir, path);
      const row = at && (await versionGet(db, at.image, at.version));
      if (row) checks.push({ path, sha256: row.sha256.toLowerCase() });
    }
    return checks.slice(0, IMAGE_FILE_CHECKS_MAX);
  };
}

export type LocalFilesOf = (spec: VmSpec) => Promise<LocalFiles>;

/** Pure: whether `path` lies inside `dir`. */
export function isInside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel !== '' && !rel.startsWith('..') && !rel.startsWith(sep) && !rel.startsWith('/');
}

/**
 * How a VM's files are had on a host without shared storage: each qcow2 disk of DATA_DIR/desktops/ (a pool desktop's
 * system disk on an image version, its blank scratch home) is made afresh there; the image's kernel and initrd are
 * copied. Any other file stays unlisted and the host refuses the start, naming it (placement keeps such VMs off).
 */
export function localFilesFor(dataDir: string): LocalFilesOf {
  const desktopsDir = join(dataDir, 'desktops');
  const imagesDir = join(dataDir, 'images');
  return async (spec) => {
    const disks: LocalDisk[] = [];
    for (const [disk, d] of spec.disks.entries()) {
      if (d.format !== 'qcow2' || !isInside(desktopsDir, d.path)) continue;
      const header = await readQcow2Header(d.path).catch(() => undefined);
      if (!header) continue;
      if (header.backingFile === undefined) disks.push({ disk, blankBytes: header.virtualSize });
      else {
        const base = resolve(dirname(d.path), header.backingFile);
        if (imageVersionAt(imagesDir, base)) disks.push({ disk, base });
      }
    }
    const boot = [spec.boot.kernel, spec.boot.initrd].filter((p): p is string => p !== undefined && isInside(imagesDir, p));
    return { disks, boot };
  };
}
