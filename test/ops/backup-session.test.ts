// The disaster drill: a site with a session running (alice in a pool desktop, a file in her home) is backed up
// with images and homes (her plugged home copied by QEMU's blockdev-backup), the data folder destroyed, the
// backup restored into a new folder, and alice logs in again: her file is in her home.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { DesktopView, SessionInfo } from '../../src/contract/pools.js';
import { ApiClient } from '../../src/cli/client.js';
import { runCli, TestDaemon } from '../helpers/daemon.js';
import { typeAndExpect } from '../images/support.js';
import { poolTestbed, untilDesktops } from '../pools/support.js';

let daemon: TestDaemon;
let alice: ApiClient;

poolTestbed([], (bed) => ({ daemon, alice } = bed));

test('back up a site with a session running, destroy the data folder, restore, and the user finds their file at login', async () => {
  const work = mkdtempSync(join(tmpdir(), 'ard-drill-'));
  let restored: TestDaemon | undefined;
  try {
    await daemon.api().request('POST', '/v1/pools', { name: 'homes', image: 'bb', warmSpares: 1, maxDesktops: 1, memoryMiB: 192, homeSizeBytes: 64 * 2 ** 20, entitled: { users: ['alice'] } });
    await untilDesktops(daemon, 'homes', 'a warm spare', (d) => d.some((x) => x.state === 'ready'));
    const { desktop } = await alice.request<{ desktop: DesktopView; session: SessionInfo }>('POST', '/v1/pools/homes/connect', {});
    await untilDesktops(daemon, 'homes', 'the session', (d) => d.some((x) => x.name === desktop.name && x.state === 'in-use'));
    // Written and synced (a running home's copy is crash-consistent: what reached the disk is in it).
    await typeAndExpect(daemon, desktop.name, 'echo drill-2026 > /home/alice/report.txt; sync; echo s-$((40+2))', 's-42');

    const file = join(work, 'site.tar');
    const b = await daemon.cli(['backup', file, '--with-images', '--with-homes']);
    assert.equal(b.code, 0, b.stderr);
    const manifest = JSON.parse(execFileSync('tar', ['-xOf', file, 'manifest.json'], { encoding: 'utf8' }));
    const home = manifest.homes.find((h: { user: string }) => h.user === 'alice');
    assert.equal(home.inUseBy, desktop.name, 'the home was in use during the backup');
    assert.equal(home.included, true);
    const sessions = await daemon.api().request<SessionInfo[]>('GET', '/v1/sessions');
    assert.ok(sessions.some((s) => s.desktop === desktop.name), 'the session kept running through the backup');

    // The disaster: the daemon, its VMs and the whole data folder gone.
    const aliceToken = alice.endpoint.token!;
    await daemon.destroy();

    const target = mkdtempSync(join(tmpdir(), 'ard-'));
    rmSync(target, { recursive: true });
    const r = await runCli(target, ['restore', file]);
    assert.equal(r.code, 0, r.stderr);
    restored = await TestDaemon.start({ dataDir: target });
    const aliceAgain = new ApiClient({ socketPath: restored.socket, token: aliceToken });
    const again = await aliceAgain.request<{ desktop: DesktopView }>('POST', '/v1/pools/homes/connect', {});
    await untilDesktops(restored, 'homes', 'the session after the restore', (d) => d.some((x) => x.name === again.desktop.name && x.state === 'in-use'));
    await typeAndExpect(restored, again.desktop.name, 'cat /home/alice/report.txt', 'drill-2026');
  } catch (err) {
    if (restored) {
      const ds = await restored.api().request<DesktopView[]>('GET', '/v1/pools/homes/desktops').catch(() => []);
      throw new Error(`${(err as Error).message}\ndesktops after the restore: ${JSON.stringify(ds)}\n${restored.output.split('\n').filter((l) => /desktop|pool|home|lease/i.test(l)).slice(-40).join('\n')}`);
    }
    throw err;
  } finally {
    await restored?.destroy();
    rmSync(work, { recursive: true, force: true });
  }
});
