import assert from 'node:assert/strict';
import { test } from 'node:test';
import { basename } from 'node:path';
import { buildFolderPath, buildFolderPid, mountsUnder } from './build-folders.js';

const line = (point: string) => `36 35 98:0 / ${point} rw,noatime master:1 - ext3 /dev/root rw,errors=continue`;

test('mounts under a build folder, deepest first; its neighbours and look-alike names are not', () => {
  const info = [
    line('/'),
    line('/work/c/.building-k-9/root/proc'),
    line('/work/c/.building-k-9/root/dev/pts'),
    line('/work/c/.building-k-9/root/dev'),
    line('/work/c/.building-k-90/root/proc'),
    line('/work/c/.building-k-9-other'),
    line('/work/c/.building-k-9/root/sys'),
    '',
  ].join('\n');
  assert.deepEqual(mountsUnder(info, '/work/c/.building-k-9'), [
    '/work/c/.building-k-9/root/dev/pts', '/work/c/.building-k-9/root/proc', '/work/c/.building-k-9/root/dev', '/work/c/.building-k-9/root/sys',
  ]);
  assert.deepEqual(mountsUnder(info, '/work/c/.building-k-9/'), mountsUnder(info, '/work/c/.building-k-9'), 'a trailing slash is the same folder');
  assert.deepEqual(mountsUnder(info, '/elsewhere'), []);
});

test('a mount point with a space is read back from its octal escape', () => {
  assert.deepEqual(mountsUnder(line('/a\\040b/.building-x-1/root/proc'), '/a b/.building-x-1'), ['/a b/.building-x-1/root/proc']);
});

test('a build folder\'s pid: only build folders\' names that end in one; its own path says its pid', () => {
  const cases: Array<[string, number | undefined]> = [
    ['.building-tree-0d8d5f-10896', 10896],
    ['.building-out-abc-77', 77],
    ['.building-tree-abc', undefined],
    ['tree-amd64-abc', undefined],
    ['debian-abc-5', undefined],
  ];
  for (const [name, pid] of cases) assert.equal(buildFolderPid(name), pid, name);
  assert.equal(buildFolderPid(basename(buildFolderPath('/c', 'tree-k'))), process.pid);
});
