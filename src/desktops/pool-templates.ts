// Restore templates of pools in start mode `restore`: per (image version, VM shape) one desktop is booted, waited
// to its guest helper's `ready`, paused and saved (QEMU confined as any VM, the state over the daemon's socket),
// and its overlay frozen (0444, sha256 in the manifest). Its RAM is a memfd (shared-ram.ts), sealed after the save
// and kept in ram.bin; clones map it privately and load the devices' state (vm-template-state.ts); the three files
// are checked by sha256 before a clone uses them. QEMU's version and accelerator are checked at each clone's
// launch (a mismatch fails the restore and the template is rebuilt). Files: templates/<key>/<build>/.
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { GuestChannel } from '../agent/guest-channel.js';
import { ArdesiaError } from '../contract/errors.js';
import type { Pool, TemplateStatus } from '../contract/pools.js';
import type { VmSpec } from '../contract/vm.js';
import type { ServiceContext } from '../images/context.js';
import { versionList } from '../images/repo.js';
import { verifiedVersionPath } from '../images/versions.js';
import { hasClipboardAgent } from '../hypervisor/saved-state/clipboard-agent.js';
import { machineOf, qemuVersionText } from '../hypervisor/saved-state/manifest.js';
import { RamHold } from '../hypervisor/saved-state/shared-ram.js';
import { templateRamHold } from '../hypervisor/saved-state/ram-adopt.js';
import { TEMPLATE_FORMAT, TemplateManifest, templateDevicesFingerprint, templateKey, type TemplateToLoad } from '../hypervisor/saved-state/template.js';
import { withTimeout } from '../lib/with-timeout.js';
import { createLinkedClone, readQcow2Header } from '../storage/index.js';
import { type TemplateBuild, templateBuildsToRemove } from './template-gc.js';

const QUIT_AFTER_SAVE_MS = 30_000;
const MIB = 1024 * 1024;
const TEMPLATE_VM_PREFIX = 'template-';

/** What the templates need of the desktop machine: a desktop's VM spec for a pool and image version. */
export type DesktopSpecOf = (pool: Pool, name: string, image: string, disk: string) => Promise<VmSpec>;

interface Built {
  manifest: TemplateManifest;
  dir: string;
  /** The files' stat when their sha256 was last checked: unchanged files are not hashed again. */
  checked: Map<string, string>;
  /** The sealed RAM memfd clones map: the one the template ran on, or after a daemon restart a running clone's held
   *  again (ram-adopt.ts) or ram.bin loaded. */
  ram?: Promise<RamHold>;
}

export class PoolTemplates {
  /** Templates by key, once built (or found on disk). */
  private readonly built = new Map<string, Built>();
  /** Builds in flight by key. */
  private readonly building = new Map<string, Promise<Built>>();
  /** What each restore pool sees of its template. */
  private readonly statuses = new Map<string, TemplateStatus>();
  /** Keys whose image kernel cannot reseed a clone (no CONFIG_VMGENID): their pools boot, nothing is built again. */
  private readonly unsupported = new Map<string, string>();

  constructor(
    private readonly ctx: ServiceContext,
    private readonly specOf: DesktopSpecOf,
    private readonly bootTimeoutMs: number,
    /** The pool's template status changed (the pool's live event, the planner's kick). */
    private readonly changed: (pool: string) => void,
  ) {}

  private get log() {
    return this.ctx.deps.log;
  }

  statusOf(pool: Pool): TemplateStatus | null {
    if (pool.startMode !== 'restore') return null;
    return this.statuses.get(pool.name) ?? { state: 'building', reason: 'the template is not built yet', key: null, since: new Date().toISOString(), bootMs: null, saveMs: null, lastRestoreMs: null, kernelVmgenid: null };
  }

