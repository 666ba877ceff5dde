// A publish whose `qemu-img convert` is killed (SIGKILL) half-way keeps the previous version current
// and intact, the maintenance session and overlay, leaves no partial file, and says so clearly;
// publishing again afterwards makes the next version.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, test } from 'node:test';
import type { ImageInfo, ImageVersion, MaintenanceSession } from '../../src/contract/images.js';
import { TestDaemon } from '../helpers/daemon.js';
import { guestArtifacts } from '../helpers/guests.js';
import { cliFails, cliJson, GUEST_CMDLINE, waitForLog } from './support.js';

const g = guestArtifacts();
let daemon: TestDaemon;
let scratch: string;
// The guest's filesystem fills its first 64 MiB; the data that makes the convert last goes after it.
const GUEST_FS_BYTES = 64 * 2 ** 20;
const FILLER_MIB = 256;
const WATCH_EVERY_MS = 5;
const KILL_AFTER_BYTES = 16 * 2 ** 20;

before(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'ardkill-'));
  daemon = await TestDaemon.start();
  // A copy of the test guest with room behind its filesystem for the overlay's filler data.
  const roomy = join(scratch, 'roomy.qcow2');
  execFileSync('qemu-img', ['convert', '-q', '-O', 'qcow2', g.amd64.rootQcow2, roomy]);
  execFileSync('qemu-img', ['resize', '-q', roomy, String(GUEST_FS_BYTES + FILLER_MIB * 2 ** 20)]);
  await cliJson(daemon, ['image', 'create', 'img', '--from', roomy, '--kernel', g.amd64.kernel, '--initrd', g.amd64.initrd, '--cmdline', GUEST_CMDLINE, '--memory', '128M']);
});
after(async () => {
  await daemon?.destroy().catch(() => undefined);
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

interface Killed {
  pid: number;
  argv: string[];
  atMs: number;
  writtenBytes: number;
}

const fileSize = (path: string): number => {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
};

/** Polls /proc for a `qemu-img convert` working in `dataDir`; SIGKILLs it once its output holds `afterBytes`. */
function killQemuImgConvert(dataDir: string, afterBytes: number): { stop: () => Killed | undefined } {
  const started = Date.now();
  let killed: Killed | undefined;
  const timer = setInterval(() => {
    if (killed) return;
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      let argv: string[];
      try {
        argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      } catch {
        continue; // exited meanwhile
      }
      if (basename(argv[0] ?? '') !== 'qemu-img' || argv[1] !== 'convert' || !argv.some((a) => a.startsWith(`${dataDir}/`))) continue;
      const output = argv.filter(Boolean).at(-1)!;
      const writtenBytes = fileSize(output);
      if (writtenBytes < afterBytes) return; // mid-way means with data already written
      try {
        process.kill(Number(entry), 'SIGKILL');
        killed = { pid: Number(entry), argv, atMs: Date.now() - started, writtenBytes };
      } catch {
        // it finished between the read and the kill: the next one (if any) is fair game
      }
      return;
    }
  }, WATCH_EVERY_MS);
  return {
    stop: () => {
      clearInterval(timer);
      return killed;
    },
  };
}

const sha256sum = (path: string): string => execFileSync('sha256sum', [path], { encoding: 'utf8' }).split(' ')[0]!;
const versionDir = (): string[] => readdirSync(join(daemon.dataDir, 'images', 'img')).filter((f) => f !== 'boot').sort();

test('qemu-img killed during a flattening publish: version 1 stays current and intact, session and overlay kept, nothing partial left, a clear error; publishing again works', async (t) => {
  let mark = Date.now();
  const lap = (what: string): void => {
    t.diagnostic(`${what}: ${Date.now() - mark} ms`);
    mark = Date.now();
  };
  const s = await cliJson<MaintenanceSession>(daemon, ['image', 'edit', 'img']);
  await waitForLog(daemon, s.vm, g.amd64.banner);
  await cliJson(daemon, ['vm', 'stop', '-w', s.vm]);
  // Host-side filler (writing it from the guest is far too slow under TCG); the guest is off, so no lock.
  execFileSync('qemu-io', ['-f', 'qcow2', '-c', `write -q -P 0xa5 ${GUEST_FS_BYTES} ${FILLER_MIB}M`, s.overlay]);
  lap('edit, boot, stop, write the filler');
  const before = await cliJson<ImageVersion[]>(daemon, ['image', 'versions', 'img']);
  assert.deepEqual(before.map((v) => v.version), [1]);

  const watcher = killQemuImgConvert(daemon.dataDir, KILL_AFTER_BYTES);
  let r;
  try {
    r = await cliFails(daemon, ['image', 'publish', 'img', '--flatten']);
  } finally {
    const killed = watcher.stop();
    assert.ok(killed, `no qemu-img convert was killed with ${KILL_AFTER_BYTES / 2 ** 20} MiB written: the publish finished first, so ${FILLER_MIB} MiB of overlay data is too small here; stderr: ${r?.stderr}`);
    assert.ok(killed.argv.some((a) => a.endsWith('2.qcow2.partial')), `the killed qemu-img wrote the partial version: ${killed.argv.join(' ')}`);
    t.diagnostic(`qemu-img convert (pid ${killed.pid}) killed ${killed.atMs} ms after the publish began, with ${(killed.writtenBytes / 2 ** 20).toFixed(1)} MiB written`);
  }
  lap('the publish that was killed');
  assert.match(r.stderr, /publishing image img failed/);
  assert.match(r.stderr, /version 1 stays current and the maintenance overlay .* is kept/);

  const versions = await cliJson<ImageVersion[]>(daemon, ['image', 'versions', 'img']);
  assert.deepEqual(versions.map((v) => [v.version, v.current]), [[1, true]]);
  assert.equal(sha256sum(versions[0]!.path), versions[0]!.sha256, 'version 1 still matches its recorded sha256');
  const img = await cliJson<ImageInfo>(daemon, ['image', 'show', 'img']);
  assert.equal(img.currentVersion, 1);
  assert.equal(img.maintenance?.overlay, s.overlay, 'the session is still open');
  assert.ok(existsSync(s.overlay), 'the overlay is kept');
  assert.deepEqual(versionDir(), ['1.qcow2'], 'no 2.qcow2 and no .partial left behind');

  const v2 = await cliJson<ImageVersion>(daemon, ['image', 'publish', 'img', '--flatten']);
  lap('checks, then the second publish');
  assert.equal(v2.version, 2);
  assert.equal(v2.backingVersion, null, 'a flat version');
  assert.equal(sha256sum(v2.path), v2.sha256);
  const done = await cliJson<ImageInfo>(daemon, ['image', 'show', 'img']);
  assert.equal(done.currentVersion, 2);
  assert.equal(done.maintenance, null);
  assert.equal(existsSync(s.overlay), false, 'the published overlay is gone');
  assert.deepEqual(versionDir(), ['1.qcow2', '2.qcow2']);
  // Last, so every safety fact above is checked even where only the wording falls short.
  assert.match(r.stderr, /qemu-img was killed by SIGKILL/, `the message says why: ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /damaged/, `a killed qemu-img is not a damaged image: ${r.stderr}`);
});
