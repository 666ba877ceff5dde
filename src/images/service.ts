// The gold-image service: create (import, ISO install, build), versions, rollback, delete, gc, and
// the maintenance sessions (maintenance.ts). Every change is audited.
import type { PoolNetwork } from '../contract/network.js';
import { copyFile, mkdir, rm, unlink } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ArdesiaError } from '../contract/errors.js';
import type { ImageCreateBody, ImageInfo, ImageVersion, MaintenanceSession, Operation } from '../contract/images.js';
import { withRevert } from '../lib/revert.js';
import { freezeFile, importImage, qemuImgCheck, safeName } from '../storage/index.js';
import { ServiceContext, type ServiceDeps } from './context.js';
import { failpoint } from '../lib/failpoint.js';
import { imageLeftoversTidy, sessionDiscard, sessionOpen, sessionPublish } from './maintenance.js';
import { type OperationHandle, Operations } from './operations.js';
import { dependantsOf, gcPlan } from './plan.js';
import { desktopsOfImage, imageList, type ImageRow, sessionGet, versionList } from './repo.js';
import { now } from '../lib/time.js';
import { auditAppend } from '../audit/log.js';
import { imageInfo, requireImage, requireVersion, usageFacts, verifiedVersionPath, versionOut } from './versions.js';

/** Who outside this domain keeps an image (or one version) from being deleted, in words, e.g. "pool lab". */
export type DependantSource = (image: string, version: number | undefined) => Promise<string[]>;

export class ImageService {
  readonly ctx: ServiceContext;
  readonly operations: Operations;
  private readonly dependantSources: DependantSource[] = [];

  constructor(deps: ServiceDeps | ServiceContext) {
    this.ctx = deps instanceof ServiceContext ? deps : new ServiceContext(deps);
    this.operations = new Operations((err, ref, op) => this.ctx.deps.log.error({ err, ref, operation: op.id }, `${op.kind} ${op.target} failed unexpectedly (reference ${ref})`));
  }

  /** Higher domains (pools) register here, so an image they use is never deleted under them. */
  addDependantSource(source: DependantSource): void {
    this.dependantSources.push(source);
  }

  private async outsideDependants(image: string, version: number | undefined): Promise<string[]> {
    return (await Promise.all(this.dependantSources.map((source) => source(image, version)))).flat();
  }

  /** At start-up: what image operations cut short by a crash left behind is tidied away. */
  reconcile(): Promise<{ undefined: string[]; removed: string[]; kept: string[] }> {
    return imageLeftoversTidy(this.ctx);
  }

  private locked<T>(image: string, fn: () => Promise<T>): Promise<T> {
    return this.ctx.lock.run(`image:${image}`, fn);
  }

  /** Starts a create in the background (import can take minutes); poll the operation. */
  createStart(body: ImageCreateBody, principal: string): Operation {
    safeName('image', body.name);
    return this.operations.start('image.create', body.name, (op) => this.create(body, principal, op));
  }

  async create(body: ImageCreateBody, principal: string, op?: OperationHandle): Promise<ImageInfo> {
    const name = safeName('image', body.name);
    return this.locked(name, () =>
      withRevert(async (revert) => {
        const img = await this.createRecord(name, body, principal, revert.add.bind(revert));
        if (body.iso) {
          if (!existsSync(body.iso)) throw new ArdesiaError('VM_FILE_MISSING', `ISO ${body.iso} does not exist`);
          await sessionOpen(this.ctx, img, principal, body.network ?? { mode: 'none' }, { iso: body.iso, sizeBytes: body.sizeBytes! });
        } else {
          const source = body.from ?? (await this.buildDebian(img, op, revert.add.bind(revert)));
          await this.importFirstVersion(img, source, body.format, principal, op);
          if (body.build) await rm(join(this.ctx.deps.dataDir, 'build', name), { recursive: true, force: true }); // imported: the built file is spent
        }
        await auditAppend(this.ctx.db, principal, 'image.create', name, { from: body.from, iso: body.iso, build: body.build, format: body.format });
        return imageInfo(this.ctx, (await requireImage(this.ctx, name)));
      }),
    );
  }

