// density: as many idle desktops of one image as fit with 1.5 GiB left free, per mode (booted or restored from the
// pool's template, each with KSM off and on). Desktops are added one at a time as warm spares of one pool; after each,
// MemAvailable decides whether it fitted. `--max-desktops N` bounds the run (this machine is shared: use a small N).
// Reported: desktops that fit, PSS per desktop (/proc/PID/smaps_rollup of each QEMU), the ratio to the booted mode.
import { readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KsmReport } from '../src/contract/hosts.js';
import type { PoolView } from '../src/contract/pools.js';
import { KSM_SYSFS_DIR, memAvailableBytes } from '../src/hypervisor/host/ksm.js';
import { qemuPidsUnder, TestDaemon, until } from '../test/helpers/daemon.js';
import { helperImage, untilDesktops } from '../test/pools/support.js';
import type { Benchmark, BenchResult, BenchRow } from './lib/benchmark.js';
import { type DensityFigures, type DensityMode, densityArgs, densityFigures, densityStep, guestRamPssBytes, pssBytes } from './lib/density-plan.js';

const POOL = 'dense';
const IMAGE = 'bb';
const MEMORY_MIB = 512;
/** Without a bound the run goes until the reserve: 24 GiB of TCG desktops on two shared cores is hours. */
const DEFAULT_MAX_DESKTOPS = 6;
const BOOT_TIMEOUT_MS = 10 * 60_000;
/** Idle time after the last desktop, the same in every mode (free page reporting and the guests settle). */
const SETTLE_MS = 30_000;
/** KSM modes: measured once ksmd has completed this many full scans after the last desktop came up. */
const KSM_FULL_SCANS = 2;
const KSM_SCANS_TIMEOUT_MS = 15 * 60_000;

const available = () => memAvailableBytes(readFileSync('/proc/meminfo', 'utf8')) ?? 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface ModeRun {
  figures: DensityFigures;
  pssBytes: number[];
  ksmSavedMiB: number;
  memAvailableMiB: number[];
  bootMs: number[];
  templateRamMiB: number;
}

