// Home volumes: one persistent qcow2 per user, apart from images and desktops, created on first need,
// growable never shrunk, leased to at most one desktop at a time.
import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ArdesiaError } from '../contract/errors.js';
import type { MigratingLease } from '../contract/agent.js';
import { DEFAULT_HOME_BYTES, type HomeInfo } from '../contract/images.js';
import type { ServiceContext } from '../images/context.js';
import { homeGet, homeLease, homeList, homeRelease, type HomeRow } from '../images/repo.js';
import type { HomeLeases } from '../cluster/home-leases/service.js';
import { homeLeaseGet, type HomeLeaseRow } from '../cluster/home-leases/repo.js';
import { now } from '../lib/time.js';
import { auditAppend } from '../audit/log.js';
import { homeCreate, homeResize, safeName } from '../storage/index.js';
import { guestUid } from './desktop-guest.js';

export class HomeService {
  /** leases: serve --home-leases sanlock, the lease across hosts held by the desktop's QEMU; without it, the store's lease alone. */
  constructor(
    private readonly ctx: ServiceContext,
    private readonly leases?: HomeLeases,
  ) {}

  private out(row: HomeRow, lease: HomeLeaseRow | undefined): HomeInfo {
    const siteLease = lease ? { host: lease.holder_host, desktop: lease.holder_desktop, pid: lease.holder_pid, generation: lease.generation, acquiredAt: lease.acquired_at } : null;
    return { user: row.user, sizeBytes: row.size_bytes, path: this.ctx.paths.home(row.user), leasedTo: row.leased_to, leasedAt: row.leased_at, createdAt: row.created_at, siteLease };
  }

  private async outOne(row: HomeRow): Promise<HomeInfo> {
    return this.out(row, await homeLeaseGet(this.ctx.db, row.user));
  }

  private async require(user: string): Promise<HomeRow> {
    const row = await homeGet(this.ctx.db, safeName('user', user));
    if (!row) throw new ArdesiaError('HOME_NOT_FOUND', `user ${user} has no home volume`);
    return row;
  }

  /** The user's home volume, created (file, then row; the file removed if the row fails) when missing. */
  ensure(user: string, sizeBytes: number | undefined, principal: string): Promise<HomeInfo> {
    safeName('user', user);
    return this.ctx.lock.run(`home:${user}`, async () => {
      const existing = await homeGet(this.ctx.db, user);
      if (existing) return this.outOne(existing);
      const path = this.ctx.paths.home(user);
      if (existsSync(path)) throw new ArdesiaError('HOME_NOT_FOUND', `${path} exists but is not recorded; move it away or restore the store`);
      const size = sizeBytes ?? DEFAULT_HOME_BYTES;
      await mkdir(dirname(path), { recursive: true, mode: 0o700 });
      const uid = guestUid(user);
      await homeCreate(path, size, { uid, gid: uid }); // formatted here: a first login does not wait for mkfs in the guest
      try {
        await this.ctx.db.insertInto('homes').values({ user, size_bytes: size, leased_to: null, leased_at: null, created_at: now() }).execute();
      } catch (err) {
        await rm(dirname(path), { recursive: true, force: true });
        throw err;
      }
      await auditAppend(this.ctx.db, principal, 'home.create', user, { sizeBytes: size });
      return this.outOne((await homeGet(this.ctx.db, user))!);
    });
  }

  async list(): Promise<HomeInfo[]> {
    const leases = new Map((await this.ctx.db.selectFrom('home_leases').selectAll().execute()).map((l) => [l.user, l]));
    return (await homeList(this.ctx.db)).map((r) => this.out(r, leases.get(r.user)));
  }

  async show(user: string): Promise<HomeInfo> {
    return this.outOne(await this.require(user));
  }

  /** The store's lease for `desktop`, then, with home leases on and a running QEMU `qemuPid`, sanlock's for that QEMU. */
  async lease(user: string, desktop: string, qemuPid?: number, host?: string): Promise<void> {
    if (!(await homeLease(this.ctx.db, user, desktop))) {
      const row = await this.require(user);
      throw new ArdesiaError('HOME_LEASED', `the home volume of ${user} is in use by desktop ${row.leased_to} since ${row.leased_at}`);
    }
    if (!this.leases || qemuPid === undefined) return;
    try {
      await this.leases.acquire(user, { desktop, pid: qemuPid, ...(host !== undefined ? { host } : {}) });
    } catch (err) {
      await homeRelease(this.ctx.db, user, desktop);
      throw err;
    }
  }

