// Pools in start mode restore with real QEMU (busybox + the guest helper): one template booted to the helper's
// `ready` and saved; desktops are clones restored from it (no boot), each with its own identity (hostname,
// machine-id, the host's clock), mapping the template's RAM (a sealed memfd) privately; a template whose state is damaged on disk is refused by its sha256, the pool
// says so and desktops boot while it is rebuilt. One template serves every test (the suite's time budget).
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, closeSync, existsSync, ftruncateSync, openSync, readdirSync, readFileSync, readlinkSync, writeFileSync, writeSync } from 'node:fs';
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

const TEMPLATE_AGE_S = 20;
const CLOCK_LAG_S = 8;

function templateManifest(key: string): { savedAt: string; state: { bytes: number }; ram: { bytes: number } } {
  const dir = join(daemon.dataDir, 'templates', key);
  return JSON.parse(readFileSync(join(dir, readFileSync(join(dir, 'current'), 'utf8').trim(), 'manifest.json'), 'utf8')) as { savedAt: string; state: { bytes: number }; ram: { bytes: number } };
}

/** The template RAM memfd a clone's QEMU maps: its pid, the descriptor it holds, and the memfd's inode. */
function templateRamOf(vm: string): { pid: number; fd: string; inode: string } | undefined {
  const pid = Number(readFileSync(join(daemon.dataDir, 'runtime', vm, 'qemu.pid'), 'utf8').trim());
  const mapping = readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n').find((l) => l.includes('/memfd:ardesia-template-ram'));
  if (!mapping) return undefined;
  const inode = mapping.split(/\s+/)[4]!;
  const fd = readdirSync(`/proc/${pid}/fd`).find((n) => readlinkSync(`/proc/${pid}/fd/${n}`).startsWith('/memfd:ardesia-template-ram'));
  return fd === undefined ? undefined : { pid, fd, inode };
}

test('a restore pool builds its template, and its spares are clones restored from it with their own identity', async (t) => {
  const created = await daemon.api().request<PoolView>('POST', '/v1/pools', { name: 'quick', image: 'bb', startMode: 'restore', warmSpares: 0, maxDesktops: 2, memoryMiB: 192 });
  assert.equal(created.startMode, 'restore');
  const ready = await templateReady();
  assert.ok(ready.template!.key && ready.template!.bootMs! > 0, 'the template records its boot');
  // A clone that kept the template's clock would be at least TEMPLATE_AGE_S behind the host: far outside the delivery
  // lag the check below allows (the host's time reaches a loaded TCG guest's helper seconds after it is sent).
  const savedAt = Date.parse(templateManifest(ready.template!.key!).savedAt);
  const wait = savedAt + TEMPLATE_AGE_S * 1000 - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
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
  // The clock is the host's, not the template's: never ahead of the host's, and behind it by no more than the lag
  // of the message that set it (`date +%s` truncates, hence the floor).
  for (const x of [a, b]) assert.ok(x.clock >= Math.floor(x.from) - CLOCK_LAG_S && x.clock <= x.to + 1, `guest clock ${x.clock} outside the host's ${x.from}…${x.to} (-${CLOCK_LAG_S} s, +1 s)`);
  // Both clones map the template's RAM (one sealed memfd) privately; the state file holds only the devices.
  const memfds = ds.map((d) => templateRamOf(d.name));
  assert.ok(memfds.every((m) => m !== undefined), `each clone maps the template's RAM: ${JSON.stringify(memfds)}`);
  assert.equal(memfds[0]!.inode, memfds[1]!.inode, 'one memfd for both clones');
  const manifest = templateManifest(ready.template!.key!);
  assert.equal(manifest.ram.bytes, 192 * 1024 * 1024);
  assert.ok(manifest.state.bytes < manifest.ram.bytes / 20, `the state holds the devices only (${manifest.state.bytes} bytes)`);
  // The attack a clone's QEMU could make on the others: writing or truncating the RAM they map. Refused by the seals,
  // even to root, through the very descriptor the clone's QEMU holds.
  const held = `/proc/${memfds[0]!.pid}/fd/${memfds[0]!.fd}`;
  const fd = openSync(held, 'r+');
  try {
    assert.throws(() => writeSync(fd, Buffer.from('owned'), 0, 5, 0), { code: 'EPERM' }, 'the template RAM cannot be written');
    assert.throws(() => ftruncateSync(fd, 0), { code: 'EPERM' }, 'the template RAM cannot be truncated');
  } finally {
    closeSync(fd);
  }
  // QEMU 7.2 discards a freed page (free page reporting) by punching a hole in a file-backed RAM's file even when the
  // mapping is private: on a plain file that would zero the page under every other clone. The seal refuses it.
  const punch = spawnSync('fallocate', ['--punch-hole', '--offset', '0', '--length', '4096', held], { encoding: 'utf8' });
  assert.notEqual(punch.status, 0, 'no hole can be punched in the template RAM');
  assert.match(punch.stderr, /Operation not permitted/);
  // A daemon restart finds the template again (templates/<key>/current): ready at once, nothing rebuilt.
  const current = readFileSync(join(daemon.dataDir, 'templates', ready.template!.key!, 'current'), 'utf8');
  await daemon.kill('SIGKILL');
  await daemon.spawn();
  const again = await templateReady();
  assert.equal(again.template!.key, ready.template!.key);
  assert.equal(readFileSync(join(daemon.dataDir, 'templates', ready.template!.key!, 'current'), 'utf8'), current, 'the same build');
  // A clone made after the restart maps the template's RAM again.
  const restartedAt = daemon.output.length;
  await daemon.api().request('PATCH', '/v1/pools/quick', { warmSpares: 1 });
  await untilDesktops(daemon, 'quick', 'one spare left', (d) => d.length === 1);
  await daemon.api().request('PATCH', '/v1/pools/quick', { warmSpares: 2 });
  // (A pool reuses its desktops' names: the new spare is the one restored since the restart.)
  const now = await untilDesktops(daemon, 'quick', 'a new restored spare', (d) => d.length === 2 && d.every((x) => x.state === 'ready'));
  const fresh = now.find((d) => new RegExp(`vm ${d.name} restored from template ${ready.template!.key}`).test(daemon.output.slice(restartedAt)));
  assert.ok(fresh, `a spare restored after the restart: ${daemon.output.slice(restartedAt)}`);
  // The clone that ran through the restart still maps the template's memfd: the daemon held that one again (sealed, its
  // bytes the manifest's sha256) instead of loading ram.bin into a second one.
  const survivor = now.find((d) => d.name !== fresh.name)!;
  const [freshRam, survivorRam] = [templateRamOf(fresh.name), templateRamOf(survivor.name)];
  assert.ok(freshRam && survivorRam, 'both clones map the template RAM');
  assert.equal(freshRam.inode, survivorRam.inode, 'one memfd on the host: the running clone\'s, held again');
  assert.match(daemon.output.slice(restartedAt), new RegExp(`template ${ready.template!.key}: its RAM held again from a running clone's QEMU \\(pid ${survivorRam.pid}\\)`));
  t.diagnostic(`kernel random UUIDs of the two clones: ${a.uuid} ${b.uuid}`);
  // The test kernel lacks CONFIG_VMGENID: a clone's kernel random numbers may repeat the template's, so the identity
  // comes from the host; this test does not claim different kernel random output.
});