async function runMode(mode: DensityMode, maxDesktops: number, log: (m: string) => void): Promise<ModeRun> {
  const daemon = await TestDaemon.start({ extraArgs: ['--boot-timeout', String(BOOT_TIMEOUT_MS / 1000)] });
  try {
    const host = (await daemon.api().request<Array<{ name: string; controller: boolean }>>('GET', '/v1/hosts')).find((h) => h.controller)!.name;
    await daemon.api().request<KsmReport>('PUT', `/v1/hosts/${host}/ksm`, { mode: mode.ksm });
    await helperImage(daemon, IMAGE);
    await daemon.api().request('POST', '/v1/pools', {
      name: POOL, image: IMAGE, warmSpares: 0, coldSpares: 0, minDesktops: 0, maxDesktops, memoryMiB: MEMORY_MIB, ...mode.poolFields,
    });
    if (mode.poolFields.startMode === 'restore') {
      // The template first (its one boot), so every desktop counted is a clone.
      await until('the pool\'s template', async () => {
        const p = await daemon.api().request<PoolView>('GET', `/v1/pools/${POOL}`);
        if (p.template?.state === 'failed') throw new Error(`the template failed: ${p.template.reason}`);
        return p.template?.state === 'ready' ? true : undefined;
      }, BOOT_TIMEOUT_MS, 1000);
    }
    const atStart = available();
    const memAvailableMiB: number[] = [];
    const bootMs: number[] = [];
    let stop: ReturnType<typeof densityStep> = { stop: false };
    for (let n = 1; !stop.stop; n++) {
      const t0 = performance.now();
      await daemon.api().request('PATCH', `/v1/pools/${POOL}`, { warmSpares: n });
      await untilDesktops(daemon, POOL, `${n} ready desktops`, (ds) => ds.filter((d) => d.state === 'ready').length >= n, BOOT_TIMEOUT_MS);
      bootMs.push(performance.now() - t0);
      const left = available();
      memAvailableMiB.push(left / 2 ** 20);
      stop = densityStep(n, left, maxDesktops);
      log(`density ${mode.name}: ${n} desktop(s) up in ${Math.round(bootMs.at(-1)! / 1000)} s, ${Math.round(left / 2 ** 20)} MiB available`);
    }
    await sleep(SETTLE_MS);
    if (mode.ksm === 'on') {
      const scans = (await daemon.api().request<KsmReport>('GET', `/v1/hosts/${host}/ksm`)).fullScans;
      await until(`${KSM_FULL_SCANS} KSM full scans`, async () => (await daemon.api().request<KsmReport>('GET', `/v1/hosts/${host}/ksm`)).fullScans >= scans + KSM_FULL_SCANS, KSM_SCANS_TIMEOUT_MS, 2000);
    }
    const pids = qemuPidsUnder(daemon.dataDir);
    const pss = pids.map((pid) => pssBytes(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8')));
    const ramPss = pids.map((pid) => guestRamPssBytes(readFileSync(`/proc/${pid}/smaps`, 'utf8'), MEMORY_MIB));
    const ksm = await daemon.api().request<KsmReport>('GET', `/v1/hosts/${host}/ksm`);
    if (!stop.stop) throw new Error('unreachable: the loop ends on a stop');
    return { figures: densityFigures(mode.name, stop, pss, ramPss, atStart), pssBytes: pss, ksmSavedMiB: ksm.savedBytes / 2 ** 20, memAvailableMiB, bootMs, templateRamMiB: templateRamBytes(daemon.proc?.pid) / 2 ** 20 };
  } finally {
    await daemon.destroy();
  }
}

/** The memory the daemon's template RAM memfds hold (native/ram-hold.c children: allocated blocks of the memfd). */
function templateRamBytes(daemonPid: number | undefined): number {
  let bytes = 0;
  for (const entry of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const [, comm, rest] = /^\d+ \((.*)\) (.*)$/s.exec(stat) ?? [];
      if (comm !== 'ram-hold' || Number(rest?.split(' ')[1]) !== daemonPid) continue;
      for (const fd of readdirSync(`/proc/${entry}/fd`)) {
        if (readlinkSync(`/proc/${entry}/fd/${fd}`).startsWith('/memfd:')) bytes += statSync(`/proc/${entry}/fd/${fd}`).blocks * 512;
      }
    } catch {
      // a process that ended meanwhile
    }
  }
  return bytes;
}

/** The machine's KSM settings, put back after the run whatever happened. */
function ksmSnapshot(): () => void {
  const files = ['pages_to_scan', 'sleep_millisecs', 'run'] as const;
  const saved = files.map((f) => [f, readFileSync(join(KSM_SYSFS_DIR, f), 'utf8').trim()] as const);
  return () => {
    for (const [f, v] of saved) if (!(f === 'run' && v === '2')) writeFileSync(join(KSM_SYSFS_DIR, f), v);
  };
}

function modeRows(r: ModeRun): BenchRow[] {
  const f = r.figures;
  const one = (label: string, value: number, unit: BenchRow['unit']): BenchRow => ({ label, unit, n: 1, median: value, min: value, max: value });
  return [
    one(`${f.mode}: desktops that fit (stopped by ${f.stoppedBy === 'bound' ? '--max-desktops' : 'the 1.5 GiB reserve'})`, f.fit, 'count'),
    { label: `${f.mode}: PSS per desktop`, unit: 'MiB', n: f.pssPerDesktopMiB.n, median: f.pssPerDesktopMiB.median, min: f.pssPerDesktopMiB.min, max: f.pssPerDesktopMiB.max },
    one(`${f.mode}: of which the guest's RAM (median)`, f.guestRamPssPerDesktopMiB.median, 'MiB'),
    one(`${f.mode}: desktops projected to fit at that PSS`, f.projectedFit, 'count'),
    one(`${f.mode}: KSM saved on the host`, r.ksmSavedMiB, 'MiB'),
    ...(r.templateRamMiB > 0 ? [one(`${f.mode}: the template's RAM memfd (once for all its clones)`, r.templateRamMiB, 'MiB')] : []),
  ];
}

export const densityBenchmark: Benchmark = {
  name: 'density',
  summary: `idle desktops of one image until 1.5 GiB is left (or --max-desktops, default ${DEFAULT_MAX_DESKTOPS}), per mode (--modes booted,booted+ksm,restored,restored+ksm): desktops that fit, PSS per desktop`,
  async run(ctx): Promise<BenchResult> {
    const { maxDesktops, modes } = densityArgs(process.argv, { maxDesktops: DEFAULT_MAX_DESKTOPS });
    const restore = ksmSnapshot();
    const runs: ModeRun[] = [];
    try {
      for (const mode of modes) runs.push(await runMode(mode, maxDesktops, ctx.log));
    } finally {
      restore();
    }
    const rows = runs.flatMap(modeRows);
    const baseline = runs.find((r) => r.figures.mode === 'booted');
    if (baseline) {
      for (const r of runs.filter((x) => x !== baseline)) {
        const ratio = r.figures.pssPerDesktopMiB.mean / baseline.figures.pssPerDesktopMiB.mean;
        rows.push({ label: `ratio PSS per desktop ${r.figures.mode} / booted (means, same run)`, unit: 'ratio', n: 1, median: ratio, min: ratio, max: ratio });
      }
    }
    return {
      name: 'density',
      rows,
      verdicts: [],
      details: { maxDesktops, memoryMiB: MEMORY_MIB, settleMs: SETTLE_MS, ksmFullScans: KSM_FULL_SCANS, modes: modes.map((m) => m.name), runs },
    };
  },
};
