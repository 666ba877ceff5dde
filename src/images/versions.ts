// Reading images and their versions out of the store, with the files' integrity checked before use.
import { join } from 'node:path';
import type { VmSpec } from '../contract/vm.js';
import { ArdesiaError } from '../contract/errors.js';
import type { BootProfile, ImageInfo, ImageVersion, MaintenanceSession } from '../contract/images.js';
import { verifyImageFile } from '../storage/index.js';
import type { ServiceContext } from './context.js';
import { chainOf, type UsageFacts } from './plan.js';
import { desktopsOfImage, imageGet, poolDesktopsOfImage, type ImageRow, sessionGet, type SessionRow, versionGet, versionList, type VersionRow } from './repo.js';

export async function requireImage(ctx: ServiceContext, name: string): Promise<ImageRow> {
  const row = await imageGet(ctx.db, name);
  if (!row) throw new ArdesiaError('IMAGE_NOT_FOUND', `image ${name} does not exist`);
  return row;
}

export async function requireVersion(ctx: ServiceContext, image: string, version: number): Promise<VersionRow> {
  const row = await versionGet(ctx.db, image, version);
  if (!row) throw new ArdesiaError('IMAGE_VERSION_NOT_FOUND', `image ${image} has no version ${version}`);
  return row;
}

export function bootProfileOf(ctx: ServiceContext, img: ImageRow): BootProfile {
  const boot = join(ctx.paths.imageDir(img.name), 'boot');
  return {
    arch: img.arch,
    firmware: img.firmware,
    memoryMiB: img.memory_mib,
    kernel: img.kernel ? join(boot, img.kernel) : null,
    initrd: img.initrd ? join(boot, img.initrd) : null,
    cmdline: img.cmdline,
  };
}

/** How a VM boots from an image's profile: its kernel (direct boot) or its disk. */
export function vmBootOf(p: BootProfile): VmSpec['boot'] {
  return p.kernel
    ? { firmware: p.firmware, kernel: p.kernel, ...(p.initrd ? { initrd: p.initrd } : {}), ...(p.cmdline ? { cmdline: p.cmdline } : {}) }
    : { firmware: p.firmware, device: 'disk' };
}

export function versionOut(ctx: ServiceContext, img: ImageRow, v: VersionRow): ImageVersion {
  return {
    image: v.image,
    version: v.version,
    sha256: v.sha256,
    backingVersion: v.backing_version,
    depth: v.depth,
    virtualSize: v.virtual_size,
    path: ctx.paths.imageVersion(v.image, v.version),
    createdAt: v.created_at,
    createdBy: v.created_by,
    current: img.current_version === v.version,
  };
}

export function sessionOut(s: SessionRow): MaintenanceSession {
  return {
    image: s.image,
    baseVersion: s.base_version,
    targetVersion: s.target_version,
    overlay: s.overlay,
    vm: s.vm_name,
    iso: s.iso,
    startedBy: s.started_by,
    startedAt: s.started_at,
  };
}

/** The rows that hang off an image: its versions, its maintenance session, its desktops. */
/** Versions, the maintenance session, and every desktop on the image (standalone and pool desktops). */
async function imageRelations(ctx: ServiceContext, img: ImageRow) {
  const [versions, session, standalone, pooled] = await Promise.all([
    versionList(ctx.db, img.name),
    sessionGet(ctx.db, img.name),
    desktopsOfImage(ctx.db, img.name),
    poolDesktopsOfImage(ctx.db, img.name),
  ]);
  const desktops = [...standalone.map((d) => ({ name: d.name, version: d.version })), ...pooled.map((d) => ({ name: d.name, version: d.version }))];
  return [versions, session, desktops] as const;
}

export async function imageInfo(ctx: ServiceContext, img: ImageRow): Promise<ImageInfo> {
  const [versions, session, desktops] = await imageRelations(ctx, img);
  return {
    name: img.name,
    boot: bootProfileOf(ctx, img),
    currentVersion: img.current_version,
    versions: versions.map((v) => versionOut(ctx, img, v)),
    maintenance: session ? sessionOut(session) : null,
    desktops: desktops.map((d) => d.name),
    createdAt: img.created_at,
    createdBy: img.created_by,
  };
}

export async function usageFacts(ctx: ServiceContext, img: ImageRow): Promise<UsageFacts> {
  const [versions, session, desktops] = await imageRelations(ctx, img);
  return {
    currentVersion: img.current_version,
    versions: versions.map((v) => ({ version: v.version, backingVersion: v.backing_version, depth: v.depth })),
    desktops: desktops.map((d) => ({ name: d.name, version: d.version })),
    maintenanceBase: session?.base_version ?? null,
  };
}

/**
 * Checks the sha256 of a version and of every version under it: a file that changed on disk is
 * refused (IMAGE_CORRUPT) and never handed to a VM. Returns the version's path.
 */
export async function verifiedVersionPath(ctx: ServiceContext, image: string, version: number): Promise<string> {
  const rows = await versionList(ctx.db, image);
  const chain = chainOf(version, rows.map((v) => ({ version: v.version, backingVersion: v.backing_version, depth: v.depth })));
  if (chain.length === 0) throw new ArdesiaError('IMAGE_VERSION_NOT_FOUND', `image ${image} has no version ${version}`);
  for (const n of chain) {
    const row = rows.find((r) => r.version === n)!;
    try {
      await verifyImageFile(ctx.paths.imageVersion(image, n), row.sha256);
    } catch (err) {
      ctx.deps.log.error({ err, image, version: n }, `image ${image} version ${n} failed its integrity check; refusing to use it`);
      throw err;
    }
  }
  return ctx.paths.imageVersion(image, version);
}

/** The version a "latest" user gets. */
export function currentVersionOf(img: ImageRow): number {
  if (img.current_version === null) throw new ArdesiaError('IMAGE_NO_VERSION', `image ${img.name} has no published version yet`);
  return img.current_version;
}
