// VMs outlive the daemon: SIGKILL while VMs run, a QEMU that dies while the daemon is away, and a
// daemon killed half-way through a start. After each restart: true state, no orphan, no stale record.
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { VmStatus } from '../../src/contract/vm.js';
import { qemuPidsUnder, TestDaemon, until } from '../helpers/daemon.js';
import { guestArtifacts } from '../helpers/guests.js';

const g = guestArtifacts();
let daemon: TestDaemon;

async function status(name: string): Promise<VmStatus> {
  const r = await daemon.cli(['--json', 'vm', 'status', name]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return JSON.parse(r.stdout) as VmStatus;
}

async function bannerSeen(name: string): Promise<boolean> {
  return (await daemon.cli(['vm', 'log', name])).stdout.includes(g.amd64.banner);
}

before(async () => {
  daemon = await TestDaemon.start();
  const lines: string[] = [];
  for (const name of ['keep', 'dies', 'half']) {
    const disk = join(daemon.dataDir, `${name}.qcow2`);
    assert.equal((await daemon.cli(['vm', 'create', '-b', g.amd64.rootQcow2, disk])).code, 0);
    lines.push(
      `vm "${name}" {\n memory 160M\n boot "${g.amd64.kernel}"\n initrd "${g.amd64.initrd}"\n cmdline "console=ttyS0 root=/dev/vda rw quiet"\n disk "${disk}"\n disable\n}`,
    );
  }
  const conf = join(daemon.dataDir, 'vm.conf');
  writeFileSync(conf, `${lines.join('\n')}\n`);
  assert.equal((await daemon.cli(['vm', 'load', conf])).code, 0);
});
after(async () => {
  await daemon?.destroy();
});

test('after SIGKILL of the daemon, running VMs keep running and are found again', async () => {
  assert.equal((await daemon.cli(['vm', 'start', 'keep'])).code, 0);
  assert.equal((await daemon.cli(['vm', 'start', 'dies'])).code, 0);
  await until('both banners', async () => (await bannerSeen('keep')) && (await bannerSeen('dies')));
  const keepPid = (await status('keep')).pid!;
  const diesPid = (await status('dies')).pid!;

  await daemon.kill('SIGKILL');
  assert.ok(existsSync(`/proc/${keepPid}`), 'QEMU outlives the daemon');
  process.kill(diesPid, 'SIGKILL'); // this one dies while nobody watches
  await until('the killed QEMU to be gone', () => !existsSync(`/proc/${diesPid}/cmdline`) || !qemuPidsUnder(join(daemon.dataDir, 'runtime', 'dies')).length);

  await daemon.spawn();
  const keep = await status('keep');
  assert.equal(keep.state, 'running');
  assert.equal(keep.pid, keepPid, 'the same QEMU, re-attached');
  const dies = await status('dies');
  assert.equal(dies.state, 'stopped');
  assert.match(dies.lastStopReason ?? '', /exited while the daemon was not running/);
  assert.equal(existsSync(join(daemon.dataDir, 'runtime', 'dies')), false);

  // QMP and the console work again on the adopted VM.
  const r = await daemon.cli(['vm', 'stop', '-w', 'keep']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /the guest powered off/);
});

test('a daemon killed half-way through a start leaves no orphan: the start is finished on restart', async () => {
  // The failpoint kills the daemon right after QEMU was spawned, before QMP was attached.
  await daemon.kill('SIGTERM');
  await daemon.spawn({ ARDESIA_FAILPOINTS: 'vm-start-after-spawn' });
  const r = await daemon.cli(['vm', 'start', 'half']);
  assert.notEqual(r.code, 0, 'the CLI sees the daemon die');
  await until('the daemon to be dead', () => daemon.proc?.exitCode !== null || daemon.proc?.signalCode !== null);
  await daemon.spawn();
  const half = await status('half');
  assert.equal(half.state, 'running');
  await until('the banner of the finished start', () => bannerSeen('half'));
  assert.equal(qemuPidsUnder(join(daemon.dataDir, 'runtime', 'half')).length, 1, 'exactly one QEMU for the VM');
  const all = JSON.parse((await daemon.cli(['--json', 'vm', 'status'])).stdout) as VmStatus[];
  assert.deepEqual(all.map((v) => v.name).sort(), ['dies', 'half', 'keep'], 'no VM lost, no stale record');
  assert.equal((await daemon.cli(['vm', 'stop', '-f', '-w', 'half'])).code, 0);
  assert.equal(qemuPidsUnder(join(daemon.dataDir, 'runtime')).length, 0, 'no QEMU left');
});

test('a runtime folder with no VM record (an orphan QEMU) is killed and removed at start-up', async () => {
  // Simulate an orphan by starting a VM, then deleting its record behind the daemon's back.
  assert.equal((await daemon.cli(['vm', 'start', 'keep'])).code, 0);
  const pid = (await status('keep')).pid!;
  await daemon.kill('SIGKILL');
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(join(daemon.dataDir, 'ardesia.db'));
  db.prepare('delete from vms where name = ?').run('keep');
  db.close();
  await daemon.spawn();
  await until('the orphan QEMU to be killed', () => !existsSync(`/proc/${pid}/cmdline`) || qemuPidsUnder(join(daemon.dataDir, 'runtime', 'keep')).length === 0);
  assert.equal(existsSync(join(daemon.dataDir, 'runtime', 'keep')), false);
});