test('a pool of an imported image (its guest helper unknown) boots by default; an explicit restore is kept', async () => {
  const plain = await daemon.api().request<PoolView>('POST', '/v1/pools', { name: 'plain', image: 'bb', warmSpares: 0, maxDesktops: 1, memoryMiB: 192 });
  assert.equal(plain.startMode, 'boot');
  assert.equal((await poolShow(daemon, 'quick')).startMode, 'restore');
  await daemon.api().request('DELETE', '/v1/pools/plain');
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

/** The daemon's native/ram-hold.c children still running (each holds one template's RAM). */
function ramHolds(): number[] {
  return readdirSync('/proc').filter((e) => /^\d+$/.test(e)).filter((pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return /^\d+ \(ram-hold\) \S+ (\d+) /.exec(stat)?.[1] === String(daemon.proc?.pid);
    } catch {
      return false;
    }
  }).map(Number);
}

test('template builds no pool or desktop needs are removed, and their RAM is let go', async () => {
  const key = (await poolShow(daemon, 'quick')).template!.key!;
  const keyDir = join(daemon.dataDir, 'templates', key);
  const current = readFileSync(join(keyDir, 'current'), 'utf8').trim();
  assert.ok(ramHolds().length >= 1, 'the template RAM is held while the pool uses it');
  // Kept while the pool is there: the current build of a pool's version, and any build a desktop is a clone of.
  assert.ok(existsSync(join(keyDir, current, 'ram.bin')));
  await daemon.api().request('DELETE', '/v1/pools/quick');
  // At the pool's deletion (and at every housekeeping round) nothing needs the key's builds any more.
  await until('the template\'s builds removed', async () => (existsSync(keyDir) ? undefined : true), 180_000, 500);
  // Logged before the folder goes, but the line may still be in the daemon's pipe when the folder is seen gone.
  const removedLine = new RegExp(`template ${key} build ${current} removed: no restore pool uses its image version and shape any more`);
  await until('the removal logged', async () => removedLine.test(daemon.output) || undefined, 10_000, 100);
  await until('the template RAM let go', async () => (ramHolds().length === 0 ? true : undefined), 30_000, 200);
});
