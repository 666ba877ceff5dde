// A running VM whose QEMU does not answer (SIGSTOPped: as hung as it gets): `vm pause` ends with
// VM_MONITOR_FAILED, its status and a hint, not an internal error. Real QEMU (TCG), the real daemon and CLI.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ERROR_REGISTRY } from '../../src/contract/errors.js';
import { TestDaemon } from '../helpers/daemon.js';

let daemon: TestDaemon;
let pid = 0;

before(async () => {
  daemon = await TestDaemon.start();
});
after(async () => {
  if (pid) process.kill(pid, 'SIGCONT');
  await daemon?.destroy();
});

test('a hung QEMU: vm pause answers VM_MONITOR_FAILED with what to do', { timeout: 180_000 }, async () => {
  const disk = join(daemon.dataDir, 'blank.qcow2');
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '16M']);
  const started = await daemon.cli(['vm', 'start', 'hung', '-m', '64M', '-d', disk]);
  assert.equal(started.code, 0, started.stderr);
  pid = Number(readFileSync(join(daemon.dataDir, 'runtime', 'hung', 'qemu.pid'), 'utf8').trim());
  process.kill(pid, 'SIGSTOP');
  const r = await daemon.cli(['--json', 'vm', 'pause', 'hung'], { timeoutMs: 120_000 });
  assert.equal(r.code, 1, r.stdout + r.stderr);
  const { error } = JSON.parse(r.stdout) as { error: { code: string; message: string; hint: string } };
  assert.equal(error.code, 'VM_MONITOR_FAILED');
  assert.equal(error.hint, ERROR_REGISTRY.VM_MONITOR_FAILED.hint);
  assert.equal(ERROR_REGISTRY.VM_MONITOR_FAILED.status, 502);
  assert.match(error.message, /vm hung: pause failed: QMP stop timed out/);
  process.kill(pid, 'SIGCONT');
  pid = 0;
  assert.equal((await daemon.cli(['vm', 'stop', '-f', 'hung'])).code, 0);
});
