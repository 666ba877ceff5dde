// A home after logoff, read on the host: a file written in the guest is on the image, intact, the ext4 clean
// (the guest unmounted it and QEMU flushed it before the session was marked ended and the home released).
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { PoolView, SessionInfo } from '../../src/contract/pools.js';
import type { DesktopView } from '../../src/contract/pools.js';
import type { ApiClient } from '../../src/cli/client.js';
import type { TestDaemon } from '../helpers/daemon.js';
import { cliJson, typeAndExpect } from '../images/support.js';
import { poolTestbed, untilDesktops } from './support.js';

let daemon: TestDaemon;
let alice: ApiClient;

poolTestbed([], (bed) => ({ daemon, alice } = bed));

/** The home image read on the host, as a raw copy: qemu-img convert without -U (it fails while QEMU holds the file). */
function homeRaw(path: string, dir: string): string {
  const raw = join(dir, 'home.raw');
  execFileSync('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', path, raw]);
  return raw;
}

test('a file written in the guest is on the home image after logoff, and the filesystem is clean', async () => {
  await daemon.api().request<PoolView>('POST', '/v1/pools', {
    name: 'homes', image: 'bb', warmSpares: 1, maxDesktops: 1, memoryMiB: 192, homeSizeBytes: 64 * 2 ** 20, entitled: { users: ['alice'] },
  });
  await untilDesktops(daemon, 'homes', 'a warm spare', (d) => d.some((x) => x.state === 'ready'));
  const { desktop } = await alice.request<{ desktop: DesktopView; session: SessionInfo }>('POST', '/v1/pools/homes/connect', {});
  await untilDesktops(daemon, 'homes', 'the session', (d) => d.some((x) => x.name === desktop.name && x.state === 'in-use'));
  // Written and left in the page cache (no sync): the logoff must get it onto the image.
  await typeAndExpect(daemon, desktop.name, 'echo report-2026 > /home/alice/report.txt; mkdir -p /home/alice/docs; echo w-$((40+2))', 'w-42');
  await alice.request('POST', `/v1/sessions/${desktop.name}/logoff`);
  await untilDesktops(daemon, 'homes', 'the desktop released after logoff', (ds) => !ds.some((x) => x.user === 'alice'));
  const home = await cliJson<{ leasedTo: string | null; path: string }>(daemon, ['home', 'show', 'alice']);
  assert.equal(home.leasedTo, null, 'the home is released');

  const dir = mkdtempSync('/tmp/homeoff-');
  try {
    const raw = homeRaw(home.path, dir);
    const fsck = spawnSync('e2fsck', ['-f', '-n', raw], { encoding: 'utf8' });
    assert.equal(fsck.status, 0, `e2fsck -n found the home's filesystem not clean:\n${fsck.stdout}${fsck.stderr}`);
    const features = execFileSync('dumpe2fs', ['-h', raw], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    assert.doesNotMatch(features, /needs_recovery/, 'the journal still holds changes (the guest did not unmount it)');
    const file = execFileSync('debugfs', ['-R', 'cat /report.txt', raw], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    assert.equal(file, 'report-2026\n', 'the file written in the guest is on the image after logoff');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