  /** images/<name>/ with the boot files copied in, and the image row; both undone on failure. */
  private async createRecord(name: string, body: ImageCreateBody, principal: string, onUndo: (f: () => Promise<void>) => void): Promise<ImageRow> {
    const existing = (await imageList(this.ctx.db)).find((i) => i.name === name);
    if (existing) throw new ArdesiaError('IMAGE_EXISTS', `image ${name} already exists`);
    const dir = this.ctx.paths.imageDir(name);
    if (existsSync(dir)) throw new ArdesiaError('IMAGE_EXISTS', `${dir} exists but no image ${name} is recorded; move it away first`);
    await mkdir(join(dir, 'boot'), { recursive: true, mode: 0o700 });
    onUndo(() => rm(dir, { recursive: true, force: true }));
    const boot = body.boot;
    const copied: Record<'kernel' | 'initrd', string | null> = { kernel: null, initrd: null };
    for (const what of ['kernel', 'initrd'] as const) {
      const src = boot[what];
      if (!src) continue;
      if (!existsSync(src)) throw new ArdesiaError('VM_FILE_MISSING', `${what} ${src} does not exist`);
      copied[what] = `${what}-${basename(src)}`.slice(0, 120);
      await copyFile(src, join(dir, 'boot', copied[what]!));
      await freezeFile(join(dir, 'boot', copied[what]!));
    }
    const row: ImageRow = {
      name,
      arch: boot.arch,
      firmware: boot.firmware,
      memory_mib: boot.memoryMiB,
      kernel: copied.kernel,
      initrd: copied.initrd,
      cmdline: boot.cmdline ?? null,
      guest_helper: null, // an imported image's helper is unknown; a Debian build records its own
      current_version: null,
      created_at: now(),
      created_by: principal,
    };
    await this.ctx.db.insertInto('images').values(row).execute();
    onUndo(async () => {
      await this.ctx.db.deleteFrom('image_versions').where('image', '=', name).execute();
      await this.ctx.db.deleteFrom('images').where('name', '=', name).execute();
    });
    return row;
  }

  private async importFirstVersion(img: ImageRow, source: string, format: string | undefined, principal: string, op?: OperationHandle): Promise<void> {
    if (!existsSync(source)) throw new ArdesiaError('VM_FILE_MISSING', `${source} does not exist`);
    const dest = this.ctx.paths.imageVersion(img.name, 1);
    op?.progress(0, `importing ${source}`);
    const imported = await importImage({ source, dest, claimedFormat: format, onProgress: (fraction: number) => op?.progress(fraction * 95, `importing ${source}`) });
    await qemuImgCheck(dest);
    await freezeFile(dest);
    await this.ctx.db
      .insertInto('image_versions')
      .values({ image: img.name, version: 1, sha256: imported.sha256, backing_version: null, depth: 1, virtual_size: imported.virtualSize, created_at: now(), created_by: principal })
      .execute();
    await this.ctx.db.updateTable('images').set({ current_version: 1 }).where('name', '=', img.name).execute();
  }

  /** The Debian builder is a separate module; without it, a clear refusal. Its boot files join the profile. */
  private async buildDebian(img: ImageRow, op: OperationHandle | undefined, onUndo: (f: () => Promise<void>) => void): Promise<string> {
    type Builder = (opts: { dest: string; workDir: string; onProgress?: (stage: string, fraction?: number) => void }) => Promise<{
      boot: { firmware: 'bios' | 'uefi'; kernel?: string; initrd?: string; cmdline?: string };
      guestHelper?: number;
    }>;
    const modulePath = './build/debian.js';
    let build: Builder | undefined;
    try {
      build = ((await import(modulePath)) as { buildDebianImage?: Builder }).buildDebianImage;
    } catch (err) {
      throw new ArdesiaError('IMAGE_BUILDER_MISSING', `cannot build image ${img.name} from Debian packages: the builder module is not available (${(err as Error).message})`);
    }
    if (typeof build !== 'function') throw new ArdesiaError('IMAGE_BUILDER_MISSING', 'the builder module has no buildDebianImage()');
    const out = join(this.ctx.deps.dataDir, 'build', img.name);
    await mkdir(out, { recursive: true, mode: 0o700 });
    onUndo(() => rm(out, { recursive: true, force: true }));
    const dest = join(out, 'image.qcow2');
    const built = await build({ dest, workDir: process.env.ARDESIA_BUILD_CACHE ?? join(this.ctx.deps.dataDir, 'build-cache'), onProgress: (stage, fraction) => op?.progress((fraction ?? 0) * 50, `building: ${stage}`) });
    const bootDir = join(this.ctx.paths.imageDir(img.name), 'boot');
    const names: { kernel: string | null; initrd: string | null } = { kernel: null, initrd: null };
    for (const what of ['kernel', 'initrd'] as const) {
      const src = built.boot[what];
      if (!src) continue;
      names[what] = `${what}-${basename(src)}`.slice(0, 120);
      await copyFile(src, join(bootDir, names[what]!));
      await freezeFile(join(bootDir, names[what]!));
    }
    await this.ctx.db
      .updateTable('images')
      .set({ firmware: built.boot.firmware, kernel: names.kernel, initrd: names.initrd, cmdline: built.boot.cmdline ?? null, guest_helper: built.guestHelper ?? null })
      .where('name', '=', img.name)
      .execute();
    return dest;
  }

  async list(): Promise<ImageInfo[]> {
    return Promise.all((await imageList(this.ctx.db)).map((img) => imageInfo(this.ctx, img)));
  }

