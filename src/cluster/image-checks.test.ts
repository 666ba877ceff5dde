import assert from 'node:assert/strict';
import { test } from 'node:test';
import { imageVersionAt } from './image-checks.js';

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
