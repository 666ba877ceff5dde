// vmctl's send and receive, and stop --to-disk, against a real daemon and a real QEMU guest: the guest's RAM
// (a shell variable, a file in a tmpfs) is there after the restore; a damaged, cut, foreign or mismatching
// state, or one whose disk changed since, is refused before QEMU starts, leaving nothing behind.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, closeSync, existsSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Readable } from 'node:stream';
import type { ArdesiaError } from '../../src/contract/errors.js';
import type { VmStatus } from '../../src/contract/vm.js';
import { CLI, TestDaemon, until } from '../helpers/daemon.js';
import { guestArtifacts } from '../helpers/guests.js';
import { typeAndExpect as typeAndExpectOn } from '../images/support.js';

const g = guestArtifacts();
let daemon: TestDaemon;
let disk: string;
const VM = 'ss1';

before(async () => {
  daemon = await TestDaemon.start();
  disk = join(daemon.dataDir, `${VM}.qcow2`);
  assert.equal((await daemon.cli(['vm', 'create', '-b', g.amd64.rootQcow2, disk])).code, 0);
  await defineVm(256);
});
after(async () => {
  await daemon?.destroy();
});

async function defineVm(memoryMiB: number): Promise<void> {
  const conf = join(daemon.dataDir, `${VM}.conf`);
  writeFileSync(conf, `vm "${VM}" {\n  memory ${memoryMiB}M\n  boot "${g.amd64.kernel}"\n  initrd "${g.amd64.initrd}"\n  cmdline "console=ttyS0 root=/dev/vda rw quiet"\n  disk "${disk}"\n  disable\n}\n`);
  const r = await daemon.cli(['vm', 'load', conf]);
  assert.equal(r.code, 0, r.stderr);
}

async function status(): Promise<VmStatus> {
  return JSON.parse((await daemon.cli(['--json', 'vm', 'status', VM])).stdout) as VmStatus;
}

/** Types a line on the guest's serial console and waits for the answer (test/images/support.ts). */
const typeAndExpect = (line: string, expect: string) => typeAndExpectOn(daemon, VM, line, expect).then(() => undefined);

/** Runs the CLI with a file as stdin or stdout (binary: the test helper's CLI keeps text only). */
function cliWithFile(args: string[], file: string, direction: 'in' | 'out'): Promise<{ code: number; stderr: string; stdout: string; ms: number }> {
  const fd = direction === 'out' ? openSync(file, 'w', 0o600) : openSync(file, 'r');
  const started = Date.now();
  const child = spawn(process.execPath, [CLI, '--data-dir', daemon.dataDir, ...args], { stdio: direction === 'out' ? ['ignore', fd, 'pipe'] : [fd, 'pipe', 'pipe'] });
  closeSync(fd);
  let stderr = '';
  let stdout = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code: code ?? 1, stderr, stdout, ms: Date.now() - started })));
}

const statesDir = () => join(daemon.dataDir, 'states', VM);
const runtimeDir = () => join(daemon.dataDir, 'runtime', VM);

const banners = async () => (await daemon.cli(['vm', 'log', VM, '--bytes', '1M'])).stdout.split(g.amd64.banner).length;

async function bootAndMark(): Promise<void> {
  const before = await banners();
  const s = await daemon.cli(['vm', 'start', VM]);
  assert.equal(s.code, 0, s.stderr);
  await until('the banner', async () => (await banners()) > before);
  // Only in the guest's RAM: a file in a fresh tmpfs and a shell variable.
  await typeAndExpect('mkdir -p /mnt/r && mount -t tmpfs r /mnt/r && echo ram-$((6*7)) > /mnt/r/mark && MARK=v-$((5*5)) && echo set-$((1+2))', 'set-3');
}

async function sendTo(file: string): Promise<number> {
  const r = await cliWithFile(['vm', 'send', VM], file, 'out');
  assert.equal(r.code, 0, r.stderr);
  const stopped = await status();
  assert.equal(stopped.state, 'stopped');
  // The daemon's reason, not QEMU's SHUTDOWN cause of its own quit ("stopped by force").
  assert.match(stopped.lastStopReason ?? '', /its state was saved/);
  await until('the sent state deleted on the daemon', () => !existsSync(statesDir()));
  return r.ms;
}

async function assertRefused(file: string, pattern: RegExp, code: string): Promise<void> {
  const r = await cliWithFile(['--json', 'vm', 'receive', VM], file, 'in');
  assert.notEqual(r.code, 0, 'the receive was refused');
  const said = `${r.stdout}${r.stderr}`;
  assert.match(said, pattern);
  assert.match(said, new RegExp(code));
  const s = await status();
  assert.equal(s.state, 'stopped');
  assert.equal(s.pid, null);
  assert.ok(!existsSync(statesDir()), 'no state left behind');
  assert.ok(!existsSync(runtimeDir()), 'no runtime folder left behind');
}

test('send → file → receive: the guest answers on its serial console with its RAM as it was', async () => {
  await bootAndMark();
  const file = join(daemon.dataDir, 'ss1.state');
  const sendMs = await sendTo(file);
  const head = readFileSync(file).subarray(0, 18).toString();
  assert.equal(head, 'ARDESIA-VM-STATE/1');
  const started = Date.now();
  const r = await cliWithFile(['vm', 'receive', VM], file, 'in');
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await status()).state, 'running');
  await typeAndExpect('cat /mnt/r/mark; echo $MARK-$((2+2))', 'v-25-4');
  const answerMs = Date.now() - started;
  await typeAndExpect('cat /mnt/r/mark | tr a-z A-Z', 'RAM-42');
  assert.ok(!existsSync(statesDir()), 'the received state is consumed');
  console.log(`# saved-state: send ${sendMs} ms, file ${(statSync(file).size / 2 ** 20).toFixed(1)} MiB; receive → serial answer ${answerMs} ms (CLI exit ${r.ms} ms)`);
});