  /** With home leases on, the launch prefix of a QEMU given `user`'s home at launch: it holds the home's sanlock lease
   *  from before it opens the disk. Undefined when off (the store's lease alone). */
  launchPrefix(user: string): Promise<string[]> | undefined {
    return this.leases?.launchPrefix(user);
  }

  /** A launch through `launchPrefix` that failed: sanlock's refusal as the user meets it (HOME_LEASE_HELD, …). */
  launchError(user: string, err: unknown): unknown {
    return this.leases ? this.leases.launchError(user, err) : err;
  }

  /** Records the holder of the lease `desktop`'s QEMU `qemuPid` took at launch (generation, audit home.lease). */
  async leasedAtLaunch(user: string, desktop: string, qemuPid: number): Promise<void> {
    await this.leases?.held(user, { desktop, pid: qemuPid });
  }

  /** With home leases on, `user`'s lease as `desktop` holds it, for a live migration to hand over; undefined otherwise. */
  async leaseToCarry(user: string, desktop: string): Promise<MigratingLease | undefined> {
    if (!this.leases) return undefined;
    const row = await homeLeaseGet(this.ctx.db, user);
    return row?.ready === 1 && row.holder_desktop === desktop ? { user, resource: this.leases.resourceOfRow(row) } : undefined;
  }

  /** After a live migration: the lease is held by `desktop`'s new QEMU `qemuPid` on `host` (the next generation; null:
   *  that QEMU went down with its host before this controller recorded the move). */
  async leaseMoved(user: string, desktop: string, qemuPid: number | null, host: string | undefined): Promise<void> {
    await this.leases?.held(user, { desktop, pid: qemuPid, ...(host !== undefined ? { host } : {}) });
  }

  /** sanlock's lease of `desktop`'s QEMU on its host first (after the unplug), then the store's. */
  async release(user: string, desktop: string): Promise<void> {
    if (this.leases) {
      const held = await homeLeaseGet(this.ctx.db, user);
      // On the holder's host: this one's sanlock daemon, or an agent's through its link.
      if (held?.holder_desktop === desktop && held.holder_host !== null) await this.leases.release(user, { desktop, pid: held.holder_pid, host: held.holder_host });
    }
    await homeRelease(this.ctx.db, user, desktop);
  }

  resize(user: string, sizeBytes: number, principal: string): Promise<HomeInfo & { from: number; to: number }> {
    return this.ctx.lock.run(`home:${user}`, async () => {
      const row = await this.require(user);
      if (row.leased_to) throw new ArdesiaError('HOME_LEASED', `the home volume of ${user} is attached to desktop ${row.leased_to}; stop it before resizing`);
      const r = await homeResize(this.ctx.paths.home(user), sizeBytes);
      await this.ctx.db.updateTable('homes').set({ size_bytes: r.to }).where('user', '=', user).execute();
      await auditAppend(this.ctx.db, principal, 'home.resize', user, r);
      return { ...(await this.show(user)), ...r };
    });
  }

  delete(user: string, confirmed: boolean, principal: string): Promise<{ deleted: string }> {
    return this.ctx.lock.run(`home:${user}`, async () => {
      const row = await this.require(user);
      if (!confirmed) throw new ArdesiaError('CONFIRMATION_REQUIRED', `deleting the home volume of ${user} destroys the user's files for good`);
      if (row.leased_to) throw new ArdesiaError('HOME_LEASED', `the home volume of ${user} is attached to desktop ${row.leased_to}; stop it first`);
      await this.ctx.db.deleteFrom('homes').where('user', '=', user).where('leased_to', 'is', null).execute();
      await rm(dirname(this.ctx.paths.home(user)), { recursive: true, force: true });
      await auditAppend(this.ctx.db, principal, 'home.delete', user, { sizeBytes: row.size_bytes });
      return { deleted: user };
    });
  }
}
