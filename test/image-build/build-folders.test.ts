// A build killed mid-way leaves its chroot's mounts behind (mmdebstrap's proc, sys, devpts, tmpfs): the next build in
// the same cache unmounts and removes that folder, and leaves a running build's folder alone. Real mounts, as root.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { mountsUnder, sweepAbandonedBuilds } from '../../src/images/build/build-folders.js';

const cache = mkdtempSync('/tmp/ard-build-folders-');
after(() => {
  for (const point of mountsUnder(readFileSync('/proc/self/mountinfo', 'utf8'), cache)) spawnSync('umount', ['--lazy', point]);
  rmSync(cache, { recursive: true, force: true });
});

/** A pid no process has now: a process that has exited (and been reaped). */
function deadPid(): number {
  const ran = spawnSync('sh', ['-c', 'echo $$'], { encoding: 'utf8' });
  return Number(ran.stdout.trim());
}

test('an abandoned build folder with a read-only proc and a tmpfs mounted in its chroot is unmounted and removed; a live build\'s stays', () => {
  const abandoned = join(cache, `.building-tree-k1-${deadPid()}`);
  for (const dir of ['root/proc', 'root/dev/shm']) mkdirSync(join(abandoned, dir), { recursive: true });
  assert.equal(spawnSync('mount', ['-t', 'proc', '-o', 'ro', 'proc', join(abandoned, 'root/proc')]).status, 0, 'mount proc');
  assert.equal(spawnSync('mount', ['-t', 'tmpfs', 'tmpfs', join(abandoned, 'root/dev/shm')]).status, 0, 'mount tmpfs');
  writeFileSync(join(abandoned, 'root/dev/shm/left'), 'x');
  // A plain recursive removal fails here, which is what a build's own failure path used to run into.
  assert.throws(() => rmSync(join(abandoned, 'root/proc'), { recursive: true, force: true }));
  const live = join(cache, `.building-tree-k2-${process.ppid}`);
  mkdirSync(live);
  const other = join(cache, 'tree-amd64-k3');
  mkdirSync(other);

  assert.equal(sweepAbandonedBuilds(cache), 1);
  assert.deepEqual(mountsUnder(readFileSync('/proc/self/mountinfo', 'utf8'), cache), [], 'nothing is mounted under the cache any more');
  assert.equal(existsSync(abandoned), false);
  assert.equal(existsSync(live), true, 'a build whose process runs is left alone');
  assert.equal(existsSync(other), true, 'a finished tree is not a build folder');
});
