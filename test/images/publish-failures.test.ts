// A publish that fails half-way (data folder full, guest that will not power off) keeps the previous
// version current, the maintenance overlay and session, and store and files agree; a tampered
// version file is refused and never served.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, openSync, readdirSync, rmSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { ImageInfo, ImageVersion, MaintenanceSession } from '../../src/contract/images.js';
import type { VmStatus } from '../../src/contract/vm.js';
import { TestDaemon, until } from '../helpers/daemon.js';
import { guestArtifacts } from '../helpers/guests.js';
import { cliFails, cliJson, GUEST_CMDLINE, logCount, shellAnswers, typeAndExpect, waitForLog } from './support.js';

const g = guestArtifacts();
let daemon: TestDaemon;
let mountPoint: string;
const TMPFS_BYTES = 160 * 2 ** 20;

before(async () => {
  mountPoint = mkdtempSync(join(tmpdir(), 'ardfull-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_BYTES}`, 'tmpfs', mountPoint]);
  daemon = await TestDaemon.start({ dataDir: mountPoint });
  await cliJson(daemon, ['image', 'create', 'img', '--from', g.amd64.rootQcow2, '--kernel', g.amd64.kernel, '--initrd', g.amd64.initrd, '--cmdline', GUEST_CMDLINE, '--memory', '128M']);
});
after(async () => {
  await daemon?.destroy().catch(() => undefined);
  execFileSync('umount', ['-l', mountPoint]);
  rmSync(mountPoint, { recursive: true, force: true });
});

/** Store and files agree: exactly the recorded versions exist as files, no partial leftovers. */
function assertFilesMatch(img: ImageInfo): void {
  const files = readdirSync(join(mountPoint, 'images', 'img')).filter((f) => f !== 'boot').sort();
  assert.deepEqual(files, img.versions.map((v) => `${v.version}.qcow2`).sort());
}

test('disk full during publish: version 1 stays current, overlay and session kept; publishing again after freeing space works', async () => {
  await cliJson<MaintenanceSession>(daemon, ['image', 'edit', 'img']);
  await waitForLog(daemon, 'maint-img', g.amd64.banner);
  await shellAnswers(daemon, 'maint-img');
  // 8 MiB of fresh data in the overlay: its copy as version 2 needs that much room.
  await typeAndExpect(daemon, 'maint-img', 'dd if=/dev/urandom of=/big bs=1M count=8 2>/dev/null; sync; echo f-$((6*7))', 'f-42', 120_000);
  await cliJson(daemon, ['vm', 'stop', '-w', 'maint-img']);
  const filler = join(mountPoint, 'filler');
  const free = Number(execFileSync('df', ['-B1', '--output=avail', mountPoint], { encoding: 'utf8' }).trim().split('\n')[1]);
  execFileSync('fallocate', ['-l', String(free - 2 * 2 ** 20), filler]);
  const r = await cliFails(daemon, ['image', 'publish', 'img']);
  assert.match(r.stderr, /full/i);
  assert.match(r.stderr, /version 1 stays current and the maintenance overlay .* is kept/);
  const img = await cliJson<ImageInfo>(daemon, ['image', 'show', 'img']);
  assert.equal(img.currentVersion, 1);
  assert.deepEqual(img.versions.map((v) => v.version), [1]);
  assert.ok(img.maintenance, 'the session is still open');
  assert.ok(existsSync(img.maintenance.overlay), 'the overlay is kept');
  assertFilesMatch(img);

  rmSync(filler);
  const v2 = await cliJson<ImageVersion>(daemon, ['image', 'publish', 'img']);
  assert.equal(v2.version, 2);
  assertFilesMatch(await cliJson<ImageInfo>(daemon, ['image', 'show', 'img']));
});

test('a guest that ignores the power button: publish refuses clearly and keeps everything; discard ends the session', async () => {
  const boots = await logCount(daemon, 'maint-img', g.amd64.banner);
  const s = await cliJson<MaintenanceSession>(daemon, ['image', 'edit', 'img']);
  await waitForLog(daemon, s.vm, g.amd64.banner, boots);
  await shellAnswers(daemon, s.vm);
  await typeAndExpect(daemon, s.vm, 'echo : > /etc/acpi/PWRF/00000080; killall acpid; echo k-$((8+1))', 'k-9');
  const running = await cliJson<VmStatus>(daemon, ['vm', 'status', s.vm]);
  assert.equal(running.state, 'running', `the maintenance VM runs before publish: ${(await daemon.cli(['vm', 'log', s.vm])).stdout.slice(-3000)}`);
  const r = await cliFails(daemon, ['image', 'publish', 'img', '--timeout', '3']);
  assert.match(r.stderr, /did not power off within 3 s; nothing was published/);
  assert.match(r.stderr, /vm stop -f maint-img/);
  const img = await cliJson<ImageInfo>(daemon, ['image', 'show', 'img']);
  assert.equal(img.currentVersion, 2);
  assert.ok(img.maintenance && existsSync(img.maintenance.overlay));
  assertFilesMatch(img);
  await cliJson(daemon, ['image', 'discard', 'img']);
  const after = await cliJson<ImageInfo>(daemon, ['image', 'show', 'img']);
  assert.equal(after.maintenance, null);
  assert.equal(existsSync(s.overlay), false);
});

/** Restarts the daemon with `failpoint` armed, runs the CLI command it kills the daemon in, then starts it again as usual. */
async function crashAt(failpoint: string, args: string[]): Promise<void> {
  await daemon.kill('SIGTERM');
  await daemon.spawn({ ARDESIA_FAILPOINTS: failpoint });
  const r = await daemon.cli(args, { timeoutMs: 300_000 });
  assert.notEqual(r.code, 0, `the CLI sees the daemon die at ${failpoint}: ${r.stdout}`);
  await until('the daemon to be dead', () => daemon.proc?.exitCode !== null || daemon.proc?.signalCode !== null);
  await daemon.spawn();
}

/** An edit whose guest is up and answering (a publish then powers it off by ACPI). */
async function editReady(): Promise<MaintenanceSession> {
  const boots = await logCount(daemon, 'maint-img', g.amd64.banner);
  const s = await cliJson<MaintenanceSession>(daemon, ['image', 'edit', 'img']);
  await waitForLog(daemon, s.vm, g.amd64.banner, boots);
  await shellAnswers(daemon, s.vm);
  return s;
}

const overlaysLeft = () => readdirSync(join(mountPoint, 'maintenance', 'img'));

test('an edit or a publish killed between its writes leaves nothing in the way: after the restart the image is edited and published again', async () => {
  // The edit killed with its overlay written, before its session was recorded: the next start removes the overlay
  // (before, every later edit was refused: a linked clone never overwrites a file).
  await crashAt('image-edit-after-overlay', ['image', 'edit', 'img']);
  assert.equal((await cliJson<ImageInfo>(daemon, ['image', 'show', 'img'])).maintenance, null);
  assert.deepEqual(overlaysLeft(), [], 'the overlay no session owns is gone');
  assert.match(daemon.output, /reconciled image leftovers/);

  // The publish killed with the version file written, before it was recorded: the session stays open, the file goes,
  // and the publish goes through again.
  const s = await editReady();
  await crashAt('image-publish-after-write', ['image', 'publish', 'img']);
  const open = await cliJson<ImageInfo>(daemon, ['image', 'show', 'img']);
  assert.equal(open.currentVersion, 2, 'the version was not recorded');
  assert.equal(open.maintenance?.targetVersion, s.targetVersion, 'the session is still open');
  assert.equal(existsSync(join(mountPoint, 'images', 'img', `${s.targetVersion}.qcow2`)), false, 'the unrecorded version file is gone');
  assertFilesMatch(open);
  const published = await cliJson<ImageVersion>(daemon, ['image', 'publish', 'img']);
  assert.equal(published.version, s.targetVersion);
  assertFilesMatch(await cliJson<ImageInfo>(daemon, ['image', 'show', 'img']));

  // The publish killed once the version was recorded, before its VM and overlay were let go: the next start lets
  // them go (before, every later edit was refused: the maintenance VM's name was taken).
  const s2 = await editReady();
  await crashAt('image-publish-after-record', ['image', 'publish', 'img']);
  const done = await cliJson<ImageInfo>(daemon, ['image', 'show', 'img']);
  assert.equal(done.currentVersion, s2.targetVersion);
  assert.equal(done.maintenance, null);
  assert.match((await cliFails(daemon, ['vm', 'status', 'maint-img'])).stderr, /not defined/);
  assert.deepEqual(overlaysLeft(), []);
  assertFilesMatch(done);
  const s3 = await cliJson<MaintenanceSession>(daemon, ['image', 'edit', 'img']);
  assert.equal(s3.targetVersion, s2.targetVersion + 1, 'the image is edited again');
  await cliJson(daemon, ['image', 'discard', 'img']);
});

test('an image delete killed between its rows and its folder: after the restart the folder is gone and an image of that name is created again', async () => {
  const create = ['image', 'create', 'gone', '--from', g.amd64.rootQcow2, '--kernel', g.amd64.kernel, '--initrd', g.amd64.initrd, '--cmdline', GUEST_CMDLINE, '--memory', '128M'];
  await cliJson(daemon, create);
  await crashAt('image-delete-after-rows', ['image', 'delete', 'gone']);
  assert.match((await cliFails(daemon, ['image', 'show', 'gone'])).stderr, /image gone does not exist/);
  assert.equal(existsSync(join(mountPoint, 'images', 'gone')), false, 'the folder no image row names is gone');
  // Before, the create was refused (IMAGE_EXISTS: the folder exists but no image is recorded) until someone removed it.
  const again = await cliJson<ImageInfo>(daemon, create);
  assert.equal(again.currentVersion, 1);
  await cliJson(daemon, ['image', 'delete', 'gone']);
});

test('a version file changed on disk is refused loudly and never served', async () => {
  const img = await cliJson<ImageInfo>(daemon, ['image', 'show', 'img']);
  const v1 = img.versions.find((v) => v.version === 1)!;
  chmodSync(v1.path, 0o644);
  const fd = openSync(v1.path, 'r+');
  writeSync(fd, Buffer.from('tampered'), 0, 8, 1024 * 1024);
  closeSync(fd);
  const r = await cliFails(daemon, ['desktop', 'create', 'dx', '--image', 'img', '--version', '1']);
  assert.match(r.stderr, /no longer matches its recorded checksum/);
  // Version 2 is an overlay on 1: it is refused too.
  const r2 = await cliFails(daemon, ['desktop', 'create', 'dy', '--image', 'img']);
  assert.match(r2.stderr, /1\.qcow2 no longer matches/);
  assert.equal(existsSync(join(mountPoint, 'desktops', 'dx')), false);
  assert.equal(existsSync(join(mountPoint, 'desktops', 'dy')), false);
});
