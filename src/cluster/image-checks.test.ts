import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VmSpec } from '../contract/vm.js';
import { createLinkedClone } from '../storage/clone.js';
import { qemuImg } from '../storage/qemu-img.js';
import { imageVersionAt, isInside, localFilesFor } from './image-checks.js';

test('imageVersionAt: only DATA_DIR/images/IMAGE/N.qcow2 is an image version', () => {
  const images = '/srv/ardesia/images';
  const table: [string, { image: string; version: number } | undefined][] = [
    ['/srv/ardesia/images/debian/1.qcow2', { image: 'debian', version: 1 }],
    ['/srv/ardesia/images/win.10/42.qcow2', { image: 'win.10', version: 42 }],
    ['/srv/ardesia/images/debian/0.qcow2', undefined],
    ['/srv/ardesia/images/debian/01.qcow2', undefined],
    ['/srv/ardesia/images/debian/1.raw', undefined],
    ['/srv/ardesia/images/debian/boot/1.qcow2', undefined],
    ['/srv/ardesia/images/1.qcow2', undefined],
    ['/srv/ardesia/desktops/d1/system.qcow2', undefined],
    ['/srv/ardesia/images/../desktops/1.qcow2', undefined],
    ['/elsewhere/images/debian/1.qcow2', undefined],
  ];
  for (const [path, want] of table) assert.deepEqual(imageVersionAt(images, path), want, path);
});

test('isInside: a path strictly below the folder, never the folder itself or a way out of it', () => {
  const table: [string, boolean][] = [
    ['/srv/ardesia/desktops/d1/system.qcow2', true],
    ['/srv/ardesia/desktops', false],
    ['/srv/ardesia/desktops/../homes/alice.qcow2', false],
    ['/srv/ardesia/desktops-old/d1/system.qcow2', false],
    ['/elsewhere/d1.qcow2', false],
  ];
  for (const [path, want] of table) assert.equal(isInside('/srv/ardesia/desktops', path), want, path);
});

test('localFilesFor: a desktop clone on a version and a blank scratch home are made on the host; the boot files copied; other files are not listed', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ard-lf-'));
  try {
    const version = join(dataDir, 'images', 'bb', '1.qcow2');
    const kernel = join(dataDir, 'images', 'bb', 'boot', 'kernel-x');
    const system = join(dataDir, 'desktops', 'd1', 'system.qcow2');
    const scratch = join(dataDir, 'desktops', 'd1', 'scratch-home.qcow2');
    const stray = join(dataDir, 'desktops', 'd1', 'other.qcow2');
    for (const dir of [join(dataDir, 'images', 'bb', 'boot'), join(dataDir, 'desktops', 'd1')]) mkdirSync(dir, { recursive: true });
    await qemuImg(['create', '-q', '-f', 'qcow2', version, '16M']);
    writeFileSync(kernel, 'kernel');
    await createLinkedClone({ base: version, overlay: system });
    await qemuImg(['create', '-q', '-f', 'qcow2', scratch, '8M']);
    await qemuImg(['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', join(dataDir, 'desktops', 'd1', 'system.qcow2'), stray]);
    const disk = (path: string) => ({ path, format: 'qcow2' as const, bus: 'virtio' as const, readonly: false });
    const spec = VmSpec.parse({ name: 'd1', disks: [disk(system), disk(scratch), disk(stray), disk('/srv/vms/x.qcow2')], boot: { kernel, initrd: '/boot/initrd.img' } });
    assert.deepEqual(await localFilesFor(dataDir)(spec), { disks: [{ disk: 0, base: version }, { disk: 1, blankBytes: 8 * 2 ** 20 }], boot: [kernel] });
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
