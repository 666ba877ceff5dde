// Maintenance sessions: a VM on a writable overlay of the current version (or a blank disk for an
// ISO install), published as the next version or discarded. One session per image at a time.
import { type PoolNetwork, poolNics } from '../contract/network.js';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ArdesiaError } from '../contract/errors.js';
import type { ImageVersion, MaintenanceSession } from '../contract/images.js';
import type { VmSpec } from '../contract/vm.js';
import { Reverter, withRevert } from '../lib/revert.js';
import { copyOverlayAsVersion, createLinkedClone, flattenImage, freezeFile, qemuImgCheck } from '../storage/index.js';
import { imageInfo as qemuImageInfo, qemuImg } from '../storage/qemu-img.js';
import type { ServiceContext } from './context.js';
import type { OperationHandle } from './operations.js';
import { publishLayout } from './plan.js';
import { imageGet, type ImageRow, sessionGet, type SessionRow, versionList } from './repo.js';
import { now } from '../lib/time.js';
import { auditAppend } from '../audit/log.js';
import { failpoint } from '../lib/failpoint.js';
import { imageLeftovers, MAINTENANCE_VM_PREFIX, maintenanceVmName, maintenanceVmSource } from './leftovers.js';
import { bootProfileOf, currentVersionOf, requireImage, requireVersion, sessionOut, verifiedVersionPath, versionOut } from './versions.js';

const DISCARD_STOP_MS = 15_000;

export function maintenanceSpec(ctx: ServiceContext, img: ImageRow, overlay: string, iso: string | null, network: PoolNetwork): VmSpec {
  const p = bootProfileOf(ctx, img);
  const boot: VmSpec['boot'] = iso
    ? { firmware: p.firmware, device: 'cdrom' }
    : p.kernel
      ? { firmware: p.firmware, kernel: p.kernel, ...(p.initrd ? { initrd: p.initrd } : {}), ...(p.cmdline ? { cmdline: p.cmdline } : {}) }
      : { firmware: p.firmware, device: 'disk' };
  return {
    name: maintenanceVmName(img.name),
    arch: p.arch,
    memoryMiB: p.memoryMiB,
    vcpus: 1,
    disks: [{ path: overlay, format: 'qcow2', bus: 'virtio', readonly: false }],
    ...(iso ? { cdrom: iso } : {}),
    boot,
    nics: poolNics(network),
    enabled: false,
    accel: 'auto',
  };
}

async function refuseSecondSession(ctx: ServiceContext, image: string): Promise<void> {
  const open = await sessionGet(ctx.db, image);
  if (open) {
    throw new ArdesiaError('MAINTENANCE_ACTIVE', `image ${image} already has a maintenance session, opened by ${open.started_by} at ${open.started_at} (vm ${open.vm_name})`);
  }
}

/** Overlay (or blank disk) → session row → VM defined → VM started; each undone if a later one fails. */
export async function sessionOpen(ctx: ServiceContext, img: ImageRow, principal: string, network: PoolNetwork, install?: { iso: string; sizeBytes: number }): Promise<MaintenanceSession> {
  await refuseSecondSession(ctx, img.name);
  const versions = await versionList(ctx.db, img.name);
  const target = Math.max(0, ...versions.map((v) => v.version)) + 1;
  const base = install ? null : currentVersionOf(img);
  const overlay = ctx.paths.maintenance(img.name, target);
  const vm = maintenanceVmName(img.name);
  if (await ctx.vms.get(vm).then(() => true, () => false)) throw new ArdesiaError('VM_EXISTS', `a VM named ${vm} already exists; maintenance VMs use that name`);
  return withRevert(async (revert) => {
    await mkdir(dirname(overlay), { recursive: true, mode: 0o700 });
    if (install) {
      await qemuImg(['create', '-q', '-f', 'qcow2', overlay, String(install.sizeBytes)]);
    } else {
      await createLinkedClone({ base: await verifiedVersionPath(ctx, img.name, base!), overlay });
    }
    revert.add(() => rm(overlay, { force: true }));
    failpoint('image-edit-after-overlay'); // a crash here leaves an overlay with no session: imageLeftoversTidy
    const row: SessionRow = {
      image: img.name,
      base_version: base,
      target_version: target,
      overlay,
      vm_name: vm,
      iso: install?.iso ?? null,
      started_by: principal,
      started_at: now(),
    };
    await ctx.db.insertInto('maintenance_sessions').values(row).execute();
    revert.add(() => ctx.db.deleteFrom('maintenance_sessions').where('image', '=', img.name).execute().then(() => undefined));
    await ctx.vms.define([maintenanceSpec(ctx, img, overlay, row.iso, network)], () => maintenanceVmSource(img.name));
    revert.add(() => ctx.vms.undefine(vm));
    await ctx.vms.start(vm);
    await auditAppend(ctx.db, principal, 'image.edit', img.name, { baseVersion: base, targetVersion: target, iso: row.iso, network });
    return sessionOut(row);
  });
}

