// Minimal desktops: a VM whose system disk is a linked clone of an image version; reset throws every
// system change away; an optional home volume is leased while the VM runs.
import { mkdir, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ArdesiaError } from '../contract/errors.js';
import type { DesktopCreateBody, DesktopInfo } from '../contract/images.js';
import type { VmSpec } from '../contract/vm.js';
import { type ServiceContext, vmRunning, vmState } from '../images/context.js';
import { desktopGet, desktopList, type DesktopRow, homeList, type ImageRow } from '../images/repo.js';
import { now } from '../lib/time.js';
import { auditAppend } from '../audit/log.js';
import { bootProfileOf, vmBootOf, currentVersionOf, requireImage, requireVersion, verifiedVersionPath } from '../images/versions.js';
import { withRevert } from '../lib/revert.js';
import { createLinkedClone, resetLinkedClone, safeName } from '../storage/index.js';
import { PoolNetwork, poolNics } from '../contract/network.js';
import type { HomeService } from './homes.js';
import { poolDesktopGet } from './pool-repo.js';
import { type NamePage, type Paged, pageMap, pageOf } from '../store/paging.js';

export const HOME_DISK_SERIAL = 'ardesia-home';
const FORCE_STOP_WAIT_MS = 15_000;

/** The stored network setting, parsed where it leaves the store. */
function desktopNetwork(row: DesktopRow): PoolNetwork {
  return PoolNetwork.parse(JSON.parse(row.network));
}

