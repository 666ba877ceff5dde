// vmctl's verbs against a real daemon and a real QEMU guest: start, console, pause/unpause, reset,
// stop (graceful, timed out, forced), wait, log — each checked by the guest's own reaction.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { VmStatus } from '../../src/contract/vm.js';
import { CLI, TestDaemon, until } from '../helpers/daemon.js';
import { guestArtifacts } from '../helpers/guests.js';

const g = guestArtifacts();
let daemon: TestDaemon;

before(async () => {
  daemon = await TestDaemon.start();
});
after(async () => {
  await daemon?.destroy();
});

async function consoleLog(name: string): Promise<string> {
  const r = await daemon.cli(['vm', 'log', name]);
  return r.stdout;
}

const count = (text: string, what: string) => text.split(what).length - 1;

/** Types a line on the guest's serial console through the WebSocket and waits for the answer. */
async function typeAndExpect(name: string, line: string, expect: string): Promise<void> {
  const ws = daemon.api().webSocket(`/v1/vms/${name}/console`);
  let seen = '';
  await new Promise<void>((resolve, reject) => {
    ws.on('open', () => ws.send(`${line}\n`));
    ws.on('message', (d: Buffer) => {
      seen += d.toString();
      if (seen.includes(expect)) resolve();
    });
    ws.on('error', reject);
    ws.on('close', (code, reason) => reject(new Error(`console closed (${code} ${reason.toString()}); saw: ${seen}`)));
    const timer = setTimeout(() => reject(new Error(`no "${expect}" after typing ${line}; saw: ${seen}`)), 60_000);
    ws.on('message', () => seen.includes(expect) && clearTimeout(timer));
  });
  ws.removeAllListeners('close');
  ws.close();
}

/** An overlay DATA/NAME.qcow2 on the guest image, made once (each test can run alone: --test-name-pattern). */
async function overlay(name: string): Promise<string> {
  const disk = join(daemon.dataDir, `${name}.qcow2`);
  if (!existsSync(disk)) assert.equal((await daemon.cli(['vm', 'create', '-b', g.amd64.rootQcow2, disk])).code, 0);
  return disk;
}

/** Starts the ad hoc VM g1 (vmctl's `start NAME -m -b -d`). */
async function startG1() {
  const disk = await overlay('g1');
  return daemon.cli(['vm', 'start', 'g1', '-m', '256M', '-b', g.amd64.kernel, '--initrd', g.amd64.initrd, '--append', 'console=ttyS0 root=/dev/vda rw quiet', '-d', disk]);
}

/** g1 running with its shell answering, whatever ran before (it is started when it is not). */
async function g1Running(): Promise<void> {
  const s = await daemon.cli(['--json', 'vm', 'status', 'g1']);
  if (s.code !== 0 || (JSON.parse(s.stdout) as VmStatus).state !== 'running') {
    const r = await startG1();
    assert.equal(r.code, 0, r.stderr);
    await until('the banner', async () => (await consoleLog('g1')).includes(g.amd64.banner));
  }
}

/** Defines g2 from a vm.conf (disabled, so not started); the load's result. */
async function defineG2() {
  const disk = await overlay('g2');
  const conf = join(daemon.dataDir, 'g2.conf');
  writeFileSync(
    conf,
    `vm "g2" {\n  memory 192M\n  boot "${g.amd64.kernel}"\n  initrd "${g.amd64.initrd}"\n  cmdline "console=ttyS0 root=/dev/vda rw quiet"\n  disk "${disk}"\n  disable\n}\n`,
  );
  return daemon.cli(['vm', 'load', conf]);
}

test('vm create makes an overlay on the guest image', async () => {
  const disk = join(daemon.dataDir, 'created.qcow2');
  const r = await daemon.cli(['vm', 'create', '-b', g.amd64.rootQcow2, disk]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /created .*created\.qcow2 \(qcow2/);
  const again = await daemon.cli(['vm', 'create', '-b', g.amd64.rootQcow2, disk]);
  assert.notEqual(again.code, 0);
  assert.match(again.stderr, /already exists/);
});

test('start ad hoc boots to the banner; status says which accelerator, loudly for TCG', async () => {
  const r = await startG1();
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /started vm g1/);
  await until('the banner', async () => (await consoleLog('g1')).includes(g.amd64.banner));
  const s = await daemon.cli(['--json', 'vm', 'status', 'g1']);
  const status = JSON.parse(s.stdout) as VmStatus;
  assert.equal(status.state, 'running');
  assert.equal(status.memoryMiB, 256);
  assert.ok(status.pid && existsSync(`/proc/${status.pid}`));
  if (status.accel === 'tcg') assert.match(status.accelNote ?? '', /not an isolation boundary/);
  const table = await daemon.cli(['vm', 'status']);
  assert.match(table.stdout, /^NAME\s+STATE/m);
  assert.match(table.stdout, /g1\s+running/);
});

