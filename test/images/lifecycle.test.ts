// The gold-image life cycle with real guests: desktops as linked clones (reset wipes the system
// disk, the home volume keeps its bytes, version files stay read-only and unchanged), home leases
// and QEMU's own lock, edit → publish → rollback with desktops on both versions, delete and gc. The tests share
// one daemon; each makes sure of the state it needs (the `ensure…` steps do nothing when an earlier test left it),
// so any one of them runs alone.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import type { DesktopInfo, HomeInfo, ImageInfo, ImageVersion, MaintenanceSession } from '../../src/contract/images.js';
import type { VmStatus } from '../../src/contract/vm.js';
import { TestDaemon } from '../helpers/daemon.js';
import { guestArtifacts } from '../helpers/guests.js';
import { cliFails, cliJson, GUEST_CMDLINE, logCount, openFlagsOf, shellAnswers, typeAndExpect, waitForLog } from './support.js';

const run = promisify(execFile);
const g = guestArtifacts();
let daemon: TestDaemon;
const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

before(async () => {
  daemon = await TestDaemon.start();
});
after(async () => {
  await daemon?.destroy();
});

/** The image `gold` with its kernel boot profile: made here unless an earlier test made it. */
async function ensureGold(): Promise<ImageInfo> {
  const shown = await daemon.cli(['--json', 'image', 'show', 'gold']);
  if (shown.code === 0) return JSON.parse(shown.stdout) as ImageInfo;
  return cliJson<ImageInfo>(daemon, [
    'image', 'create', 'gold', '--from', g.amd64.rootQcow2, '--kernel', g.amd64.kernel, '--initrd', g.amd64.initrd,
    '--cmdline', GUEST_CMDLINE, '--memory', '128M',
  ]);
}

const versionOne = async (): Promise<ImageVersion> => (await ensureGold()).versions.find((v) => v.version === 1)!;

/** A desktop of gold, created with `args` unless it exists. */
async function ensureDesktop(name: string, args: string[]): Promise<DesktopInfo> {
  await ensureGold();
  const shown = await daemon.cli(['--json', 'desktop', 'show', name]);
  return shown.code === 0 ? (JSON.parse(shown.stdout) as DesktopInfo) : cliJson<DesktopInfo>(daemon, ['desktop', 'create', name, '--image', 'gold', ...args]);
}

/** d1 running with alice's 16 MiB home leased, as the desktop test leaves it. */
async function ensureD1Running(): Promise<void> {
  await ensureDesktop('d1', ['--home', 'alice', '--home-size', '16M']);
  if ((await cliJson<VmStatus[]>(daemon, ['vm', 'status'])).some((v) => v.name === 'd1' && v.state === 'running')) return;
  await startAndWait('d1');
}

/** Writes /release in a maintenance session of gold (opened here unless `opened`) and publishes it as the next version. */
async function publishRelease(opened = false): Promise<ImageVersion> {
  if (!opened) await cliJson<MaintenanceSession>(daemon, ['image', 'edit', 'gold']);
  await waitForLog(daemon, 'maint-gold', g.amd64.banner);
  await shellAnswers(daemon, 'maint-gold');
  await typeAndExpect(daemon, 'maint-gold', 'echo release-2 > /release; sync; echo m-$((30+3))', 'm-33');
  return cliJson<ImageVersion>(daemon, ['image', 'publish', 'gold']);
}

/** Version 2 of gold (with /release) exists: published here unless the publish test did it. */
async function ensureVersionTwo(): Promise<void> {
  if (!(await ensureGold()).versions.some((v) => v.version === 2)) await publishRelease();
}

async function assertAudited(actions: string[]): Promise<void> {
  const audit = await daemon.api().request<Array<{ action: string }>>('GET', '/v1/audit?limit=1000');
  for (const action of actions) assert.ok(audit.some((a) => a.action === action), `audit has ${action}`);
}

async function startAndWait(desktop: string): Promise<VmStatus> {
  const before = await logCount(daemon, desktop, g.amd64.banner);
  await cliJson(daemon, ['desktop', 'start', desktop]);
  await waitForLog(daemon, desktop, g.amd64.banner, before);
  await shellAnswers(daemon, desktop);
  return cliJson<VmStatus>(daemon, ['vm', 'status', desktop]);
}