async function requireSession(ctx: ServiceContext, image: string): Promise<SessionRow> {
  const s = await sessionGet(ctx.db, image);
  if (!s) throw new ArdesiaError('MAINTENANCE_NOT_FOUND', `image ${image} has no open maintenance session`);
  return s;
}

/** ACPI power button and wait; a guest that does not go is a clear refusal, the session kept. */
async function stopForPublish(ctx: ServiceContext, s: SessionRow, stopTimeoutMs: number): Promise<void> {
  const running = await ctx.vms.get(s.vm_name).then((st) => st.state !== 'stopped', () => false);
  if (!running) return;
  try {
    await ctx.vms.stop(s.vm_name, { waitMs: stopTimeoutMs });
  } catch (err) {
    if ((err as ArdesiaError).code !== 'VM_STOP_TIMEOUT') throw err;
    throw new ArdesiaError(
      'PUBLISH_FAILED',
      `the maintenance VM ${s.vm_name} did not power off within ${Math.round(stopTimeoutMs / 1000)} s; nothing was published. ` +
        `Shut the guest down from its console (ardesia vm console ${s.vm_name}) or force it off (ardesia vm stop -f ${s.vm_name}), then publish again`,
    );
  }
}

/** Stops the VM, checks the overlay, writes the next version (overlay or flat), records it, closes the session. */
export async function sessionPublish(ctx: ServiceContext, image: string, opts: { flatten: boolean; stopTimeoutMs: number }, principal: string, op?: OperationHandle): Promise<ImageVersion> {
  const s = await requireSession(ctx, image);
  op?.progress(0, `stopping ${s.vm_name}`);
  await stopForPublish(ctx, s, opts.stopTimeoutMs);
  op?.progress(10, 'checking the maintenance overlay');
  await qemuImgCheck(s.overlay);
  const base = s.base_version === null ? undefined : await requireVersion(ctx, image, s.base_version);
  const layout = publishLayout(base && { version: base.version, backingVersion: base.backing_version, depth: base.depth }, opts.flatten);
  const dest = ctx.paths.imageVersion(image, s.target_version);
  const revert = new Reverter();
  try {
    op?.progress(20, layout.flatten ? 'writing a flat version' : `writing an overlay on version ${layout.backingVersion}`);
    const written = layout.flatten
      ? await flattenImage({ source: s.overlay, dest, onProgress: (fraction: number) => op?.progress(20 + fraction * 60) })
      : await copyOverlayAsVersion({ overlay: s.overlay, dest, newBacking: await verifiedVersionPath(ctx, image, layout.backingVersion!) });
    revert.add(() => rm(dest, { force: true })); // only once it is ours: the writer refuses an existing dest
    await qemuImgCheck(dest);
    await freezeFile(dest);
    failpoint('image-publish-after-write'); // a crash here leaves the version file unrecorded, the session open
    op?.progress(90, 'recording the version');
    const sha256 = written.sha256;
    const info = await qemuImageInfo(dest);
    await ctx.db.transaction().execute(async (tx) => {
      await tx
        .insertInto('image_versions')
        .values({ image, version: s.target_version, sha256, backing_version: layout.backingVersion, depth: layout.depth, virtual_size: info.virtualSize, created_at: now(), created_by: principal })
        .execute();
      await tx.updateTable('images').set({ current_version: s.target_version }).where('name', '=', image).execute();
      await tx.deleteFrom('maintenance_sessions').where('image', '=', image).execute();
    });
    revert.success();
  } catch (err) {
    await revert.fail();
    if (err instanceof ArdesiaError && err.code === 'PUBLISH_FAILED') throw err;
    // Keep the cause's code (DISK_FULL says what to do); the message says what was kept.
    const code = err instanceof ArdesiaError ? err.code : 'PUBLISH_FAILED';
    const kept = `version ${s.base_version ?? 'none'} stays current and the maintenance overlay ${s.overlay} is kept`;
    throw new ArdesiaError(code, `publishing image ${image} failed: ${(err as Error).message}; ${kept}`, (err as ArdesiaError).details);
  }
  // The version is recorded: what follows is tidying, never a reason to fail the publish (after a crash here, the
  // daemon's next start does it: imageLeftoversTidy).
  failpoint('image-publish-after-record');
  await ctx.vms.undefine(s.vm_name).catch((err) => ctx.deps.log.warn({ err }, `could not forget ${s.vm_name}`));
  await rm(s.overlay, { force: true });
  await auditAppend(ctx.db, principal, 'image.publish', image, { version: s.target_version, flatten: layout.flatten, backingVersion: layout.backingVersion });
  const img = (await imageGet(ctx.db, image))!;
  return versionOut(ctx, img, await requireVersion(ctx, image, s.target_version));
}

