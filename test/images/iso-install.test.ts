// Installing from an ISO: a maintenance VM boots the installer with a blank disk; what is written to
// the disk from its console becomes version 1, and a desktop from version 1 boots.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { ImageInfo, ImageVersion } from '../../src/contract/images.js';
import { TestDaemon } from '../helpers/daemon.js';
import { guestArtifacts } from '../helpers/guests.js';
import { cliJson, GUEST_CMDLINE, shellAnswers, typeAndExpect, waitForLog } from './support.js';

const g = guestArtifacts();
let daemon: TestDaemon;

before(async () => {
  daemon = await TestDaemon.start();
});
after(async () => {
  await daemon?.destroy();
});

test('image create --iso: install through the console, publish, boot a desktop from version 1', async () => {
  const img = await cliJson<ImageInfo>(daemon, [
    'image', 'create', 'inst', '--iso', g.biosIso, '--size', '64M', '--memory', '128M',
    '--kernel', g.amd64.kernel, '--initrd', g.amd64.initrd, '--cmdline', GUEST_CMDLINE,
  ]);
  assert.equal(img.currentVersion, null);
  assert.equal(img.maintenance?.vm, 'maint-inst');
  assert.equal(img.maintenance?.targetVersion, 1);
  await waitForLog(daemon, 'maint-inst', g.amd64.banner);
  await shellAnswers(daemon, 'maint-inst');
  await typeAndExpect(daemon, 'maint-inst', 'echo ISO-$((40+2))-MARKER > /dev/vda; sync; echo i-$((9+9))', 'i-18');
  const v1 = await cliJson<ImageVersion>(daemon, ['image', 'publish', 'inst']);
  assert.equal(v1.version, 1);
  assert.equal(v1.backingVersion, null);
  const raw = join(daemon.dataDir, 'v1.raw');
  execFileSync('qemu-img', ['convert', '-O', 'raw', v1.path, raw]);
  assert.ok(readFileSync(raw).subarray(0, 4096).includes('ISO-42-MARKER'), 'version 1 holds what was written in the session');

  await cliJson(daemon, ['desktop', 'create', 'from-iso', '--image', 'inst']);
  await cliJson(daemon, ['desktop', 'start', 'from-iso']);
  await waitForLog(daemon, 'from-iso', g.amd64.banner);
  await cliJson(daemon, ['desktop', 'destroy', 'from-iso']);
});