test('a gold image with a kernel boot profile', async () => {
  const img = await ensureGold();
  assert.equal(img.versions[0]?.version, 1);
  await assertAudited(['image.create']);
  assert.equal(img.boot.memoryMiB, 128);
  assert.match(img.boot.kernel ?? '', /images\/gold\/boot\//);
});

test('a desktop writes to its system disk and its home; reset wipes the system, keeps the home, leaves the version untouched', async () => {
  const v1 = await versionOne();
  const d = await cliJson<DesktopInfo>(daemon, ['desktop', 'create', 'd1', '--image', 'gold', '--home', 'alice', '--home-size', '16M']);
  assert.equal(d.version, 1);
  assert.equal(d.followsLatest, true);
  assert.ok(statSync(d.systemDisk).size < 1024 * 1024, 'a linked clone costs well under 1 MiB');
  const status = await startAndWait('d1');
  // QEMU holds the version file read-only (O_ACCMODE = 0) and the file is 0444.
  const flags = openFlagsOf(status.pid!, v1.path);
  assert.ok(flags.length > 0, 'QEMU has the version file open');
  for (const f of flags) assert.equal(f & 3, 0, `version file opened with flags ${f.toString(8)}`);
  assert.equal(statSync(v1.path).mode & 0o777, 0o444);
  const home = await cliJson<HomeInfo>(daemon, ['home', 'show', 'alice']);
  assert.equal(home.leasedTo, 'd1');

  await typeAndExpect(daemon, 'd1', 'echo virus > /virus; sync; echo w-$((20+1))', 'w-21');
  await typeAndExpect(daemon, 'd1', 'echo HOMEDATA-42 > /dev/disk/by-id/virtio-ardesia-home 2>/dev/null || echo HOMEDATA-42 > /dev/vdb; sync; echo h-$((20+2))', 'h-22');
  await typeAndExpect(daemon, 'd1', '[ -e /virus ] && echo present-$((1+1))', 'present-2');

  const boots = await logCount(daemon, 'd1', g.amd64.banner);
  await cliJson(daemon, ['desktop', 'reset', 'd1']);
  await waitForLog(daemon, 'd1', g.amd64.banner, boots);
  await shellAnswers(daemon, 'd1');
  await typeAndExpect(daemon, 'd1', '[ -e /virus ] && echo still-$((1+1)) || echo gone-$((2+2))', 'gone-4');
  const seen = await typeAndExpect(daemon, 'd1', 'head -c 11 /dev/vdb; echo; echo r-$((3+3))', 'r-6');
  assert.match(seen, /HOMEDATA-42/);
  assert.equal(sha256(v1.path), v1.sha256, 'the gold version is unchanged');
  await assertAudited(['desktop.reset']);
});

test('a second desktop cannot take a leased home; QEMU itself refuses the locked file too', async () => {
  await ensureD1Running();
  await cliJson(daemon, ['desktop', 'create', 'd2', '--image', 'gold', '--version', '1', '--home', 'alice']);
  const r = await cliFails(daemon, ['desktop', 'start', 'd2']);
  assert.match(r.stderr, /in use by desktop d1/);
  const home = await cliJson<HomeInfo>(daemon, ['home', 'show', 'alice']);
  assert.equal(home.leasedTo, 'd1');
  // Bypass the lease: a QEMU of our own on the same file is stopped by QEMU's image lock.
  const qemu = await run('qemu-system-x86_64', ['-M', 'pc', '-nodefaults', '-display', 'none', '-S', '-drive', `file=${home.path},format=qcow2,if=virtio`], { timeout: 30_000 }).then(
    () => ({ stderr: '' }),
    (err: { stderr?: string }) => ({ stderr: err.stderr ?? '' }),
  );
  assert.match(qemu.stderr, /Failed to get "write" lock/);
  const resize = await cliFails(daemon, ['home', 'resize', 'alice', '32M']);
  assert.match(resize.stderr, /attached to desktop d1/);
  const del = await cliFails(daemon, ['home', 'delete', 'alice']);
  assert.match(del.stderr, /--yes/);
});

test('edit → publish: one session at a time, the next version is an overlay on the previous one', async () => {
  await ensureGold();
  const s = await cliJson<MaintenanceSession>(daemon, ['image', 'edit', 'gold']);
  assert.equal(s.vm, 'maint-gold');
  assert.equal(s.targetVersion, 2);
  const second = await cliFails(daemon, ['image', 'edit', 'gold']);
  assert.match(second.stderr, /already has a maintenance session, opened by root at/);
  const v2 = await publishRelease(true);
  assert.equal(v2.version, 2);
  assert.equal(v2.backingVersion, 1);
  assert.equal(v2.depth, 2);
  assert.equal(statSync(v2.path).mode & 0o777, 0o444);
  assert.equal(sha256(v2.path), v2.sha256);
  const img = await cliJson<ImageInfo>(daemon, ['image', 'show', 'gold']);
  assert.equal(img.currentVersion, 2);
  assert.equal(img.maintenance, null);
  const vms = await cliJson<VmStatus[]>(daemon, ['vm', 'status']);
  assert.equal(vms.some((v) => v.name === 'maint-gold'), false, 'the maintenance VM is gone');
  await assertAudited(['image.edit', 'image.publish']);
});

test('desktops on both versions; rollback makes "latest" follow version 1 again', async () => {
  await ensureVersionTwo();
  const d3 = await cliJson<DesktopInfo>(daemon, ['desktop', 'create', 'd3', '--image', 'gold']);
  assert.equal(d3.version, 2);
  await startAndWait('d3');
  await typeAndExpect(daemon, 'd3', 'cat /release; echo c-$((4+4))', 'release-2');
  await cliJson(daemon, ['desktop', 'stop', '-f', 'd3']);

  const rolled = await cliJson<ImageInfo>(daemon, ['image', 'rollback', 'gold', '--to', '1']);
  assert.equal(rolled.currentVersion, 1);
  const d4 = await cliJson<DesktopInfo>(daemon, ['desktop', 'create', 'd4', '--image', 'gold']);
  assert.equal(d4.version, 1);
  await startAndWait('d4');
  await typeAndExpect(daemon, 'd4', '[ -e /release ] && echo has-$((5+5)) || echo none-$((6+6))', 'none-12');
  await cliJson(daemon, ['desktop', 'stop', '-f', 'd4']);
  const d3Again = await cliJson<DesktopInfo>(daemon, ['desktop', 'show', 'd3']);
  assert.equal(d3Again.version, 2, 'a desktop keeps its version until its next reset');
  const d3Reset = await cliJson<DesktopInfo>(daemon, ['desktop', 'reset', 'd3']);
  assert.equal(d3Reset.version, 1, 'at reset a desktop on "latest" follows the current version');
  await assertAudited(['image.rollback', 'desktop.reset']);
});

test('delete is refused while anything depends on a version, naming the dependants; gc frees what nobody uses', async () => {
  // Desktops d1 and d2 on version 1, version 2 made and used by nobody, version 1 current (as the rollback test leaves them).
  await ensureDesktop('d1', ['--home', 'alice', '--home-size', '16M']);
  await ensureDesktop('d2', ['--version', '1', '--home', 'alice']);
  await ensureVersionTwo();
  if ((await ensureGold()).currentVersion !== 1) await cliJson(daemon, ['image', 'rollback', 'gold', '--to', '1']);
  const r1 = await cliFails(daemon, ['image', 'delete', 'gold', '--version', '1']);
  assert.match(r1.stderr, /current version/);
  assert.match(r1.stderr, /desktop d1/);
  assert.match(r1.stderr, /version 2 \(an overlay on it\)/);
  const whole = await cliFails(daemon, ['image', 'delete', 'gold']);
  assert.match(whole.stderr, /desktop d2/);
  // Version 2 is now used by nobody (d3 was reset onto 1) and is not current: gc takes it.
  const gc = await cliJson<{ deleted: Array<{ image: string; version: number }> }>(daemon, ['image', 'gc']);
  assert.deepEqual(gc.deleted, [{ image: 'gold', version: 2 }]);
  const versions = await cliJson<ImageVersion[]>(daemon, ['image', 'versions', 'gold']);
  assert.deepEqual(versions.map((v) => v.version), [1]);
  await assertAudited(['image.gc']);
});

test('stop releases the home; then it can be resized and (with --yes) deleted; desktops destroyed; audited', async () => {
  await ensureD1Running();
  await cliJson(daemon, ['desktop', 'stop', '-f', 'd1']);
  assert.equal((await cliJson<HomeInfo>(daemon, ['home', 'show', 'alice'])).leasedTo, null);
  const grown = await cliJson<{ from: number; to: number }>(daemon, ['home', 'resize', 'alice', '32M']);
  assert.deepEqual([grown.from, grown.to], [16 * 2 ** 20, 32 * 2 ** 20]);
  const shrink = await cliFails(daemon, ['home', 'resize', 'alice', '8M']);
  assert.match(shrink.stderr, /shrink|smaller/i);
  for (const d of await cliJson<DesktopInfo[]>(daemon, ['desktop', 'list'])) await cliJson(daemon, ['desktop', 'destroy', d.name]);
  await cliJson(daemon, ['home', 'delete', 'alice', '--yes']);
  await cliJson(daemon, ['image', 'delete', 'gold']);
  assert.deepEqual(await cliJson<DesktopInfo[]>(daemon, ['desktop', 'list']), []);
  await assertAudited(['image.delete', 'desktop.destroy', 'home.resize', 'home.delete']);
});