  private setStatus(pool: string, status: Partial<TemplateStatus> & Pick<TemplateStatus, 'state' | 'reason'>): void {
    const was = this.statuses.get(pool);
    const next: TemplateStatus = { key: null, bootMs: null, saveMs: null, lastRestoreMs: null, kernelVmgenid: null, ...was, ...status, since: was?.state === status.state ? was.since : new Date().toISOString() };
    this.statuses.set(pool, next);
    if (was?.state !== next.state || was.reason !== next.reason) {
      if (next.state === 'failed') this.log.warn({ pool, template: next.key }, `pool ${pool}: its desktops boot: ${next.reason}`);
      else this.log.info({ pool, template: next.key, state: next.state }, `pool ${pool}: template ${next.state}${next.reason ? `: ${next.reason}` : ''}`);
      this.changed(pool);
    }
  }

  noteRestore(pool: string, ms: number | undefined): void {
    const was = this.statuses.get(pool);
    if (was && ms !== undefined) this.statuses.set(pool, { ...was, lastRestoreMs: ms });
  }

  /** The key of the pool's template for `version`: the gold version's sha256 and the desktop's VM shape. */
  private async keyOf(pool: Pool, image: string, version: number): Promise<string> {
    const row = (await versionList(this.ctx.db, image)).find((v) => v.version === version);
    if (!row) throw new ArdesiaError('IMAGE_VERSION_NOT_FOUND', `image ${image} has no version ${version}`);
    const shape = await this.specOf(pool, 'x', image, '/');
    // The VM's name and disk path are each desktop's own; everything else is the shape a template is identical in.
    const { name: _name, disks: _disks, ...devices } = shape;
    return templateKey({ image, version, versionSha256: row.sha256, memoryMiB: shape.memoryMiB, vcpus: shape.vcpus, devices, qemuVersion: '', accel: 'tcg' });
  }

  /**
   * The template a new clone of `pool` at `version` loads, checked by sha256; undefined (and a build started) while
   * there is none. A pool in boot mode has none.
   */
  async forClone(pool: Pool, image: string, version: number): Promise<TemplateToLoad | undefined> {
    if (pool.startMode !== 'restore') return undefined;
    const key = await this.keyOf(pool, image, version);
    if (this.refuseUnsupported(pool, key)) return undefined;
    const built = this.built.get(key) ?? this.fromDisk(key);
    if (!built) {
      void this.ensure(pool, image, version, key);
      return undefined;
    }
    await this.verify(built);
    const ram = await this.ramOf(built);
    this.setStatus(pool.name, { state: 'ready', reason: null, key, bootMs: built.manifest.bootMs, saveMs: built.manifest.saveMs, kernelVmgenid: built.manifest.kernelVmgenid });
    return { manifest: built.manifest, stream: join(built.dir, 'state.bin'), ram: ram.procPath, ramFile: join(built.dir, 'ram.bin') };
  }

  /** Starts the pool's template build if none runs (the planner calls it so the first spare can already restore). */
  async prepare(pool: Pool, image: string, version: number): Promise<void> {
    if (pool.startMode !== 'restore') return;
    const key = await this.keyOf(pool, image, version);
    if (this.refuseUnsupported(pool, key)) return;
    const built = this.built.get(key) ?? this.fromDisk(key);
    if (built) return this.setStatus(pool.name, { state: 'ready', reason: null, key, bootMs: built.manifest.bootMs, saveMs: built.manifest.saveMs, kernelVmgenid: built.manifest.kernelVmgenid });
    void this.ensure(pool, image, version, key);
  }

  /** A restore from the pool's template failed: it is forgotten (clones on it keep their files) and built again. */
  async rebuild(pool: Pool, image: string, version: number, why: string): Promise<void> {
    const key = await this.keyOf(pool, image, version);
    const built = this.built.get(key) ?? this.fromDisk(key);
    this.forget(key);
    // The build folder stays (clones' overlays are backed by its frozen overlay); the key's pointer goes.
    if (built) await rm(join(this.keyDir(key), 'current'), { force: true });
    this.setStatus(pool.name, { state: 'building', reason: `a restore failed (${why}); the template is being rebuilt`, key });
    void this.ensure(pool, image, version, key);
  }

