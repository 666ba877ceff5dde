// Hosts on the real daemon (a one-node cluster): the daemon registers its own host with its measured capacity and
// labels; `host list/show/drain/undrain/remove` over the CLI and the API; a drained host takes no VM (`vm start` is
// refused naming the host and why), nor one larger than its free memory; remove refuses the controller's own host
// and a host where something still runs. A second host is a row as a joining agent will write it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { totalmem } from 'node:os';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HostDetail, HostView } from '../../src/contract/hosts.js';
import { openStore, storeLocation, type Store } from '../../src/store/db.js';
import { TestDaemon } from '../helpers/daemon.js';
import { cliFails, cliJson } from '../images/support.js';

let daemon: TestDaemon;
let store: Store;

before(async () => {
  daemon = await TestDaemon.start({ extraArgs: ['--host-name', 'blade1', '--host-label', 'ssd', '--host-label', 'rack=a', '--memory-overcommit', '1', '--cpu-overcommit', '2'] });
  store = await openStore(storeLocation(daemon.database, daemon.dataDir));
});
after(async () => {
  await store?.destroy();
  await daemon?.destroy();
});

const errorOf = async (p: Promise<unknown>): Promise<{ code: string; message: string }> => {
  try {
    await p;
  } catch (err) {
    return err as { code: string; message: string };
  }
  assert.fail('expected a refusal');
};

async function addRemoteHost(name: string): Promise<void> {
  const at = new Date().toISOString();
  await store.insertInto('hosts').values({ name, state: 'up', labels: '[]', memory_mib: 65536, vcpus: 32, memory_overcommit: 1, cpu_overcommit: 1, heartbeat_at: at, agent_credential_sha256: null, cert_fingerprint: null, created_at: at, updated_at: at }).execute();
}

test('serve registers its own host: name, labels, measured capacity, the overcommit given, up and the controller', async () => {
  const hosts = await cliJson<HostView[]>(daemon, ['host', 'list']);
  assert.equal(hosts.length, 1);
  const h = hosts[0]!;
  assert.equal(h.name, 'blade1');
  assert.equal(h.state, 'up');
  assert.equal(h.controller, true);
  assert.deepEqual(h.labels, ['ssd', 'rack=a']);
  assert.equal(h.capacity.memoryMiB, Math.floor(totalmem() / 1024 / 1024));
  assert.ok(h.capacity.vcpus >= 1);
  assert.equal(h.capacity.memoryOvercommit, 1);
  assert.equal(h.capacity.cpuOvercommit, 2);
  assert.deepEqual(h.used, { memoryMiB: 0, vcpus: 0, runningVms: 0, desktopsInSession: 0, spares: 0 });
  const text = await daemon.cli(['host', 'list']);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /blade1 \*\s+up\s+0\/\d+\s+0\/\d+/);
});

test('a drained host takes no VM: vm start says which host and why; undrain lets it start again', async () => {
  const conf = join(daemon.dataDir, 'hosts.conf');
  // The kernel does not exist: past placement the start fails on the file, so no QEMU is needed to tell them apart.
  writeFileSync(conf, `vm "placed" {\n memory 64M\n boot "${join(daemon.dataDir, 'nosuch-vmlinuz')}"\n disable\n}\n`);
  await daemon.api().request('POST', '/v1/config/load', { path: conf });

  const drained = await cliJson<HostDetail>(daemon, ['host', 'drain', 'blade1']);
  assert.equal(drained.state, 'maintenance', 'nothing runs there: the drain is complete at once');
  const refused = await errorOf(daemon.api().request('POST', '/v1/vms/placed/start', {}));
  assert.equal(refused.code, 'PLACEMENT_NO_HOST_UP');
  assert.match(refused.message, /blade1 is maintenance/);
  const cli = await cliFails(daemon, ['vm', 'start', 'placed']);
  assert.match(cli.stderr, /PLACEMENT_NO_HOST_UP|blade1 is maintenance/);

  const up = await cliJson<HostDetail>(daemon, ['host', 'undrain', 'blade1']);
  assert.equal(up.state, 'up');
  const past = await errorOf(daemon.api().request('POST', '/v1/vms/placed/start', {}));
  assert.doesNotMatch(past.code, /^PLACEMENT_/, `placed, then refused for the missing kernel: ${past.code} ${past.message}`);
});

test('a VM larger than the free memory is refused with what is free on which host', async () => {
  const [h] = await daemon.api().request<HostView[]>('GET', '/v1/hosts');
  const tooBig = h!.capacity.memoryMiB; // above the limit: the host's memory less its reserve (overcommit 1)
  const refused = await errorOf(daemon.api().request('POST', '/v1/vms', { spec: { name: 'huge', memoryMiB: tooBig, boot: { kernel: join(daemon.dataDir, 'nosuch') } } }).then(() => daemon.api().request('POST', '/v1/vms/huge/start', {})));
  assert.equal(refused.code, 'PLACEMENT_NO_CAPACITY');
  assert.match(refused.message, new RegExp(`blade1 has \\d+ MiB of memory free of \\d+ \\(${tooBig} needed\\)`));
});

