// Start mode restore on the demo Debian desktop image (TCG; slow): its generic kernel has CONFIG_VMGENID, so the pool
// restores (no fall-back to boot); two clones of one template each take their own identity and their kernels reseed
// their random numbers on the new VM generation ID ("crng reseeded due to virtual machine fork"), so their random
// output differs; a user's session starts on a restored clone with the home mounted, and the desktop that comes back
// from the logoff is restored again.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { ApiClient } from '../../src/cli/client.js';
import type { PoolView } from '../../src/contract/pools.js';
import type { TimelineView } from '../../src/contract/timeline.js';
import { TestDaemon, until } from '../helpers/daemon.js';
import { typeAndExpect } from '../images/support.js';
import { DEBIAN_BUILD_ENV, debianImage, untilDesktops, userClient } from './support.js';

const TEMPLATE_TIMEOUT_MS = 10 * 60_000;
const DESKTOP_TIMEOUT_MS = 8 * 60_000;

let daemon: TestDaemon;
let ann: ApiClient;

before(async () => {
  daemon = await TestDaemon.start({ env: DEBIAN_BUILD_ENV });
  await debianImage(daemon, 'desk');
  ann = await userClient(daemon, 'ann');
});
after(async () => {
  await daemon?.destroy();
});

/** The clone's identity and its kernel's word on the VM generation change, printed on its root serial console. */
async function identity(vm: string): Promise<{ host: string; machineId: string; clock: number; random: string; forks: number; from: number; to: number }> {
  const from = Date.now() / 1000;
  const seen = await typeAndExpect(daemon, vm,
    'echo "ID:$(hostname):$(cat /etc/machine-id):$(date +%s):$(od -An -N16 -tx1 /dev/urandom | tr -d \' \\n\'):$(dmesg | grep -c \'virtual machine fork\'):END"', ':END\r', 120_000);
  const to = Date.now() / 1000;
  const m = /ID:([^:\s]+):([0-9a-f]{32}):(\d+):([0-9a-f]{32}):(\d+):END\r/.exec(seen);
  assert.ok(m, `no identity line from ${vm}: ${seen}`);
  return { host: m[1]!, machineId: m[2]!, clock: Number(m[3]), random: m[4]!, forks: Number(m[5]), from, to };
}

test('the Debian image restores: clones of one template reseed on their new VM generation ID and take their own identity', async () => {
  // No start mode given: the image records the guest helper it was built with (version 2 takes `resumed`), so restore.
  const created = await daemon.api().request<PoolView>('POST', '/v1/pools', {
    name: 'deb', image: 'desk', warmSpares: 0, maxDesktops: 2, memoryMiB: 1024, entitled: { users: ['ann'] },
  });
  assert.equal(created.startMode, 'restore', 'a pool of the Debian image restores by default');
  const ready = await until('the template ready', async () => {
    const p = await daemon.api().request<PoolView>('GET', '/v1/pools/deb');
    assert.notEqual(p.template?.state, 'failed', `the template failed: ${p.template?.reason}`);
    return p.template?.state === 'ready' ? p : undefined;
  }, TEMPLATE_TIMEOUT_MS, 1000);
  assert.equal(ready.template!.kernelVmgenid, 'yes', 'the image kernel has CONFIG_VMGENID: the pool restores, it does not fall back to boot');
  await daemon.api().request('PATCH', '/v1/pools/deb', { warmSpares: 2 });
  const ds = await untilDesktops(daemon, 'deb', 'two restored spares', (d) => d.length === 2 && d.every((x) => x.state === 'ready'), DESKTOP_TIMEOUT_MS);
  for (const d of ds) assert.match(daemon.output, new RegExp(`vm ${d.name} restored from template ${ready.template!.key}`), `${d.name} was restored, not booted`);
  const [a, b] = [await identity(ds[0]!.name), await identity(ds[1]!.name)];
  assert.deepEqual([a.host, b.host], [ds[0]!.name, ds[1]!.name]);
  assert.notEqual(a.machineId, b.machineId);
  assert.notEqual(a.random, b.random, 'the clones read different random numbers');
  for (const x of [a, b]) {
    assert.ok(x.forks >= 1, 'the kernel reseeded its random numbers on the new VM generation ID');
    assert.ok(x.clock >= Math.floor(x.from) - 1 && x.clock <= x.to + 1, `guest clock ${x.clock} outside the host's ${x.from}…${x.to} ± 1 s`);
  }
});

test("a user's session starts on a restored Debian clone, and the desktop back from the logoff is restored again", async () => {
  const got = await ann.request<{ desktop: { name: string; state: string } }>('POST', '/v1/pools/deb/connect', { waitSeconds: DESKTOP_TIMEOUT_MS / 1000 });
  assert.equal(got.desktop.state, 'in-use');
  const [timeline] = await daemon.api().request<TimelineView[]>('GET', `/v1/sessions/${got.desktop.name}/timeline?limit=1`);
  const stages = new Map(timeline!.stages.map((s) => [s.stage, s] as const));
  for (const stage of ['home-mounted', 'session-started'] as const) assert.ok(stages.get(stage) && !stages.get(stage)!.skipped, `${stage} recorded`);
  const seen = await typeAndExpect(daemon, got.desktop.name, 'echo "MNT:$(grep -c \' /home/ann \' /proc/mounts):$(pgrep -c -x Xorg):END"', ':END\r', 120_000);
  assert.match(seen, /MNT:1:1:END\r/, 'the home is mounted and the X server runs in the restored clone');
  const logoffAt = daemon.output.length;
  await ann.request('POST', `/v1/sessions/${got.desktop.name}/logoff`);
  await untilDesktops(daemon, 'deb', 'the desktop back from its reset', (d) => d.length === 2 && d.every((x) => x.state === 'ready'), DESKTOP_TIMEOUT_MS);
  assert.match(daemon.output.slice(logoffAt), new RegExp(`vm ${got.desktop.name} restored from template`), 'restored again after the logoff, not booted');
});
