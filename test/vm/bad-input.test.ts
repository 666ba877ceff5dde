// Bad input gets a clear error, a non-zero exit, and nothing half-created: no record, no runtime
// folder, no QEMU. Also: a CLI with no daemon says how to start one.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { VmStatus } from '../../src/contract/vm.js';
import { qemuPidsUnder, runCli, TestDaemon, until } from '../helpers/daemon.js';
import { guestArtifacts } from '../helpers/guests.js';

const g = guestArtifacts();
let daemon: TestDaemon;

before(async () => {
  daemon = await TestDaemon.start();
});
after(async () => {
  await daemon?.destroy();
});

async function assertNothingLeft(name: string): Promise<void> {
  const list = JSON.parse((await daemon.cli(['--json', 'vm', 'status'])).stdout) as VmStatus[];
  assert.equal(list.find((v) => v.name === name && v.state !== 'stopped'), undefined, `${name} is not running`);
  assert.equal(existsSync(join(daemon.dataDir, 'runtime', name)), false, `no runtime folder for ${name}`);
  assert.equal(qemuPidsUnder(join(daemon.dataDir, 'runtime', name)).length, 0, `no QEMU for ${name}`);
}

test('no daemon: the CLI says so and how to start one', async () => {
  const empty = mkdtempSync(join(tmpdir(), 'ard-none-'));
  try {
    const r = await runCli(empty, ['vm', 'status']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no Ardesia daemon answers at .*ardesia\.sock/);
    assert.match(r.stderr, /ardesia serve/);
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});

const BAD_CONFIGS: Array<[string, string, RegExp]> = [
  ['unknown keyword', 'vm "a" {\n  memory 64M\n  colour blue\n}\n', /:3:3.*colour/],
  ['unterminated block', 'vm "a" {\n  memory 64M\n', /:1:8: .*never closed/],
  ['impossible memory', 'vm "a" {\n  memory 0\n}\n', /:2:\d+.*memory/i],
  ['huge memory', 'vm "a" {\n  memory 9000G\n}\n', /:2:\d+.*memory/i],
  ['unterminated string', 'vm "a {\n', /:1:\d+/],
];

for (const [what, text, message] of BAD_CONFIGS) {
  test(`vm load refuses a vm.conf with ${what}, naming the line and column`, async () => {
    const file = join(daemon.dataDir, 'bad.conf');
    writeFileSync(file, text);
    const r = await daemon.cli(['vm', 'load', file]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, message);
    const list = JSON.parse((await daemon.cli(['--json', 'vm', 'status'])).stdout) as VmStatus[];
    assert.equal(list.find((v) => v.name === 'a'), undefined, 'nothing was defined');
  });
}

test('start with a missing kernel or disk: clear error, nothing created', async () => {
  const r = await daemon.cli(['vm', 'start', 'm1', '-m', '64M', '-b', '/nonexistent/vmlinuz']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /kernel \/nonexistent\/vmlinuz does not exist/);
  await assertNothingLeft('m1');
  const s = await daemon.cli(['vm', 'status', 'm1']);
  assert.match(s.stderr, /not defined/, 'the ad hoc VM left no record');

  const d = await daemon.cli(['vm', 'start', 'm2', '-m', '64M', '-b', g.amd64.kernel, '-d', '/nonexistent/disk.qcow2']);
  assert.equal(d.code, 1);
  assert.match(d.stderr, /disk \/nonexistent\/disk\.qcow2 does not exist/);
  await assertNothingLeft('m2');
});

test('impossible memory on the command line is refused before anything runs', async () => {
  for (const [mem, msg] of [['1K', /memoryMiB/], ['lots', /Accepted: a size from/]] as const) {
    const r = await daemon.cli(['vm', 'start', 'm3', '-m', mem, '-b', g.amd64.kernel]);
    assert.equal(r.code, 1, `-m ${mem}`);
    assert.match(r.stderr, msg);
  }
  await assertNothingLeft('m3');
});

test('a disk in use by another VM is refused (QEMU image lock), and the failed VM leaves nothing', async () => {
  const disk = join(daemon.dataDir, 'shared.qcow2');
  assert.equal((await daemon.cli(['vm', 'create', '-b', g.amd64.rootQcow2, disk])).code, 0);
  const boot = ['-m', '128M', '-b', g.amd64.kernel, '--initrd', g.amd64.initrd, '--append', 'console=ttyS0 root=/dev/vda rw quiet', '-d', disk];
  const first = await daemon.cli(['vm', 'start', 'owner1', ...boot]);
  assert.equal(first.code, 0, first.stderr);
  const second = await daemon.cli(['vm', 'start', 'thief', ...boot]);
  assert.equal(second.code, 1);
  assert.match(second.stderr, /disk .*shared\.qcow2 is in use by vm owner1/);
  await assertNothingLeft('thief');

  // The same disk held by a QEMU the daemon does not know: QEMU's own image lock refuses it.
  const outsider = join(daemon.dataDir, 'outsider.qcow2');
  assert.equal((await daemon.cli(['vm', 'create', '-b', g.amd64.rootQcow2, outsider])).code, 0);
  const { spawn } = await import('node:child_process');
  const holder = spawn('qemu-system-x86_64', ['-S', '-nodefaults', '-display', 'none', '-m', '32', '-drive', `file=${outsider},if=virtio`], { stdio: 'ignore' });
  try {
    await until('the outsider QEMU to lock its disk', async () => {
      const { execFileSync } = await import('node:child_process');
      try {
        execFileSync('qemu-img', ['info', outsider], { stdio: 'pipe' });
        return false;
      } catch (err) {
        return /lock/.test(String((err as { stderr?: Buffer }).stderr));
      }
    });
    const third = await daemon.cli(['vm', 'start', 'locked', '-m', '64M', '-b', g.amd64.kernel, '-d', outsider]);
    assert.equal(third.code, 1);
    assert.match(third.stderr, /in use by another VM or program/);
    await assertNothingLeft('locked');
  } finally {
    holder.kill('SIGKILL');
  }
  assert.equal((await daemon.cli(['vm', 'stop', '-f', '-w', 'owner1'])).code, 0);
});

test('--accel kvm on a host where KVM cannot run a guest is a clear error', async () => {
  const host = JSON.parse((await daemon.cli(['--json', 'host', 'check'])).stdout) as { accel: string };
  const r = await daemon.cli(['vm', 'start', 'k1', '--accel', 'kvm', '-m', '64M', '-b', g.amd64.kernel, '--initrd', g.amd64.initrd]);
  if (host.accel === 'kvm') {
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await daemon.cli(['vm', 'stop', '-f', '-w', 'k1'])).code, 0);
  } else {
    assert.equal(r.code, 1);
    assert.match(r.stderr, /KVM/);
    assert.match(r.stderr, /host check/);
    await assertNothingLeft('k1');
  }
  assert.equal(existsSync(join(daemon.dataDir, "runtime", "k1")), false);
});
