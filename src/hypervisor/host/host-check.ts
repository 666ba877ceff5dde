// `ardesia host check`: gathers the CPU facts, /dev/kvm, QEMU and the probe into a HostReport.
// The thin I/O shell around cpu.ts, probe-run.ts and verdict.ts.
import { constants } from 'node:fs';
import { access, readFile, stat } from 'node:fs/promises';
import { KVM_MODULES, type KvmModule, parseCpuInfo, parseNestedParameter } from './cpu.js';
import { DEFAULT_PROBE_TIMEOUT_MS, runProbe } from './probe-run.js';
import { DEFAULT_QEMU_BINARY, QemuMissingError, qemuVersion } from './qemu-info.js';
import { buildVerdict, type HostReport } from './verdict.js';

export interface HostCheckOptions {
  probeTimeoutMs?: number;
  qemuBinary?: string;
  /** For tests: where /proc, /sys and /dev are read from (default the real ones). */
  paths?: { cpuinfo?: string; sysModule?: string; devKvm?: string };
}

const readText = (path: string) => readFile(path, 'utf8').catch(() => null);

async function loadedKvmModules(sysModule: string): Promise<KvmModule[]> {
  const names = Object.keys(KVM_MODULES) as KvmModule[];
  const present = await Promise.all(names.map((name) => stat(`${sysModule}/${name}`).then(() => true, () => false)));
  return names.filter((_, index) => present[index]);
}

async function nestedVirtualization(sysModule: string): Promise<boolean | null> {
  for (const module of ['kvm_intel', 'kvm_amd']) {
    const nested = parseNestedParameter(await readText(`${sysModule}/${module}/parameters/nested`));
    if (nested !== null) return nested;
  }
  return null;
}

async function devKvmState(path: string): Promise<HostReport['devKvm']> {
  const exists = await stat(path).then(() => true, () => false);
  if (!exists) return { exists, accessible: false };
  try {
    await access(path, constants.R_OK | constants.W_OK);
    return { exists, accessible: true };
  } catch (err) {
    return { exists, accessible: false, error: (err as NodeJS.ErrnoException).code ?? String(err) };
  }
}

async function safeQemuVersion(binary: string): Promise<string | null> {
  try {
    return (await qemuVersion(binary)) ?? 'unknown version';
  } catch (err) {
    if (err instanceof QemuMissingError) return null;
    throw err;
  }
}

async function probeKvm(report: Pick<HostReport, 'devKvm' | 'qemu'>, timeoutMs: number): Promise<HostReport['probe']> {
  if (report.qemu.version === null) return { ran: false, ok: false, detail: `${report.qemu.binary} is not installed`, ms: 0 };
  if (!report.devKvm.exists) return { ran: false, ok: false, detail: '/dev/kvm does not exist', ms: 0 };
  if (!report.devKvm.accessible) return { ran: false, ok: false, detail: '/dev/kvm is not read-writable', ms: 0 };
  const result = await runProbe({ qemuBinary: report.qemu.binary, accel: 'kvm', timeoutMs });
  return { ran: true, ok: result.ok, detail: result.detail, ms: result.ms };
}

/** Checks this host; decides KVM only when a real guest ran under it. */
export async function hostCheck(opts: HostCheckOptions = {}): Promise<HostReport> {
  const sysModule = opts.paths?.sysModule ?? '/sys/module';
  const binary = opts.qemuBinary ?? DEFAULT_QEMU_BINARY;
  const [cpuinfo, nested, kvmModules, devKvm, version] = await Promise.all([
    readText(opts.paths?.cpuinfo ?? '/proc/cpuinfo'),
    nestedVirtualization(sysModule),
    loadedKvmModules(sysModule),
    devKvmState(opts.paths?.devKvm ?? '/dev/kvm'),
    safeQemuVersion(binary),
  ]);
  const { vendorId: _vendorId, ...cpu } = parseCpuInfo(cpuinfo ?? '');
  const qemu = { binary, version };
  const probe = await probeKvm({ devKvm, qemu }, opts.probeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS);
  const partial = { cpu, nested, kvmModules, devKvm, probe, qemu, accel: probe.ok ? ('kvm' as const) : ('tcg' as const) };
  return { ...partial, verdict: buildVerdict(partial) };
}