  async show(name: string): Promise<ImageInfo> {
    return imageInfo(this.ctx, await requireImage(this.ctx, name));
  }

  async versions(name: string): Promise<ImageVersion[]> {
    const img = await requireImage(this.ctx, name);
    return (await versionList(this.ctx.db, name)).map((v) => versionOut(this.ctx, img, v));
  }

  edit(name: string, principal: string, network: PoolNetwork = { mode: 'none' }): Promise<MaintenanceSession> {
    return this.locked(name, async () => sessionOpen(this.ctx, await requireImage(this.ctx, name), principal, network));
  }

  publishStart(name: string, opts: { flatten: boolean; stopTimeoutMs: number }, principal: string): Operation {
    return this.operations.start('image.publish', name, (op) => this.publish(name, opts, principal, op));
  }

  publish(name: string, opts: { flatten: boolean; stopTimeoutMs: number }, principal: string, op?: OperationHandle): Promise<ImageVersion> {
    return this.locked(name, async () => {
      await requireImage(this.ctx, name);
      return sessionPublish(this.ctx, name, opts, principal, op);
    });
  }

  discard(name: string, principal: string): Promise<{ discarded: string }> {
    return this.locked(name, () => sessionDiscard(this.ctx, name, principal));
  }

  /** Moves "current" to an existing version (verified first); desktops on "latest" get it at their next reset. */
  rollback(name: string, to: number, principal: string): Promise<ImageInfo> {
    return this.locked(name, async () => {
      const img = await requireImage(this.ctx, name);
      await requireVersion(this.ctx, name, to);
      await verifiedVersionPath(this.ctx, name, to);
      await this.ctx.db.updateTable('images').set({ current_version: to }).where('name', '=', name).execute();
      await auditAppend(this.ctx.db, principal, 'image.rollback', name, { from: img.current_version, to });
      return imageInfo(this.ctx, await requireImage(this.ctx, name));
    });
  }

  /** One version, or the whole image; refused while anything depends on it, naming the dependants. */
  delete(name: string, version: number | undefined, principal: string): Promise<{ deleted: string; version?: number }> {
    return this.locked(name, async () => {
      const img = await requireImage(this.ctx, name);
      if (version !== undefined) {
        await requireVersion(this.ctx, name, version);
        const facts = await usageFacts(this.ctx, img);
        const deps = dependantsOf(version, facts);
        if (img.current_version === version) deps.unshift('it is the current version (roll back or publish another first)');
        deps.push(...(await this.outsideDependants(name, version)));
        if (deps.length) throw new ArdesiaError('IMAGE_IN_USE', `version ${version} of image ${name} is in use: ${deps.join(', ')}`, { dependants: deps });
        await this.deleteVersionFile(name, version);
        await auditAppend(this.ctx.db, principal, 'image.delete', name, { version });
        return { deleted: name, version };
      }
      const deps = [...(await desktopsOfImage(this.ctx.db, name)).map((d) => `desktop ${d.name}`)];
      if (await sessionGet(this.ctx.db, name)) deps.push('the open maintenance session');
      deps.push(...(await this.outsideDependants(name, undefined)));
      if (deps.length) throw new ArdesiaError('IMAGE_IN_USE', `image ${name} is in use: ${deps.join(', ')}`, { dependants: deps });
      await this.ctx.db.transaction().execute(async (tx) => {
        await tx.deleteFrom('image_versions').where('image', '=', name).execute();
        await tx.deleteFrom('images').where('name', '=', name).execute();
      });
      failpoint('image-delete-after-rows'); // a crash here leaves the folder with no image row: imageLeftoversTidy
      await rm(this.ctx.paths.imageDir(name), { recursive: true, force: true });
      await auditAppend(this.ctx.db, principal, 'image.delete', name, {});
      return { deleted: name };
    });
  }

  /** Row first, then file: a crash in between leaves an unreferenced file (removed at the next start), never a row without its file. */
  private async deleteVersionFile(name: string, version: number): Promise<void> {
    await this.ctx.db.deleteFrom('image_versions').where('image', '=', name).where('version', '=', version).execute();
    await unlink(this.ctx.paths.imageVersion(name, version)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  /** Deletes versions nobody uses and that are not current, newest first (an overlay before its base). */
  async gc(principal: string, only?: string): Promise<Array<{ image: string; version: number }>> {
    const deleted: Array<{ image: string; version: number }> = [];
    for (const img of await imageList(this.ctx.db)) {
      if (only && img.name !== only) continue;
      await this.locked(img.name, async () => {
        const fresh = await requireImage(this.ctx, img.name);
        for (const version of gcPlan(await usageFacts(this.ctx, fresh))) {
          await this.deleteVersionFile(img.name, version);
          await auditAppend(this.ctx.db, principal, 'image.gc', img.name, { version });
          deleted.push({ image: img.name, version });
        }
      });
    }
    return deleted;
  }
}