  /** The template's RAM memfd once per daemon: a running clone's, held again, or loaded from its verified ram.bin (a
   *  failed load is tried again). */
  private ramOf(built: Built): Promise<RamHold> {
    built.ram ??= templateRamHold(join(built.dir, 'ram.bin'), built.manifest.ram).then(({ hold, adoptedFrom }) => {
      if (adoptedFrom !== undefined) this.log.info({ template: built.manifest.key, pid: adoptedFrom }, `template ${built.manifest.key}: its RAM held again from a running clone's QEMU (pid ${adoptedFrom}), not loaded a second time`);
      return hold;
    });
    return built.ram.catch((err: Error) => {
      built.ram = undefined;
      throw err;
    });
  }

  /**
   * Removes the template builds nothing needs (template-gc.ts): `wanted` are the (pool, version) pairs restore pools
   * clone from now or their desktops run on, `desktopDisks` every pool desktop's system disk. Returns how many went.
   */
  async collect(wanted: ReadonlyArray<{ pool: Pool; image: string; version: number }>, desktopDisks: readonly string[]): Promise<number> {
    const root = join(resolve(this.ctx.deps.dataDir), 'templates');
    const builds: TemplateBuild[] = [];
    for (const key of await readdir(root).catch(() => [] as string[])) {
      if (!/^[0-9a-f]{16}$/.test(key)) continue;
      const current = await readFile(join(root, key, 'current'), 'utf8').then((s) => s.trim(), () => undefined);
      for (const build of await readdir(join(root, key)).catch(() => [] as string[])) {
        if (/^[0-9]+$/.test(build)) builds.push({ key, build, overlay: join(root, key, build, 'system.qcow2'), current: build === current });
      }
    }
    if (builds.length === 0) return 0;
    const wantedKeys = new Set<string>();
    for (const w of wanted) wantedKeys.add(await this.keyOf(w.pool, w.image, w.version).catch(() => ''));
    const backing = new Set<string>();
    for (const disk of desktopDisks) {
      const header = await readQcow2Header(disk).catch(() => undefined);
      if (header?.backingFile) backing.add(resolve(dirname(disk), header.backingFile));
    }
    let removed = 0;
    for (const b of templateBuildsToRemove({ builds, wanted: wantedKeys, backing, building: new Set(this.building.keys()) })) {
      // A build that finished while the folders were read is current now: it stays.
      const currentNow = await readFile(join(root, b.key, 'current'), 'utf8').then((s) => s.trim(), () => undefined);
      if (this.building.has(b.key) || (currentNow === b.build && !b.current)) continue;
      if (b.current) {
        await rm(join(root, b.key, 'current'), { force: true });
        this.forget(b.key);
      }
      await rm(join(root, b.key, b.build), { recursive: true, force: true });
      removed++;
      this.log.info({ template: b.key, build: b.build }, `template ${b.key} build ${b.build} removed: ${b.why}`);
      if ((await readdir(join(root, b.key)).catch(() => [])).length === 0) await rm(join(root, b.key), { recursive: true, force: true });
    }
    return removed;
  }

  /** The key's template is no longer offered; its RAM holder goes (clones keep their own mappings of it). */
  private forget(key: string): void {
    void this.built.get(key)?.ram?.then((hold) => hold.close(), () => undefined);
    this.built.delete(key);
  }

  /** The pool falls back to boot, saying why, when its image's kernel cannot reseed clones. */
  private refuseUnsupported(pool: Pool, key: string): boolean {
    const why = this.unsupported.get(key);
    if (why === undefined) return false;
    this.setStatus(pool.name, { state: 'failed', reason: why, key, kernelVmgenid: 'no' });
    return true;
  }

  private keyDir(key: string): string {
    return join(resolve(this.ctx.deps.dataDir), 'templates', key);
  }

