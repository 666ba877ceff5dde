// Pools in start mode restore with real QEMU (busybox + the guest helper): one template booted to the helper's
// `ready` and saved; desktops are clones restored from it (no boot), each with its own identity (hostname,
// machine-id, the host's clock); a template whose state is damaged on disk is refused by its sha256, the pool
// says so and desktops boot while it is rebuilt. One template serves every test (the suite's time budget).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { PoolView } from '../../src/contract/pools.js';
import { type TestDaemon, until } from '../helpers/daemon.js';
import { typeAndExpect } from '../images/support.js';
import { repoRoot } from '../image-build/helper-guest.js';
import { desktopsOf, helperImage, poolShow, poolTestbed, untilDesktops } from './support.js';

let daemon: TestDaemon;
poolTestbed([], (bed) => ({ daemon } = bed));

const templateReady = () => until('the template ready', async () => {
  const p = await poolShow(daemon, 'quick');
  assert.notEqual(p.template?.state, 'failed', `the template failed: ${p.template?.reason}`);
  return p.template?.state === 'ready' ? p : undefined;
}, 300_000, 500);

/** The guest's identity as its console prints it: host name, machine-id, clock (s), a kernel random UUID. */
async function identity(vm: string): Promise<{ host: string; machineId: string; clock: number; uuid: string; from: number; to: number }> {
  const from = Date.now() / 1000;
  const seen = await typeAndExpect(daemon, vm, 'echo "ID:$(hostname):$(cat /etc/machine-id):$(date +%s):$(cat /proc/sys/kernel/random/uuid):END"', ':END\r');
  const to = Date.now() / 1000;
  const m = /ID:([^:\s]+):([0-9a-f]{32}):(\d+):([0-9a-f-]{36}):END\r/.exec(seen);
  assert.ok(m, `no identity line from ${vm}: ${seen}`);
  return { host: m[1]!, machineId: m[2]!, clock: Number(m[3]), uuid: m[4]!, from, to };
}

test('a restore pool builds its template, and its spares are clones restored from it with their own identity', async (t) => {
  const created = await daemon.api().request<PoolView>('POST', '/v1/pools', { name: 'quick', image: 'bb', startMode: 'restore', warmSpares: 0, maxDesktops: 2, memoryMiB: 192 });
  assert.equal(created.startMode, 'restore');
  const ready = await templateReady();
  assert.ok(ready.template!.key && ready.template!.bootMs! > 0, 'the template records its boot');
  await daemon.api().request('PATCH', '/v1/pools/quick', { warmSpares: 2 });
  const ds = await untilDesktops(daemon, 'quick', 'two restored spares', (d) => d.length === 2 && d.every((x) => x.state === 'ready'));
  assert.ok((await poolShow(daemon, 'quick')).template!.lastRestoreMs !== null, 'the clones were restored, not booted');
  for (const d of ds) assert.match(daemon.output, new RegExp(`vm ${d.name} restored from template ${ready.template!.key}`));
  // Each clone's QEMU picked its own VM generation ID (vmgenid guid=auto; its post-load tells the guest).
  const generations = ds.map((d) => new RegExp(`"desktop":"${d.name}","template":"[0-9a-f]+","generation":"([0-9a-f-]{36})"`).exec(daemon.output)?.[1]);
  assert.ok(generations.every(Boolean), `a generation ID per clone: ${generations.join()}`);
  assert.notEqual(generations[0], generations[1]);
  // The busybox test guest carries no kernel config: the pool says it cannot tell whether clones reseed.
  assert.equal((await poolShow(daemon, 'quick')).template!.kernelVmgenid, 'unknown');
  const [a, b] = [await identity(ds[0]!.name), await identity(ds[1]!.name)];
  assert.equal(a.host, ds[0]!.name);
  assert.equal(b.host, ds[1]!.name);
  assert.notEqual(a.machineId, b.machineId);
  // The clock is the host's, not the template's: within a second of the host's while the command ran (a TCG guest's
  // shell under load takes seconds to answer; `date +%s` truncates, hence the floor).
  for (const x of [a, b]) assert.ok(x.clock >= Math.floor(x.from) - 1 && x.clock <= x.to + 1, `guest clock ${x.clock} outside the host's ${x.from}…${x.to} ± 1 s`);
  // A daemon restart finds the template again (templates/<key>/current): ready at once, nothing rebuilt.
  const current = readFileSync(join(daemon.dataDir, 'templates', ready.template!.key!, 'current'), 'utf8');
  await daemon.kill('SIGKILL');
  await daemon.spawn();
  const again = await templateReady();
  assert.equal(again.template!.key, ready.template!.key);
  assert.equal(readFileSync(join(daemon.dataDir, 'templates', ready.template!.key!, 'current'), 'utf8'), current, 'the same build');
  t.diagnostic(`kernel random UUIDs of the two clones: ${a.uuid} ${b.uuid}`);
  // The test kernel lacks CONFIG_VMGENID: a clone's kernel random numbers may repeat the template's, so the identity
  // comes from the host; this test does not claim different kernel random output.
});