test('a damaged, cut, foreign or mismatching state, or a changed disk, is refused before QEMU starts, leaving nothing behind', async () => {
  if ((await status()).state !== 'running') await bootAndMark();
  const file = join(daemon.dataDir, 'ss1-b.state');
  await sendTo(file);
  const good = readFileSync(file);

  const damaged = join(daemon.dataDir, 'damaged.state');
  const bytes = Buffer.from(good);
  bytes[bytes.length - 100] = bytes[bytes.length - 100]! ^ 0xff;
  writeFileSync(damaged, bytes);
  await assertRefused(damaged, /damaged \(its sha256 is/, 'VM_STATE_INVALID');

  const cut = join(daemon.dataDir, 'cut.state');
  writeFileSync(cut, good.subarray(0, good.length - 4096));
  await assertRefused(cut, /cut short/, 'VM_STATE_INVALID');

  const foreign = join(daemon.dataDir, 'foreign.state');
  writeFileSync(foreign, 'QEVM\x00\x00\x00\x03 not ours');
  await assertRefused(foreign, /does not start as an Ardesia VM state/, 'VM_STATE_INVALID');

  await defineVm(320);
  await assertRefused(file, /memory \(MiB\) was 256, is 320/, 'VM_STATE_MISMATCH');
  await defineVm(256);

  const original = readFileSync(disk);
  appendFileSync(disk, Buffer.alloc(512)); // the overlay written to after the send
  await assertRefused(file, /disk 0 .* changed since the state was saved/, 'VM_STATE_MISMATCH');
  writeFileSync(disk, original);

  const r = await cliWithFile(['vm', 'receive', VM], file, 'in');
  assert.equal(r.code, 0, `the intact state still loads once the disk is back: ${r.stderr}`);
  await typeAndExpect('echo $MARK-$((3+3))', 'v-25-6');
});

test('stop --to-disk then start resumes where it was; start --discard-state boots afresh', async () => {
  if ((await status()).state !== 'running') await bootAndMark();
  const saving = Date.now();
  const s = await daemon.cli(['vm', 'stop', '--to-disk', VM]);
  assert.equal(s.code, 0, s.stderr);
  const saveMs = Date.now() - saving;
  assert.match(s.stdout, /state was saved/);
  assert.ok(existsSync(join(statesDir(), 'manifest.json')));
  // vm status says where the state is (this host, as the host list names it) and what the next start does.
  const ownHost = (await daemon.api().request<Array<{ name: string }>>('GET', '/v1/hosts'))[0]!.name;
  assert.equal((await status()).savedStateOn, ownHost);
  assert.match((await daemon.cli(['vm', 'status', VM])).stdout, new RegExp(`${VM}: its state is saved on host ${ownHost}: \`vm start\` resumes it`));
  const resuming = Date.now();
  const again = await daemon.cli(['vm', 'start', VM]);
  assert.equal(again.code, 0, again.stderr);
  const startMs = Date.now() - resuming;
  await typeAndExpect('echo $MARK-$((4+4))', 'v-25-8');
  const loadMs = [...daemon.output.matchAll(/"restoreMs":(\d+)/g)].pop()?.[1];
  console.log(`# saved-state: stop --to-disk ${saveMs} ms; start (resume) ${startMs} ms (QEMU loading the state: ${loadMs} ms), to serial answer ${Date.now() - resuming} ms`);
  assert.ok(!existsSync(statesDir()), 'the state is consumed by the resume');
  assert.equal((await status()).savedStateOn, null);

  // The restored QEMU found again by a restarted daemon (its argv the incoming one): saved again, it resumes again.
  await daemon.kill();
  await daemon.spawn();
  assert.equal((await status()).state, 'running');
  const resaved = await daemon.cli(['vm', 'stop', '--to-disk', VM]);
  assert.equal(resaved.code, 0, resaved.stderr);
  const resumed = await daemon.cli(['vm', 'start', VM]);
  assert.equal(resumed.code, 0, resumed.stderr);
  await typeAndExpect('echo $MARK-$((4+5))', 'v-25-9');

  assert.equal((await daemon.cli(['vm', 'stop', '--to-disk', VM])).code, 0);
  const bootsBefore = await banners();
  const fresh = await daemon.cli(['vm', 'start', '--discard-state', VM]);
  assert.equal(fresh.code, 0, fresh.stderr);
  assert.ok(!existsSync(statesDir()));
  await until('a fresh boot', async () => (await banners()) > bootsBefore);
  await typeAndExpect('echo "[$MARK]-$((5+5))"', '[]-10');
  assert.equal((await daemon.cli(['vm', 'stop', '-f', '-w', VM])).code, 0);
});

test('bytes only where a route takes an upload: octet-stream to a JSON route and JSON to receive are refused', async () => {
  const api = daemon.api();
  await assert.rejects(api.upload('POST', `/v1/vms/${VM}/stop`, Readable.from([Buffer.from('x')])), (err: ArdesiaError) => err.code === 'BAD_REQUEST' && /takes no application\/octet-stream body/.test(err.message));
  await assert.rejects(api.request('POST', `/v1/vms/${VM}/receive`, {}), (err: ArdesiaError) => err.code === 'BAD_REQUEST' && /takes an upload: send application\/octet-stream/.test(err.message));
  assert.equal((await status()).state, 'stopped');
  assert.ok(!existsSync(statesDir()));
});