  /** A template built by an earlier daemon: templates/<key>/current names its build folder. */
  private fromDisk(key: string): Built | undefined {
    try {
      const build = readFileSync(join(this.keyDir(key), 'current'), 'utf8').trim();
      if (!/^[0-9]+$/.test(build)) return undefined;
      const dir = join(this.keyDir(key), build);
      const manifest = TemplateManifest.parse(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')));
      const built: Built = { manifest, dir, checked: new Map() };
      this.built.set(key, built);
      return built;
    } catch {
      return undefined;
    }
  }

  private ensure(pool: Pool, image: string, version: number, key: string): Promise<Built | undefined> {
    let inFlight = this.building.get(key);
    if (!inFlight) {
      inFlight = this.build(pool, image, version, key).finally(() => this.building.delete(key));
      this.building.set(key, inFlight);
    }
    this.setStatus(pool.name, { state: 'building', reason: `template ${key} of ${image} version ${version} is being built; desktops boot meanwhile`, key });
    return inFlight.then(
      (built) => {
        this.setStatus(pool.name, { state: 'ready', reason: null, key, bootMs: built.manifest.bootMs, saveMs: built.manifest.saveMs, kernelVmgenid: built.manifest.kernelVmgenid });
        return built;
      },
      (err: Error) => {
        if (!this.refuseUnsupported(pool, key)) this.setStatus(pool.name, { state: 'failed', reason: `template ${key} could not be built: ${err.message}`, key });
        return undefined;
      },
    );
  }

  /** Boots the template desktop, waits for `ready`, saves its state, freezes its overlay; nothing left on failure. */
  private async build(pool: Pool, image: string, version: number, key: string): Promise<Built> {
    const base = await verifiedVersionPath(this.ctx, image, version);
    const dir = join(this.keyDir(key), String(Date.now()));
    const overlay = join(dir, 'system.qcow2');
    const stream = join(dir, 'state.bin');
    const ramFile = join(dir, 'ram.bin');
    const vm = `${TEMPLATE_VM_PREFIX}${key}`;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    let ram: RamHold | undefined;
    try {
      await createLinkedClone({ base, overlay });
      const spec = await this.specOf(pool, vm, image, overlay);
      await this.ctx.vms.define([spec], () => `template of pool ${pool.name}`);
      ram = await RamHold.create(spec.memoryMiB * MIB);
      const started = Date.now();
      await this.ctx.vms.start(vm, undefined, undefined, undefined, { templateRam: ram.procPath });
      const rt = this.ctx.vms.runtimeOf(vm);
      if (!rt) throw new ArdesiaError('VM_NOT_RUNNING', `the template VM ${vm} stopped at once`);
      const channel = new GuestChannel(rt.paths.guest).open();
      let ready: { vmgenid?: 'yes' | 'no' | 'unknown' };
      try {
        ready = await channel.waitFor('ready', () => true, this.bootTimeoutMs).catch(() => {
          throw new ArdesiaError('VM_START_FAILED', `the template's guest helper did not report ready within ${Math.round(this.bootTimeoutMs / 1000)} s`);
        });
      } finally {
        channel.close();
      }
      const kernelVmgenid = ready.vmgenid ?? 'unknown';
      if (kernelVmgenid === 'no') {
        // Clones of this kernel would share the template's random state: the pool boots instead (README, start modes).
        const why = `the kernel of ${image} version ${version} lacks CONFIG_VMGENID (its /boot/config-*), so a restored clone would not reseed its random numbers: desktops boot; use a kernel built with CONFIG_VMGENID=y (Debian's generic amd64 kernel, not -cloud) to restore`;
        this.unsupported.set(key, why);
        throw new ArdesiaError('VM_START_FAILED', why);
      }
      const bootMs = Date.now() - started;
      const argv = rt.launchArgv;
      const qemuVersion = qemuVersionText(await rt.qmp.queryVersion());
      const saved = await rt.saveState(stream, { clipboardAgent: hasClipboardAgent(argv.args), ignoreShared: true });
      await rt.forceStop('its state was saved as a restore template');
      if ((await withTimeout(rt.waitExit(), QUIT_AFTER_SAVE_MS)) === undefined) throw new ArdesiaError('VM_STATE_SAVE_FAILED', `the template VM ${vm} did not exit after its state was saved`);
      // Its QEMU gone, no writable shared mapping is left: sealed, no clone can write or truncate the RAM the others map.
      await ram.seal();
      const ramSha256 = await ram.saveTo(ramFile);
      // Frozen from now on: every clone's overlay is backed by it.
      await chmod(overlay, 0o444);
      await chmod(stream, 0o400);
      const manifest: TemplateManifest = {
        format: TEMPLATE_FORMAT,
        key,
        image,
        version,
        savedAt: new Date().toISOString(),
        qemuVersion,
        machine: machineOf(argv.args),
        memoryMiB: rt.spec.memoryMiB,
        vcpus: rt.spec.vcpus,
        accel: rt.accel,
        devicesSha256: templateDevicesFingerprint({ ...argv, vm, runtimeDir: rt.paths.dir }),
        overlay: { path: overlay, bytes: (await stat(overlay)).size, sha256: await fileSha256(overlay) },
        state: { bytes: saved.bytes, sha256: saved.sha256 },
        ram: { bytes: ram.bytes, sha256: ramSha256 },
        bootMs,
        saveMs: saved.ms,
        kernelVmgenid,
      };
      await writeFile(join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
      await writeFile(join(this.keyDir(key), 'current.tmp'), `${dir.slice(this.keyDir(key).length + 1)}\n`, { mode: 0o600 });
      await rename(join(this.keyDir(key), 'current.tmp'), join(this.keyDir(key), 'current'));
      await this.ctx.vms.undefine(vm);
      this.log.info({ pool: pool.name, template: key, bootMs, saveMs: saved.ms, stateBytes: saved.bytes }, `pool ${pool.name}: template ${key} saved`);
      // Hashed as they were written: the first clone does not read them again.
      const checked = new Map<string, string>();
      for (const path of [stream, overlay, ramFile]) checked.set(path, statKey(await stat(path)));
      const built: Built = { manifest, dir, checked, ram: Promise.resolve(ram) };
      this.built.set(key, built);
      return built;
    } catch (err) {
      ram?.close();
      if (this.ctx.vms.runtimeOf(vm)) await this.ctx.vms.stop(vm, { force: true, waitMs: QUIT_AFTER_SAVE_MS }).catch(() => undefined);
      await this.ctx.vms.undefine(vm).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** The state and the frozen overlay are the manifest's (sha256), hashed again only when their stat changed. */
  private async verify(built: Built): Promise<void> {
    const files: Array<[string, { bytes: number; sha256: string }]> = [
      [join(built.dir, 'state.bin'), built.manifest.state],
      [built.manifest.overlay.path, built.manifest.overlay],
      [join(built.dir, 'ram.bin'), built.manifest.ram],
    ];
    for (const [path, want] of files) {
      const st = await stat(path).catch(() => undefined);
      const seen = st && statKey(st);
      if (seen !== undefined && built.checked.get(path) === seen) continue;
      if (!st || st.size !== want.bytes || (await fileSha256(path)) !== want.sha256) {
        this.forget(built.manifest.key);
        throw new ArdesiaError('VM_STATE_INVALID', `template ${built.manifest.key}: ${path} is missing or damaged (not the sha256 of its manifest)`);
      }
      built.checked.set(path, seen!);
    }
  }
}

/** What must stay the same for a file's checked sha256 to stand (a rewrite or chmod changes ctime). */
function statKey(st: { ino: number; size: number; mtimeMs: number; ctimeMs: number }): string {
  return `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
}

async function fileSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}
