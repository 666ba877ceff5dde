// Failed desktops with the real daemon and real QEMU: a stop the daemon makes itself (SIGTERM, as Ctrl+C of
// `npm start`, with --stop-vms-on-exit) while a spare boots is not a failure — after the restart that desktop is
// back in the cold tier and boots again; a desktop that fails for real (its system disk made unreadable, its QEMU
// killed) says why in the API and `pool desktops` (the step, the message, the VM's exit, the console's last
// line), and one retry (CLI verb or API route) brings it back.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { DesktopView } from '../../src/contract/pools.js';
import type { VmStatus } from '../../src/contract/vm.js';
import type { TestDaemon } from '../helpers/daemon.js';
import { cliJson } from '../images/support.js';
import { desktopsOf, poolTestbed, untilDesktops } from './support.js';

let daemon: TestDaemon;

poolTestbed(['--stop-vms-on-exit', '--boot-storm-limit', '2'], (bed) => ({ daemon } = bed));

const one = (ds: DesktopView[], name: string): DesktopView | undefined => ds.find((d) => d.name === name);

test('SIGTERM while a spare boots: after the restart the desktop is back in the cold tier and boots again, never failed', async () => {
  await daemon.api().request('POST', '/v1/pools', { name: 'calm', image: 'bb', warmSpares: 1, maxDesktops: 1, memoryMiB: 192 });
  const [booting] = await untilDesktops(daemon, 'calm', 'the spare booting', (ds) => ds.some((d) => d.state === 'booting'), 120_000);
  const name = booting!.name;
  const from = daemon.output.length;
  await daemon.kill('SIGTERM');
  const stopped = daemon.output.slice(from);
  assert.doesNotMatch(stopped, new RegExp(`desktop ${name}: \\w+ → failed`), 'the daemon stop itself fails nothing');
  assert.ok(!readdirSync(join(daemon.dataDir, 'runtime')).includes(name), 'the daemon stopped the VM on its way out (--stop-vms-on-exit)');

  const restartAt = daemon.output.length;
  await daemon.spawn();
  const after = one(await desktopsOf(daemon, 'calm'), name)!;
  assert.notEqual(after.state, 'failed', `after the restart: ${JSON.stringify(after)}`);
  assert.equal(after.failure, null);
  const log = daemon.output.slice(restartAt);
  assert.match(log, new RegExp(`desktop ${name}: (booting|ready) → stopped`), 'the daemon-made stop sends it to the cold tier');
  assert.doesNotMatch(log, new RegExp(`desktop ${name}: \\w+ → failed`));
  await untilDesktops(daemon, 'calm', 'the same desktop booted again into the warm tier', (ds) => one(ds, name)?.state === 'ready');
  assert.doesNotMatch(daemon.output.slice(restartAt), new RegExp(`desktop ${name}: \\w+ → failed`));
  await daemon.api().request('DELETE', '/v1/pools/calm');
});

test('a desktop whose system disk is unreadable fails at boot with the reason in the API and the CLI; `pool retry` brings it back', async () => {
  // Cold only first, so the clone can be broken before anything boots it.
  await daemon.api().request('POST', '/v1/pools', { name: 'broken', image: 'bb', warmSpares: 0, coldSpares: 1, maxDesktops: 1, memoryMiB: 192 });
  const [cold] = await untilDesktops(daemon, 'broken', 'a cold spare', (ds) => ds.some((d) => d.state === 'stopped'), 120_000);
  const name = cold!.name;
  writeFileSync(join(daemon.dataDir, 'desktops', name, 'system.qcow2'), randomBytes(256 * 1024));
  await daemon.api().request('PATCH', '/v1/pools/broken', { warmSpares: 1, coldSpares: 0 });

  const failed = one(await untilDesktops(daemon, 'broken', 'the desktop failed', (ds) => one(ds, name)?.state === 'failed', 120_000), name)!;
  assert.equal(failed.failure?.step, 'boot', JSON.stringify(failed));
  assert.match(failed.failure!.message, /did not start/);
  assert.match(failed.failure!.message, /qcow2|format|image/i, 'QEMU’s own words about the disk');

  const listed = await daemon.cli(['pool', 'desktops', 'broken']);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, new RegExp(`${name}\\s+failed`));
  assert.ok(listed.stdout.includes(`${name} failed (boot): ${failed.failure!.message}`), listed.stdout);
  assert.ok(listed.stdout.includes(`ardesia pool retry broken ${name}`), listed.stdout);

  const retried = await cliJson<DesktopView>(daemon, ['pool', 'retry', 'broken', name]);
  assert.notEqual(retried.state, 'failed');
  const back = one(await untilDesktops(daemon, 'broken', 'the retried desktop ready', (ds) => one(ds, name)?.state === 'ready'), name)!;
  assert.equal(back.failure, null);
  const again = await daemon.cli(['pool', 'retry', 'broken', name]);
  assert.notEqual(again.code, 0, 'only a failed desktop is retried');
  assert.match(again.stderr, /retry is not possible while the desktop is ready/);
});

test('a spare whose QEMU is killed fails with the VM’s exit reason and its last console line; the retry route brings it back', async () => {
  const [ready] = (await desktopsOf(daemon, 'broken')).filter((d) => d.state === 'ready');
  const name = ready!.name;
  const vm = (await cliJson<VmStatus[]>(daemon, ['vm', 'status'])).find((v) => v.name === name);
  assert.ok(vm?.pid, `the VM of ${name} runs`);
  process.kill(vm.pid, 'SIGKILL');

  const failed = one(await untilDesktops(daemon, 'broken', 'the killed spare failed', (ds) => one(ds, name)?.state === 'failed', 60_000), name)!;
  assert.equal(failed.failure?.step, 'spare', JSON.stringify(failed));
  assert.match(failed.failure!.vmExit ?? '', /signal|killed|unexpectedly/i);
  assert.equal(failed.failure!.message, `the VM exited: ${failed.failure!.vmExit}`);
  assert.ok((failed.failure!.consoleLine ?? '').length > 0, 'the last line the guest printed');

  await daemon.api().request('POST', `/v1/pools/broken/desktops/${name}/retry`);
  await untilDesktops(daemon, 'broken', 'the retried desktop ready', (ds) => one(ds, name)?.state === 'ready' && one(ds, name)?.failure === null);
  const audit = await daemon.api().request<Array<{ target: string }>>('GET', '/v1/audit?action=desktop.retry');
  assert.equal(audit.filter((a) => a.target === name).length, 2, 'both retries are audited');
});