export async function sessionDiscard(ctx: ServiceContext, image: string, principal: string): Promise<{ discarded: string }> {
  await requireImage(ctx, image);
  const s = await requireSession(ctx, image);
  const running = await ctx.vms.get(s.vm_name).then((st) => st.state !== 'stopped', () => false);
  if (running) await ctx.vms.stop(s.vm_name, { force: true, waitMs: DISCARD_STOP_MS });
  await ctx.vms.undefine(s.vm_name).catch((err: ArdesiaError) => {
    if (err.code !== 'VM_NOT_FOUND') throw err;
  });
  await rm(s.overlay, { force: true });
  await ctx.db.deleteFrom('maintenance_sessions').where('image', '=', image).execute();
  await auditAppend(ctx.db, principal, 'image.discard', image, { targetVersion: s.target_version });
  return { discarded: image };
}

/** At the daemon's start: what image operations cut short by a crash left with nothing in the store to own it is
 *  removed (leftovers.ts says what and why), so the image can be edited and published again. */
export async function imageLeftoversTidy(ctx: ServiceContext): Promise<{ undefined: string[]; removed: string[]; kept: string[] }> {
  const sessions = await ctx.db.selectFrom('maintenance_sessions').selectAll().execute();
  const defined = await ctx.db.selectFrom('vms').select(['name', 'source']).where('name', 'like', `${MAINTENANCE_VM_PREFIX}%`).execute();
  const states = defined.length === 0 ? new Map() : await ctx.vms.states(defined.map((v) => v.name));
  const recorded = new Set((await ctx.db.selectFrom('image_versions').select(['image', 'version']).execute()).map((v) => `${v.image}/${Number(v.version)}`));
  const images = new Set((await ctx.db.selectFrom('images').select('name').execute()).map((i) => i.name));
  const imagesDir = join(ctx.deps.dataDir, 'images');
  const imageFolders = await readdir(imagesDir, { withFileTypes: true }).catch(() => []);
  const plan = imageLeftovers({
    sessions: sessions.map((s) => ({ image: s.image, overlay: s.overlay })),
    vms: defined.map((v) => ({ name: v.name, source: v.source, state: states.get(v.name) ?? 'stopped' })),
    overlays: (await filesUnder(join(ctx.deps.dataDir, 'maintenance'), /\.qcow2$/)).map((f) => f.path),
    unrecordedVersionFiles: (await filesUnder(imagesDir, /^[1-9][0-9]*\.qcow2$/))
      .filter((f) => !recorded.has(`${f.folder}/${parseInt(f.name, 10)}`)).map((f) => f.path),
    unrecordedImageFolders: imageFolders.filter((d) => d.isDirectory() && !images.has(d.name)).map((d) => join(imagesDir, d.name)),
  });
  for (const vm of plan.undefine) await ctx.vms.undefine(vm);
  for (const path of plan.remove) await rm(path, { force: true });
  for (const path of plan.removeFolders) await rm(path, { recursive: true, force: true });
  for (const k of plan.kept) ctx.deps.log.warn({ leftover: k.what }, `image leftover kept: ${k.what}: ${k.why}`);
  return { undefined: plan.undefine, removed: [...plan.remove, ...plan.removeFolders], kept: plan.kept.map((k) => k.what) };
}

/** The files named like `pattern` one folder down from `root` (root/FOLDER/NAME). */
async function filesUnder(root: string, pattern: RegExp): Promise<Array<{ folder: string; name: string; path: string }>> {
  const out: Array<{ folder: string; name: string; path: string }> = [];
  for (const folder of await readdir(root).catch(() => [] as string[])) {
    for (const name of await readdir(join(root, folder)).catch(() => [] as string[])) if (pattern.test(name)) out.push({ folder, name, path: join(root, folder, name) });
  }
  return out;
}
