// Numbers and words on the command line are parsed once, by the flag's own parser: a bad value makes the
// real `ardesia` exit 1 before it does anything, saying what the flag accepts. `serve` never starts on one
// (it used to run with a NaN boot-storm limit: every cold start then failed as a boot storm), and
// `vm stop -f --timeout abc` leaves the VM running (it used to pull the plug, ignoring the timeout).
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { VmStatus } from '../../src/contract/vm.js';
import { runCli, TestDaemon } from '../helpers/daemon.js';
import { guestArtifacts } from '../helpers/guests.js';

const g = guestArtifacts();
let daemon: TestDaemon;

before(async () => {
  daemon = await TestDaemon.start();
});
after(async () => {
  await daemon?.destroy();
});

const SERVE_CASES: Array<[string[], RegExp]> = [
  [['--boot-storm-limit', 'abc'], /option '--boot-storm-limit <n>' argument 'abc' is invalid\. Accepted: a whole number from 1 to 1000\./],
  [['--boot-storm-limit', '0'], /Accepted: a whole number from 1 to 1000\./],
  [['--boot-storm-limit', '2.5'], /Accepted: a whole number from 1 to 1000\./],
  [['--boot-timeout', 'soon'], /option '--boot-timeout <seconds>' argument 'soon' is invalid\. Accepted: a duration from 1s to 24h/],
  [['--log-level', 'loud'], /Accepted: one of trace, debug, info, warn, error\./],
  [['--listen', '8080'], /Accepted: ADDR:PORT, like 127\.0\.0\.1:8080/],
  [['--memory-overcommit', 'lots'], /option '--memory-overcommit <ratio>' argument 'lots' is invalid\. Accepted: a decimal number from 0\.1 to 10, like 1\.5\./],
  [['--cpu-overcommit', '0'], /Accepted: a decimal number from 0\.1 to 64/],
  [['--host-name', 'bad_name!'], /option '--host-name <name>' argument 'bad_name!' is invalid\. Accepted: a host name/],
  [['--host-label', 'has space'], /Accepted: a label/],
  [['--controller-lease', 'soon'], /option '--controller-lease <duration>' argument 'soon' is invalid\. Accepted: a duration from 1s to 10m/],
  [['--controller-renew', '100ms'], /Accepted: a duration from 200ms to 5m/],
];

for (const [args, message] of SERVE_CASES) {
  test(`serve ${args.join(' ')} exits 1 before starting, saying what is accepted`, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ard-flags-'));
    try {
      // A daemon that started would never exit: the time limit is only there to fail such a run.
      const r = await runCli(dataDir, ['serve', ...args], { timeoutMs: 60_000 });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, message);
      assert.deepEqual(readdirSync(dataDir), [], 'no store, socket or token was created');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
}

test('serve --fence-config with a file others may write (its commands run as root) is refused before anything starts', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ard-flags-'));
  const confDir = mkdtempSync(join(tmpdir(), 'ard-fence-'));
  try {
    const conf = join(confDir, 'fence.json');
    writeFileSync(conf, JSON.stringify({ b2: ['/usr/sbin/fence_ipmilan', '--ip=192.0.2.7'] }), { mode: 0o666 });
    chmodSync(conf, 0o666);
    const r = await runCli(dataDir, ['serve', '--fence-config', conf], { timeoutMs: 60_000 });
    assert.notEqual(r.code, 0, r.stderr);
    assert.match(r.stderr, /--fence-config .* must belong to root and be writable by root only/);
    assert.deepEqual(readdirSync(dataDir), [], 'no store, socket or token was created');
    writeFileSync(conf, JSON.stringify({ b2: ['fence_ipmilan'] }));
    chmodSync(conf, 0o600);
    const relative = await runCli(dataDir, ['serve', '--fence-config', conf], { timeoutMs: 60_000 });
    assert.match(relative.stderr, /--fence-config .*: host b2: the fence agent must be an absolute path/);
    assert.deepEqual(readdirSync(dataDir), []);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(confDir, { recursive: true, force: true });
  }
});

test('vm stop -f --timeout abc is refused and the VM keeps running; other bad numbers are refused too', async () => {
  const started = await daemon.cli(['vm', 'start', 'steady', '-m', '64M', '-b', g.amd64.kernel, '--append', 'console=ttyS0']);
  assert.equal(started.code, 0, started.stderr);
  try {
    const stop = await daemon.cli(['vm', 'stop', '-f', '--timeout', 'abc', 'steady']);
    assert.equal(stop.code, 1);
    assert.match(stop.stderr, /option '--timeout <seconds>' argument 'abc' is invalid\. Accepted: a duration from 0 to 1h: a whole number of seconds, or with a unit/);
    const waitStop = await daemon.cli(['vm', 'stop', '-w', '--timeout', 'abc', 'steady']);
    assert.equal(waitStop.code, 1);
    assert.match(waitStop.stderr, /Accepted: a duration/);
    const status = JSON.parse((await daemon.cli(['--json', 'vm', 'status', 'steady'])).stdout) as VmStatus;
    assert.equal(status.state, 'running', 'nothing reached the daemon');

    const refused: Array<[string[], RegExp]> = [
      [['vm', 'wait', '--timeout', '-1', 'steady'], /Accepted: a duration from 1ms to 24h/],
      [['vm', 'log', '--bytes', 'all', 'steady'], /Accepted: a size from 1 to 1M/],
      [['vm', 'start', 'other', '--cpus', 'two', '-b', g.amd64.kernel], /Accepted: a whole number from 1 to 1024\./],
      [['vm', 'start', 'other', '--accel', 'fast', '-b', g.amd64.kernel], /Accepted: one of auto, kvm, tcg\./],
      [['image', 'rollback', 'img', '--to', 'first'], /Accepted: a whole number, 1 or more\./],
      [['image', 'create', 'img', '--from', g.amd64.rootQcow2, '--format', 'qcow'], /Accepted: one of qcow2, raw, vmdk, vdi, vhdx\./],
      [['pool', 'create', 'p', '--image', 'img', '--warm', 'lots'], /Accepted: a whole number from 0 to 10000\./],
      [['pool', 'set', 'p', '--version', 'newest'], /Accepted: a version number \(1 or more\) or latest\./],
      [['home', 'resize', 'alice', 'big'], /Accepted: a size from 1M to 64T/],
      [['desktop', 'stop', 'd', '--timeout', '2h'], /Accepted: a duration from 0 to 1h/],
      [['audit', '--limit', '0'], /Accepted: a whole number from 1 to 10000\./],
    ];
    for (const [args, message] of refused) {
      const r = await daemon.cli(args);
      assert.equal(r.code, 1, `ardesia ${args.join(' ')}: ${r.stdout}`);
      assert.match(r.stderr, message, args.join(' '));
    }
    const vms = JSON.parse((await daemon.cli(['--json', 'vm', 'status'])).stdout) as VmStatus[];
    assert.deepEqual(vms.map((v) => v.name), ['steady'], 'no refused command created anything');
    assert.equal(existsSync(join(daemon.dataDir, 'runtime', 'other')), false);
  } finally {
    assert.equal((await daemon.cli(['vm', 'stop', '-f', '-w', 'steady'])).code, 0);
  }
});
