// The probe against real QEMU: under TCG it must reach its final marker (so the probe guest
// is correct), and hostCheck() on this machine must run it and decide consistently with it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { formatHostReport, hostCheck, PROBE_OK_MARKER, runProbe } from '../../src/hypervisor/host/index.js';
import { PROBE_STAGES } from '../../src/hypervisor/host/probe-image.js';

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
