// The thin-client OS build for real (cached), booted directly (kernel + initramfs) in QEMU under TCG (1 GiB, std
// VGA: the bochs DRM driver, which reads EDIDs the way real GPUs' drivers do) on a tap in a test namespace, with
// Ardesia's DhcpServer (full mode) and a small HTTP server serving the boot files and a kiosk config: the root
// image in RAM, checked, and the config's screen mode set on the output before the kiosk starts; with one byte of
// root.squashfs flipped the initramfs must stop with a clear message and boot nothing.
// (Whole boots to the login page and a session, from PXE on: netboot-login, netboot-uefi-proxy.)
import assert from 'node:assert/strict';
import { type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, openSync, readSync, writeSync, closeSync, fstatSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { QmpClient } from '../../src/hypervisor/qmp/client.js';
import { buildThinClientOs, type BuiltThinClientOs } from '../../src/thinclients/os/build.js';
import { killAndWait, NetLab, REPO } from '../netboot/lab.js';

const SERVER_IP = '10.250.9.1';
const GOOD_PORT = 8080;
const CORRUPT_PORT = 8081;
const BOOT_TIMEOUT_MS = 420_000;
const LAB_SERVER_JS = join(REPO, 'dist', 'test', 'thinclient-os', 'lab-server.js');

let dir: string;
let lab: NetLab;
let built: BuiltThinClientOs;
let buildSeconds: number;

function startLabServer(args: string[]): Promise<ChildProcess> {
  const proc = lab.spawn(lab.ns('srv'), process.execPath, [LAB_SERVER_JS, ...args]);
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    proc.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('"event":"ready"')) resolve(proc);
    });
    proc.on('exit', (code) => reject(new Error(`lab server exited ${code}: ${out}`)));
  });
}

before(async () => {
  dir = mkdtempSync('/tmp/tco-');
  const started = Date.now();
  built = await buildThinClientOs({ arch: 'amd64', outDir: join(dir, 'good'), cacheDir: join(REPO, '.cache', 'thinclient') });
  buildSeconds = (Date.now() - started) / 1000;
  // The same files with one byte of the root image flipped: the manifest no longer matches.
  mkdirSync(join(dir, 'corrupt'));
  for (const name of ['vmlinuz', 'initrd.img', 'manifest.json']) copyFileSync(join(dir, 'good', name), join(dir, 'corrupt', name));
  copyFileSync(join(dir, 'good', 'root.squashfs'), join(dir, 'corrupt', 'root.squashfs'));
  const fd = openSync(join(dir, 'corrupt', 'root.squashfs'), 'r+');
  const middle = Math.floor(fstatSync(fd).size / 2);
  const byte = Buffer.alloc(1);
  readSync(fd, byte, 0, 1, middle);
  // Inverted, not overwritten with a constant: the byte there may already be that constant (0x5a was, in one build).
  writeSync(fd, Buffer.from([byte[0]! ^ 0xff]), 0, 1, middle);
  closeSync(fd);
  lab = await NetLab.create('t');
  await lab.addHost('srv', `${SERVER_IP}/24`);
  await lab.addTap('tap0');
  await startLabServer(['--address', SERVER_IP, '--port', String(GOOD_PORT), '--files', join(dir, 'good'), '--dhcp-range', '10.250.9.100-10.250.9.150']);
  await startLabServer(['--address', SERVER_IP, '--port', String(CORRUPT_PORT), '--files', join(dir, 'corrupt')]);
});

