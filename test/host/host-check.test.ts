// The probe against real QEMU: under TCG it must reach its final marker (so the probe guest
// is correct), and hostCheck() on this machine must run it and decide consistently with it.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { formatHostReport, hostCheck, PROBE_OK_MARKER, runProbe } from '../../src/hypervisor/host/index.js';
import { buildProbeImage, PROBE_STAGES } from '../../src/hypervisor/host/probe-image.js';
import { until } from '../helpers/daemon.js';

const root = process.env.ARDESIA_REPO_ROOT ?? process.cwd();
const TCG_PROBE_TIMEOUT_MS = 20_000; // generous: the test machine is shared; the probe takes ~0.1 s

test('the probe guest runs to its end under TCG, printing every stage in order', async () => {
  const result = await runProbe({ qemuBinary: 'qemu-system-x86_64', accel: 'tcg', timeoutMs: TCG_PROBE_TIMEOUT_MS });
  assert.equal(result.ok, true, `${result.detail}\nstderr: ${result.stderr}`);
  assert.equal(result.stage, PROBE_OK_MARKER);
  const lines = result.serial.split('\n').filter((l) => l.startsWith('ARDESIA-KVM-PROBE-'));
  assert.deepEqual(lines, PROBE_STAGES.map((s) => s.marker));
});

test('hostCheck() runs the probe on this machine and its accelerator follows the probe', async () => {
  const report = await hostCheck();
  console.log(`\n${formatHostReport(report)}\n`);
  assert.notEqual(report.qemu.version, null, 'QEMU is installed on the test machine');
  if (report.devKvm.exists && report.devKvm.accessible) assert.equal(report.probe.ran, true);
  assert.equal(report.accel, report.probe.ran && report.probe.ok ? 'kvm' : 'tcg');
  if (report.accel === 'tcg') assert.match(report.verdict, /KVM IS NOT USABLE/);
  else assert.match(report.verdict, /KVM works/);
  assert.ok(report.probe.detail.length > 0);
});

test('hostCheck() without /dev/kvm does not run the probe and says TCG', async () => {
  const report = await hostCheck({ paths: { devKvm: '/nonexistent/kvm' } });
  assert.deepEqual(report.devKvm, { exists: false, accessible: false });
  assert.equal(report.probe.ran, false);
  assert.equal(report.accel, 'tcg');
  assert.match(report.verdict, /\/dev\/kvm does not exist/);
});

test('hostCheck() with a missing QEMU reports it, naming the package', async () => {
  const report = await hostCheck({ qemuBinary: 'qemu-system-x86_64-not-installed' });
  assert.equal(report.qemu.version, null);
  assert.equal(report.probe.ran, false);
  assert.equal(report.accel, 'tcg');
  assert.match(report.verdict, /qemu-system-x86/);
});

test('`ardesia host check --json` exits 0 and prints a report', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [join(root, 'bin', 'ardesia.js'), 'host', 'check', '--json', '--probe-timeout', '5000']);
  const report = JSON.parse(stdout) as { accel: string; probe: { ran: boolean; ok: boolean } };
  assert.equal(report.accel, report.probe.ok ? 'kvm' : 'tcg');
});

test('a process killed while its probe runs leaves nothing in its temporary folder (QEMU reads the image as fd 3)', async () => {
  const work = mkdtempSync(join(tmpdir(), 'ardesia-probe-kill-'));
  try {
    const tmp = join(work, 'tmp');
    const seen = join(work, 'seen');
    // A stand-in for QEMU that keeps the probe running: it says how many bytes its fd 3 holds, then waits.
    const qemu = join(work, 'qemu-stand-in');
    writeFileSync(qemu, `#!/bin/sh\n[ "$1" = -L ] && exit 0\nwc -c < /proc/self/fd/3 > ${seen}.part && mv ${seen}.part ${seen}\nexec sleep 60\n`, { mode: 0o755 });
    mkdirSync(tmp);
    const module = pathToFileURL(fileURLToPath(new URL('../../src/hypervisor/host/probe-run.js', import.meta.url))).href;
    const child = spawn(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(module)}); await m.runProbe({ qemuBinary: ${JSON.stringify(qemu)}, accel: 'tcg', timeoutMs: 60000 });`], { env: { ...process.env, TMPDIR: tmp }, stdio: 'ignore' });
    await until('the stand-in QEMU read its fd 3', () => existsSync(seen) || undefined, 20_000, 50);
    assert.equal(Number(readFileSync(seen, 'utf8').trim()), buildProbeImage().length, 'fd 3 is the probe image');
    assert.deepEqual(readdirSync(tmp), [], 'nothing on disk while the probe runs');
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    assert.deepEqual(readdirSync(tmp), [], 'nothing left after the kill');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
