import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { applyOverlay, desktopOverlay } from './rootfs-overlay.js';

const GUEST_DIR = join(fileURLToPath(import.meta.url), '..', '..', '..', '..', '..', 'guest', 'linux');

describe('desktop overlay: the X server before a user', () => {
  it('installs the X server unit and its script, which the guest helper starts before it reports ready', () => {
    const root = mkdtempSync('/tmp/overlay-');
    try {
      applyOverlay(root, desktopOverlay(), GUEST_DIR);
      const unit = readFileSync(join(root, 'etc/systemd/system/ardesia-display.service'), 'utf8');
      assert.match(unit, /^ExecStart=\/usr\/lib\/ardesia\/display-server$/m);
      assert.equal(statSync(join(root, 'usr/lib/ardesia/display-server')).mode & 0o777, 0o755);
      const helper = readFileSync(join(root, 'usr/sbin/ardesia-guest-helper'), 'utf8');
      assert.match(helper, /desktop_image && start_display\n\s*send_ready/, 'the helper starts the X server before its first ready');
      // Started by the helper, never at boot on its own (the test guests have no X).
      assert.ok(!existsSync(join(root, 'etc/systemd/system/multi-user.target.wants/ardesia-display.service')));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('copies only files that are in guest/linux', () => {
    for (const file of desktopOverlay().filter((f) => f.from)) assert.ok(existsSync(join(GUEST_DIR, file.from!)), `guest/linux/${file.from} is missing`);
  });
});