export class DesktopService {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly homes: HomeService,
  ) {}

  private locked<T>(name: string, fn: () => Promise<T>): Promise<T> {
    return this.ctx.lock.run(`desktop:${name}`, fn);
  }

  private async require(name: string): Promise<DesktopRow> {
    const row = await desktopGet(this.ctx.db, safeName('desktop', name));
    if (!row) throw new ArdesiaError('DESKTOP_NOT_FOUND', `desktop ${name} does not exist`);
    return row;
  }

  private spec(row: DesktopRow, img: ImageRow): VmSpec {
    const p = bootProfileOf(this.ctx, img);
    const disks: VmSpec['disks'] = [{ path: this.ctx.paths.desktopSystem(row.name), format: 'qcow2', bus: 'virtio', readonly: false }];
    if (row.home_user) disks.push({ path: this.ctx.paths.home(row.home_user), format: 'qcow2', bus: 'virtio', readonly: false, serial: HOME_DISK_SERIAL });
    return {
      name: row.vm_name,
      arch: p.arch,
      memoryMiB: p.memoryMiB,
      vcpus: 1,
      disks,
      boot: vmBootOf(p),
      nics: poolNics(desktopNetwork(row)),
      enabled: false,
      accel: 'auto',
      // Idle desktops give freed memory back; fixed for every desktop, so a saved state always finds the same devices.
      freePageReporting: true,
    };
  }

  private async out(row: DesktopRow): Promise<DesktopInfo> {
    return this.infoOf(row, await vmState(this.ctx, row.vm_name));
  }

  private infoOf(row: DesktopRow, state: string): DesktopInfo {
    return {
      name: row.name,
      image: row.image,
      version: row.version,
      followsLatest: row.follows_latest === 1,
      home: row.home_user,
      vm: row.vm_name,
      state,
      systemDisk: this.ctx.paths.desktopSystem(row.name),
      createdAt: row.created_at,
      network: desktopNetwork(row),
    };
  }

  /** Clone → row → VM definition (→ home volume); each undone if a later step fails. Not started. */
  create(body: DesktopCreateBody, principal: string): Promise<DesktopInfo> {
    const name = safeName('desktop', body.name);
    if (body.home) safeName('user', body.home);
    return this.locked(name, () =>
      withRevert(async (revert) => {
        if (await desktopGet(this.ctx.db, name)) throw new ArdesiaError('DESKTOP_EXISTS', `desktop ${name} already exists`);
        if (await this.ctx.vms.get(name).then(() => true, () => false)) throw new ArdesiaError('VM_EXISTS', `a VM named ${name} already exists`);
        const img = await requireImage(this.ctx, body.image);
        const version = body.version === 'latest' ? currentVersionOf(img) : (await requireVersion(this.ctx, img.name, body.version)).version;
        const base = await verifiedVersionPath(this.ctx, img.name, version);
        const system = this.ctx.paths.desktopSystem(name);
        await mkdir(dirname(system), { recursive: true, mode: 0o700 });
        revert.add(() => rm(dirname(system), { recursive: true, force: true }));
        await createLinkedClone({ base, overlay: system });
        const row: DesktopRow = { name, image: img.name, version, follows_latest: body.version === 'latest' ? 1 : 0, home_user: body.home ?? null, vm_name: name, created_at: now(), network: JSON.stringify(body.network) };
        await this.ctx.db.insertInto('desktops').values(row).execute();
        revert.add(() => this.ctx.db.deleteFrom('desktops').where('name', '=', name).execute().then(() => undefined));
        await this.ctx.vms.define([this.spec(row, img)], () => `desktop ${name}`);
        revert.add(() => this.ctx.vms.undefine(name));
        if (body.home) await this.homes.ensure(body.home, body.homeSizeBytes, principal);
        await auditAppend(this.ctx.db, principal, 'desktop.create', name, { image: img.name, version, home: body.home ?? null, network: body.network });
        return this.out(row);
      }),
    );
  }

  /** Every desktop, or one page of them by name. Two queries whatever the count: the desktops, then their VMs' states
   *  (all of them for the whole list, the page's for a page; not one VM look-up per desktop). */
  async list(page?: NamePage): Promise<Paged<DesktopInfo>> {
    const [rows, every] = await Promise.all([desktopList(this.ctx.db, page), page ? undefined : this.ctx.vms.states()]);
    const paged = pageOf(rows, page, (r) => r.name);
    const states = every ?? (await this.ctx.vms.states(paged.items.map((r) => r.vm_name)));
    return pageMap(paged, (r) => this.infoOf(r, states.get(r.vm_name) ?? 'absent'));
  }

  async show(name: string): Promise<DesktopInfo> {
    return this.out(await this.require(name));
  }

  start(name: string, principal: string): Promise<DesktopInfo> {
    return this.locked(name, () => this.startUnlocked(name, principal));
  }

  /**
   * Verify the image chain, take the home lease, (re)define and start; the lease goes back if the start fails. With
   * home leases on, QEMU holds the home's sanlock lease from before it opens the disk (refused: no QEMU runs).
   */
  private async startUnlocked(name: string, principal: string): Promise<DesktopInfo> {
    const row = await this.require(name);
    const img = await requireImage(this.ctx, row.image);
    await verifiedVersionPath(this.ctx, img.name, row.version);
    return withRevert(async (revert) => {
      const user = row.home_user;
      let launchPrefix: string[] | undefined;
      if (user) {
        await this.homes.ensure(user, undefined, principal);
        await this.homes.lease(user, name);
        revert.add(() => this.homes.release(user, name));
        launchPrefix = await this.homes.launchPrefix(user);
      }
      await this.ctx.vms.define([this.spec(row, img)], () => `desktop ${name}`);
      await this.ctx.vms.start(row.vm_name, undefined, undefined, undefined, launchPrefix ? { launchPrefix } : {}).catch((err: unknown) => {
        throw user ? this.homes.launchError(user, err) : err;
      });
      revert.add(() => this.ctx.vms.stop(row.vm_name, { force: true, waitMs: FORCE_STOP_WAIT_MS }).then(() => undefined));
      const pid = this.ctx.vms.runtimeOf(row.vm_name)?.pid;
      if (user && launchPrefix && pid !== undefined) await this.homes.leasedAtLaunch(user, name, pid);
      this.releaseOnExit(row);
      await auditAppend(this.ctx.db, principal, 'desktop.start', name, { version: row.version });
      return this.out(row);
    });
  }

  private releaseOnExit(row: DesktopRow): void {
    if (!row.home_user) return;
    const rt = this.ctx.vms.runtimeOf(row.vm_name);
    if (!rt) return void this.homes.release(row.home_user, row.name);
    rt.once('exited', () => {
      void this.homes.release(row.home_user!, row.name).catch((err) => this.ctx.deps.log.error({ err }, `releasing the home of ${row.home_user} failed`));
    });
  }

  stop(name: string, opts: { force: boolean; waitMs: number }, principal: string): Promise<DesktopInfo> {
    return this.locked(name, async () => {
      const row = await this.require(name);
      await this.stopVm(row, opts);
      await auditAppend(this.ctx.db, principal, 'desktop.stop', name, { force: opts.force });
      return this.out(row);
    });
  }

  private async stopVm(row: DesktopRow, opts: { force: boolean; waitMs: number }): Promise<void> {
    if (this.ctx.vms.runtimeOf(row.vm_name)) await this.ctx.vms.stop(row.vm_name, { force: opts.force, waitMs: opts.waitMs });
    // A QEMU still powering off keeps its home open: releaseOnExit gives the home back once it has exited.
    if (row.home_user && !this.ctx.vms.runtimeOf(row.vm_name)) await this.homes.release(row.home_user, row.name);
  }

  /** Pull the plug, replace the system disk with a fresh clone (of the current version if on "latest"), start again if it ran. */
  reset(name: string, principal: string): Promise<DesktopInfo> {
    return this.locked(name, async () => {
      const row = await this.require(name);
      const wasRunning = this.ctx.vms.runtimeOf(row.vm_name) !== undefined;
      await this.stopVm(row, { force: true, waitMs: FORCE_STOP_WAIT_MS });
      const img = await requireImage(this.ctx, row.image);
      const version = row.follows_latest ? currentVersionOf(img) : row.version;
      await resetLinkedClone(this.ctx.paths.desktopSystem(name), await verifiedVersionPath(this.ctx, img.name, version));
      if (version !== row.version) await this.ctx.db.updateTable('desktops').set({ version }).where('name', '=', name).execute();
      await auditAppend(this.ctx.db, principal, 'desktop.reset', name, { from: row.version, to: version });
      return wasRunning ? this.startUnlocked(name, principal) : this.out((await this.require(name)));
    });
  }

  destroy(name: string, principal: string): Promise<{ destroyed: string }> {
    return this.locked(name, async () => {
      const row = await this.require(name);
      await this.stopVm(row, { force: true, waitMs: FORCE_STOP_WAIT_MS });
      await this.ctx.vms.undefine(row.vm_name).catch((err: ArdesiaError) => {
        if (err.code !== 'VM_NOT_FOUND') throw err;
      });
      await this.ctx.db.deleteFrom('desktops').where('name', '=', name).execute();
      await rm(dirname(this.ctx.paths.desktopSystem(name)), { recursive: true, force: true });
      await auditAppend(this.ctx.db, principal, 'desktop.destroy', name, { image: row.image, version: row.version });
      return { destroyed: name };
    });
  }

  /** After a daemon restart: leases of desktops whose VM is gone are released; live ones are watched again. */
  async reconcile(): Promise<{ released: string[] }> {
    const released: string[] = [];
    for (const home of await homeList(this.ctx.db)) {
      if (!home.leased_to) continue;
      const row = await desktopGet(this.ctx.db, home.leased_to);
      if (row && this.ctx.vms.runtimeOf(row.vm_name)) this.releaseOnExit(row);
      // The pool's lifecycle owns it (its VM here, or on an agent's host as last reported).
      else if (!row && (await poolDesktopGet(this.ctx.db, home.leased_to)) && (await vmRunning(this.ctx, home.leased_to))) continue;
      else {
        await this.homes.release(home.user, home.leased_to);
        released.push(home.user);
      }
    }
    return { released };
  }
}
