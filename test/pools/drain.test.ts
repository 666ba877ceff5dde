// Drain of the one host with real desktops (QEMU under TCG, the helper guest): the host's warm spare stops at once and
// the pool says it cannot place (naming the host); a connect that would need a boot is refused with the same code (a
// user is not told the hosts); a session there runs on and `host show` lists it; at its logoff the desktop is reset
// and stays cold (it does not go back into the warm tier); with nothing left the host is in maintenance; undrain
// boots a spare again.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HostDetail, HostView } from '../../src/contract/hosts.js';
import type { DesktopView, PoolView } from '../../src/contract/pools.js';
import type { ApiClient } from '../../src/cli/client.js';
import { type TestDaemon, until } from '../helpers/daemon.js';
import { cliJson } from '../images/support.js';
import { desktopsOf, poolShow, poolTestbed, untilDesktops } from './support.js';

let daemon: TestDaemon;
let alice: ApiClient;
let bob: ApiClient;

poolTestbed(['--stop-vms-on-exit', '--host-name', 'blade1'], (bed) => ({ daemon, alice, bob } = bed));

const refusal = async (p: Promise<unknown>): Promise<{ code: string; message: string }> => p.then(() => assert.fail('expected a refusal'), (err: { code: string; message: string }) => err);
const ready = (ds: DesktopView[]) => ds.filter((d) => d.state === 'ready' && d.user === null);

test('drain: spares stop, the pool cannot place, the session ends at logoff without going back to the spares; undrain brings a spare back', async () => {
  // min = max: no desktop is ever surplus, so the one back from its reset is not retired before it is seen cold.
  await daemon.api().request('POST', '/v1/pools', { name: 'dr', image: 'bb', warmSpares: 1, minDesktops: 3, maxDesktops: 3, memoryMiB: 192, entitled: { users: ['alice', 'bob'], groups: [] } });
  const [spare] = ready(await untilDesktops(daemon, 'dr', 'a warm spare', (ds) => ready(ds).length === 1));
  assert.equal(spare!.host, 'blade1', 'placed on the one host');

  // Alice takes the spare; the planner boots the next one.
  const { desktop: mine } = await alice.request<{ desktop: DesktopView }>('POST', '/v1/pools/dr/connect', {});
  assert.equal(mine.state, 'in-use');
  await untilDesktops(daemon, 'dr', 'the next warm spare', (ds) => ready(ds).length === 1);
  const busy = (await daemon.api().request<HostView[]>('GET', '/v1/hosts'))[0]!;
  assert.equal(busy.used.desktopsInSession, 1);
  assert.equal(busy.used.spares, 1);
  assert.equal(busy.used.memoryMiB, 2 * 192);

  const drained = await cliJson<HostDetail>(daemon, ['host', 'drain', 'blade1']);
  assert.equal(drained.state, 'draining');
  await untilDesktops(daemon, 'dr', 'the warm spare stopped at once', (ds) => ready(ds).length === 0 && !ds.some((d) => d.state === 'booting'), 120_000);
  const pool = await until('the pool says it cannot place', async () => (await poolShow(daemon, 'dr')).cannotPlace ?? undefined, 30_000);
  assert.equal(pool.code, 'PLACEMENT_NO_HOST_UP');
  assert.match(pool.message, /blade1 is draining/);
  const shown = await daemon.cli(['pool', 'show', 'dr']);
  assert.match(shown.stdout, /CANNOT PLACE \(PLACEMENT_NO_HOST_UP\): .*blade1 is draining/);

  const refused = await refusal(bob.request('POST', '/v1/pools/dr/connect', {}));
  assert.equal(refused.code, 'PLACEMENT_NO_HOST_UP', refused.message);
  assert.doesNotMatch(refused.message, /blade1/, 'a user is not told the cluster’s hosts');
  assert.match(refused.message, /no host can start a desktop of pool dr now/);
  const seenByBob = await bob.request<PoolView>('GET', '/v1/pools/dr');
  assert.equal(seenByBob.cannotPlace?.code, 'PLACEMENT_NO_HOST_UP');
  assert.doesNotMatch(seenByBob.cannotPlace!.message, /blade1/);

  const left = await cliJson<HostDetail>(daemon, ['host', 'show', 'blade1']);
  assert.deepEqual(left.desktops.map((d) => [d.name, d.user]), [[mine.name, 'alice']], 'only the session is left');
  assert.equal(left.state, 'draining');

  await alice.request('POST', `/v1/sessions/${mine.name}/logoff`);
  await untilDesktops(daemon, 'dr', 'the desktop reset and cold', (ds) => ds.find((d) => d.name === mine.name)?.state === 'stopped', 180_000);
  await until('the drained host in maintenance', async () => ((await daemon.api().request<HostDetail>('GET', '/v1/hosts/blade1')).state === 'maintenance' ? true : undefined), 60_000);
  assert.equal(ready(await desktopsOf(daemon, 'dr')).length, 0, 'the desktop did not go back into the warm tier');

  await cliJson<HostDetail>(daemon, ['host', 'undrain', 'blade1']);
  await untilDesktops(daemon, 'dr', 'a warm spare again after the undrain', (ds) => ready(ds).length === 1, 180_000);
  await until('the pool places again', async () => ((await poolShow(daemon, 'dr')).cannotPlace === null ? true : undefined), 30_000);
  const after: PoolView = await poolShow(daemon, 'dr');
  assert.equal(after.cannotPlace, null);
});