after(async () => {
  await lab?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Boot {
  qemu: ChildProcess;
  qmp: QmpClient;
  started: number;
  /** Serial lines with the ms since `cont` at which they were first seen. */
  lines(): Array<{ ms: number; text: string }>;
  waitLine(re: RegExp, timeoutMs?: number): Promise<{ ms: number; text: string }>;
  stop(): Promise<void>;
}

async function boot(name: string, port: number, mac: string): Promise<Boot> {
  const serial = join(dir, `${name}.serial`);
  const qmpPath = join(dir, `${name}.qmp`);
  writeFileSync(serial, '');
  const append = `${built.manifest.kernelCmdline} ardesia.server=http://${SERVER_IP}:${port} ardesia.mac=${mac}`;
  const qemu = lab.spawn(lab.hub, 'qemu-system-x86_64', ['-accel', 'tcg,tb-size=128', '-m', '1024', '-smp', '1', '-nodefaults', '-vga', 'std', '-display', 'none', '-no-reboot',
    '-kernel', join(dir, 'good', 'vmlinuz'), '-initrd', join(dir, 'good', 'initrd.img'), '-append', append,
    '-netdev', 'tap,id=n0,ifname=tap0,script=no,downscript=no', '-device', `virtio-net-pci,netdev=n0,mac=${mac}`,
    '-device', 'virtio-keyboard-pci', '-device', 'virtio-tablet-pci',
    '-serial', `file:${serial}`, '-qmp', `unix:${qmpPath},server=on,wait=off`, '-S']);
  let stderr = '';
  qemu.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  let qmp: QmpClient | undefined;
  for (let i = 0; i < 300 && !qmp && qemu.exitCode === null; i++) {
    await new Promise((r) => setTimeout(r, 100));
    qmp = await QmpClient.connect(qmpPath).catch(() => undefined);
  }
  if (!qmp) {
    await killAndWait(qemu);
    throw new Error(`QEMU did not open its QMP socket (exit ${qemu.exitCode ?? qemu.signalCode}): ${stderr}`);
  }
  await qmp.cont();
  const started = Date.now();
  const seen: Array<{ ms: number; text: string }> = [];
  const poll = (): void => {
    const all = readFileSync(serial, 'latin1').replace(/\r/g, '').split('\n').slice(0, -1);
    for (const text of all.slice(seen.length)) seen.push({ ms: Date.now() - started, text });
  };
  const waitLine = async (re: RegExp, timeoutMs = BOOT_TIMEOUT_MS) => {
    const until = Date.now() + timeoutMs;
    for (;;) {
      poll();
      const hit = seen.find((l) => re.test(l.text));
      if (hit) return hit;
      const fatal = seen.find((l) => /ARDESIA-TC FATAL/.test(l.text));
      if (fatal) throw new Error(`the thin client stopped before ${re}:\n${seen.map((l) => l.text).slice(-20).join('\n')}`);
      if (qemu.exitCode !== null || Date.now() > until) throw new Error(`no serial line ${re} (QEMU ${qemu.exitCode === null ? 'running' : `exited ${qemu.exitCode}`}):\n${seen.map((l) => l.text).slice(-40).join('\n')}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  const stop = async () => {
    await qmp!.close().catch(() => undefined);
    await killAndWait(qemu); // the next boot takes tap0 again: only once this QEMU has let it go
  };
  return { qemu, qmp, started, lines: () => (poll(), seen), waitLine, stop };
}

test('the build is cached: a warm build reuses both cache levels and the manifest describes the files', () => {
  const m = built.manifest;
  for (const name of ['vmlinuz', 'initrd.img', 'root.squashfs'] as const) {
    assert.equal(m.files[name].size, readFileSync(join(dir, 'good', name)).length);
    assert.match(m.files[name].sha256, /^[0-9a-f]{64}$/);
  }
  assert.match(m.packages, /^[0-9a-f]{64}$/);
  assert.equal(m.arch, 'amd64');
  process.stderr.write(`thinclient-os figures: build ${buildSeconds.toFixed(1)} s (cache tree=${built.cached.tree} outputs=${built.cached.outputs}); ` +
    `vmlinuz ${m.files.vmlinuz.size} B, initrd ${m.files['initrd.img'].size} B, root.squashfs ${m.files['root.squashfs'].size} B\n`);
});

test('boots: DHCP, the root in RAM with sha256 ok, and the config\'s screen mode on the output before the kiosk starts', async () => {
  const b = await boot('good', GOOD_PORT, '52:54:00:09:00:01');
  try {
    const dhcp = await b.waitLine(/ARDESIA-TC stage=dhcp ok ip=10\.250\.9\.1\d\d .*mac=52:54:00:09:00:01/);
    const root = await b.waitLine(/ARDESIA-TC stage=root fetched bytes=(\d+) sha256=ok/);
    assert.equal(Number(/bytes=(\d+)/.exec(root.text)![1]), built.manifest.files['root.squashfs'].size);
    // The lab server's config says de and 1024x768 (a mode of the kernel's built-in EDIDs).
    const config = await b.waitLine(/ARDESIA-TC stage=config source=server keyboard=de resolution=1024x768 screen=edid/);
    const devices = await b.waitLine(/ARDESIA-TC stage=devices .*modes=/);
    assert.match(devices.text, /modes=card0-[A-Za-z0-9-]+:1024x768,/, 'the output prefers the inventory\'s mode');
    assert.ok(dhcp.ms <= root.ms && root.ms <= config.ms && config.ms <= devices.ms, 'stages in order');
  } finally {
    await b.stop();
  }
});

test('a corrupted root.squashfs stops the boot with a clear message', async () => {
  const b = await boot('corrupt', CORRUPT_PORT, '52:54:00:09:00:02');
  try {
    await b.waitLine(/ARDESIA-TC stage=dhcp ok/);
    const error = await b.waitLine(/ARDESIA-TC stage=root error=sha256-mismatch/);
    const fatal = await b.waitLine(/ARDESIA-TC FATAL: root\.squashfs from http:\/\/10\.250\.9\.1:8081 is corrupt: sha256 [0-9a-f]{64}, manifest says [0-9a-f]{64}/);
    assert.ok(fatal.ms >= error.ms);
    assert.ok(!b.lines().some((l) => /stage=kiosk|stage=root fetched/.test(l.text)), 'nothing booted past the check');
  } finally {
    await b.stop();
  }
});