test('the console answers typed commands, and the CLI console detaches with ~.', async () => {
  await g1Running();
  await typeAndExpect('g1', 'echo hi-$((1+1))', 'hi-2');
  const child = spawn(process.execPath, [CLI, '--data-dir', daemon.dataDir, 'vm', 'console', 'g1'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  child.stdin.write('echo cli-$((20+3))\n');
  await until('the CLI console to show the answer', () => out.includes('cli-23'));
  child.stdin.write('~.');
  assert.equal(await exited, 0);
});

test('pause stops the vCPUs and unpause resumes them', async () => {
  await g1Running();
  const p = await daemon.cli(['vm', 'pause', 'g1']);
  assert.equal(p.code, 0, p.stderr);
  assert.match(p.stdout, /is paused/);
  const paused = JSON.parse((await daemon.cli(['--json', 'vm', 'status', 'g1'])).stdout) as VmStatus;
  assert.equal(paused.state, 'paused');
  const again = await daemon.cli(['vm', 'pause', 'g1']);
  assert.notEqual(again.code, 0);
  assert.match(again.stderr, /paused, not running/);
  const u = await daemon.cli(['vm', 'unpause', 'g1']);
  assert.equal(u.code, 0, u.stderr);
  await typeAndExpect('g1', 'echo back-$((40+2))', 'back-42');
});

test('reset reboots the guest: the banner comes again', async () => {
  await g1Running();
  const before = count(await consoleLog('g1'), g.amd64.banner);
  const r = await daemon.cli(['vm', 'reset', 'g1']);
  assert.equal(r.code, 0, r.stderr);
  await until('a second banner', async () => count(await consoleLog('g1'), g.amd64.banner) > before);
});

test('a graceful stop the guest ignores times out, says so and suggests -f; -f stops it', async () => {
  await g1Running();
  await typeAndExpect('g1', 'killall acpid; echo acpid-gone', 'acpid-gone');
  const r = await daemon.cli(['vm', 'stop', '-w', '--timeout', '3', 'g1']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /did not power off within 3 s/);
  assert.match(r.stderr, /vm stop -f/);
  const f = await daemon.cli(['vm', 'stop', '-f', '-w', 'g1']);
  assert.equal(f.code, 0, f.stderr);
  assert.match(f.stdout, /stopped: stopped by force/);
  // An ad hoc VM is forgotten once stopped, as vmctl's are.
  const s = await daemon.cli(['vm', 'status', 'g1']);
  assert.notEqual(s.code, 0);
  assert.match(s.stderr, /not defined/);
});

test('a defined VM: stop -w presses the power button and the guest powers off; wait and log work after', async () => {
  const load = await defineG2();
  assert.equal(load.code, 0, load.stderr);
  assert.match(load.stdout, /added g2/);
  assert.equal((await daemon.cli(['vm', 'start', 'g2'])).code, 0);
  await until('the banner', async () => (await consoleLog('g2')).includes(g.amd64.banner));
  const waiter = daemon.cli(['vm', 'wait', 'g2']);
  const stop = await daemon.cli(['vm', 'stop', '-w', 'g2']);
  assert.equal(stop.code, 0, stop.stderr);
  assert.match(stop.stdout, /vm g2 stopped: the guest powered off/);
  const w = await waiter;
  assert.equal(w.code, 0, w.stderr);
  assert.match(w.stdout, /the guest powered off/);
  const status = JSON.parse((await daemon.cli(['--json', 'vm', 'status', 'g2'])).stdout) as VmStatus;
  assert.equal(status.state, 'stopped');
  assert.equal(status.lastStopReason, 'the guest powered off');
  assert.ok((await consoleLog('g2')).includes(g.amd64.banner), 'the console log outlives the VM');
  assert.equal(existsSync(join(daemon.dataDir, 'runtime', 'g2')), false, 'no runtime folder is left');
  const again = await daemon.cli(['vm', 'pause', 'g2']);
  assert.notEqual(again.code, 0);
  assert.match(again.stderr, /not running/);
});

test('start -t makes an instance of a defined VM: its settings, its own disk, forgotten when stopped', async () => {
  if ((await daemon.cli(['vm', 'status', 'g2'])).code !== 0) assert.equal((await defineG2()).code, 0);
  const disk = await overlay('g3');
  const r = await daemon.cli(['vm', 'start', 'g3', '-t', 'g2', '-d', disk]);
  assert.equal(r.code, 0, r.stderr);
  const status = JSON.parse((await daemon.cli(['--json', 'vm', 'status', 'g3'])).stdout) as VmStatus;
  assert.equal(status.memoryMiB, 192, 'memory inherited from g2');
  assert.equal(status.spec.boot.kernel, g.amd64.kernel, 'boot settings inherited');
  assert.deepEqual(status.spec.disks.map((d) => d.path), [disk], 'the disk is the instance’s own, not g2’s');
  assert.match(status.source ?? '', /instance of g2/);
  await until('the instance banner', async () => (await consoleLog('g3')).includes(g.amd64.banner));
  assert.equal((await daemon.cli(['vm', 'stop', '-f', '-w', 'g3'])).code, 0);
  assert.match((await daemon.cli(['vm', 'status', 'g3'])).stderr, /not defined/);
});