test('remove: refused for the controller’s own host and while anything runs on a host; then done', async () => {
  const own = await errorOf(daemon.api().request('DELETE', '/v1/hosts/blade1'));
  assert.equal(own.code, 'HOST_IS_CONTROLLER');
  await addRemoteHost('blade2');
  const at = new Date().toISOString();
  await store.insertInto('vms').values({ name: 'on-blade2', spec: JSON.stringify({ name: 'on-blade2', memoryMiB: 512, vcpus: 2 }), desired: 'running', source: 'api', transient: 0, last_stop_reason: null, started_at: at, created_at: at, updated_at: at, host: 'blade2' }).execute();
  const shown = await cliJson<HostDetail>(daemon, ['host', 'show', 'blade2']);
  assert.deepEqual(shown.vms, ['on-blade2']);
  assert.equal(shown.used.memoryMiB, 512);
  assert.equal(shown.used.vcpus, 2);
  assert.equal(shown.controller, false);
  const busy = await errorOf(daemon.api().request('DELETE', '/v1/hosts/blade2'));
  assert.equal(busy.code, 'HOST_IN_USE');
  assert.match(busy.message, /vm on-blade2/);
  const text = await daemon.cli(['host', 'show', 'blade2']);
  assert.match(text.stdout, /left {5}1:\n {4}vm on-blade2/);

  await store.updateTable('vms').set({ desired: 'stopped' }).where('name', '=', 'on-blade2').execute();
  const removed = await cliJson<{ removed: string }>(daemon, ['host', 'remove', 'blade2']);
  assert.equal(removed.removed, 'blade2');
  const gone = await errorOf(daemon.api().request('GET', '/v1/hosts/blade2'));
  assert.equal(gone.code, 'HOST_NOT_FOUND');
  const audit = await daemon.api().request<Array<{ action: string; target: string }>>('GET', '/v1/audit?limit=50');
  for (const action of ['host.drain', 'host.undrain', 'host.remove']) assert.ok(audit.some((a) => a.action === action), `audited: ${action}`);
});

test('a silent host without a storage lease to judge by is suspect, never down, and the list says why', async () => {
  await addRemoteHost('blade3');
  await store.updateTable('hosts').set({ heartbeat_at: new Date(Date.now() - 120_000).toISOString() }).where('name', '=', 'blade3').execute();
  const hosts = await daemon.api().request<HostView[]>('GET', '/v1/hosts');
  const blade3 = hosts.find((h) => h.name === 'blade3');
  assert.equal(blade3?.state, 'suspect');
  assert.match(blade3?.stateReason ?? '', /no heartbeat for 1[12]\d s; without a storage lease to judge by/);
  await daemon.api().request('DELETE', '/v1/hosts/blade3');
});

test('labels: refused on a host whose serve --host-label sets them; edited on others, kept across a restart, until serve sets them again', async () => {
  const refused = await cliFails(daemon, ['host', 'label', 'blade1', 'gpu']);
  assert.match(refused.stderr, /serve --host-label/);
  assert.deepEqual((await cliJson<HostDetail>(daemon, ['host', 'show', 'blade1'])).labels, ['ssd', 'rack=a'], 'unchanged');

  const lab = await TestDaemon.start({ extraArgs: ['--host-name', 'lab1'] });
  let again: TestDaemon | undefined;
  try {
    assert.equal((await cliJson<HostDetail>(lab, ['host', 'show', 'lab1'])).labelsFrom, 'api');
    assert.match((await cliFails(lab, ['host', 'label', 'lab1'])).stderr, /--none/, 'no labels and no --none is a usage error');
    assert.match((await cliFails(lab, ['host', 'label', 'lab1', 'no spaces'])).stderr, /a label \(letters, digits/);
    const set = await cliJson<HostDetail>(lab, ['host', 'label', 'lab1', 'gpu,rack=b', 'gpu']);
    assert.deepEqual(set.labels, ['gpu', 'rack=b']);
    assert.match((await lab.cli(['host', 'show', 'lab1'])).stdout, /labels gpu, rack=b\n/);
    const audit = await lab.api().request<Array<{ action: string; target: string }>>('GET', '/v1/audit');
    assert.ok(audit.some((e) => e.action === 'host.labels' && e.target === 'lab1'), 'the change is audited');

    // Restarted without --host-label: the labels set here stay.
    await lab.kill('SIGTERM');
    await lab.spawn();
    assert.deepEqual((await cliJson<HostDetail>(lab, ['host', 'show', 'lab1'])).labels, ['gpu', 'rack=b']);
    assert.deepEqual((await cliJson<HostDetail>(lab, ['host', 'label', 'lab1', '--none'])).labels, []);

    // Restarted with --host-label: serve sets them, and the API refuses from then on.
    await lab.kill('SIGTERM');
    again = new TestDaemon(lab.dataDir, ['--host-name', 'lab1', '--host-label', 'ssd'], undefined, lab.database);
    await again.spawn();
    const fixed = await cliJson<HostDetail>(again, ['host', 'show', 'lab1']);
    assert.deepEqual([fixed.labels, fixed.labelsFrom], [['ssd'], 'serve']);
    assert.match((await again.cli(['host', 'show', 'lab1'])).stdout, /labels ssd \(from its serve --host-label\)/);
    await cliFails(again, ['host', 'label', 'lab1', 'gpu']);
  } finally {
    await again?.kill('SIGTERM');
    await lab.destroy();
  }
});