test('a damaged template state is refused by its sha256: the pool says so, the desktop boots, the template is rebuilt', async () => {
  const before = await templateReady();
  const keyDir = join(daemon.dataDir, 'templates', before.template!.key!);
  const build = readFileSync(join(keyDir, 'current'), 'utf8').trim();
  const state = join(keyDir, build, 'state.bin');
  chmodSync(state, 0o600);
  const bytes = readFileSync(state);
  bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
  writeFileSync(state, bytes);
  const victim = (await desktopsOf(daemon, 'quick'))[0]!.name;
  await daemon.api().request('POST', `/v1/pools/quick/desktops/${victim}/reset`, {});
  // The pool's template status (its live event and the console) says why desktops boot meanwhile.
  await until('the pool says the template is rebuilt', async () => (/pool quick: template building: a restore failed \(template [0-9a-f]+: .*state\.bin is missing or damaged/.test(daemon.output) ? true : undefined), 120_000, 200);
  await untilDesktops(daemon, 'quick', 'both desktops ready again', (d) => d.length === 2 && d.every((x) => x.state === 'ready'));
  const after = await templateReady();
  assert.notEqual(readFileSync(join(keyDir, 'current'), 'utf8').trim(), build, 'a new template build');
  assert.equal(after.template!.key, before.template!.key);
});

/** The test kernel's own config (Debian's cloud kernel, from the guests' package cache) at /boot/config-<release>. */
function cloudKernelConfig(): Record<string, string> {
  const debs = join(repoRoot(), '.cache', 'guests', 'debs', 'amd64');
  const deb = readdirSync(debs).find((f) => /^linux-image-.*-cloud-amd64_.*\.deb$/.test(f));
  assert.ok(deb, `no cloud kernel package in ${debs}`);
  const tar = execFileSync('dpkg-deb', ['--fsys-tarfile', join(debs, deb)], { maxBuffer: 1 << 30 });
  const path = execFileSync('tar', ['-t', '--wildcards', './boot/config-*'], { input: tar }).toString().trim();
  return { [path.slice(1)]: execFileSync('tar', ['-xO', path], { input: tar, maxBuffer: 1 << 26 }).toString() };
}

test('an image whose kernel lacks CONFIG_VMGENID is not restored: the pool says why and its desktops boot', async () => {
  const files = cloudKernelConfig();
  assert.doesNotMatch(Object.values(files)[0]!, /^CONFIG_VMGENID=[ym]$/m, 'the test kernel is the one without vmgenid');
  await helperImage(daemon, 'cloudk', files);
  await daemon.api().request('POST', '/v1/pools', { name: 'cloudy', image: 'cloudk', startMode: 'restore', warmSpares: 0, maxDesktops: 1, memoryMiB: 192 });
  const p = await until('the pool to fall back to boot', async () => {
    const v = await poolShow(daemon, 'cloudy');
    return v.template?.state === 'failed' ? v : undefined;
  }, 300_000, 500);
  assert.equal(p.template!.kernelVmgenid, 'no');
  assert.match(p.template!.reason!, /lacks CONFIG_VMGENID.*desktops boot/);
  assert.ok(!existsSync(join(daemon.dataDir, 'templates', p.template!.key!, 'current')), 'no template saved');
});
