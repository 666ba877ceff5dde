// vm-start: `ardesia vm start` to the guest's banner, against the same QEMU command line started
// by hand — alternated raw, CLI, API in each round so drift on this shared machine cancels out.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { VmSpec } from '../src/contract/vm.js';
import { CLI, REPO_ROOT, TestDaemon } from '../test/helpers/daemon.js';
import type { GuestArtifacts } from '../test/helpers/guests.js';
import { apiBoot, cliBoot, forceStop } from './lib/ardesia-boot.js';
import type { Benchmark, BenchContext, BenchResult, BenchRow } from './lib/benchmark.js';
import { verdictMax } from './lib/benchmark.js';
import { rawQemuBoot } from './lib/raw-qemu.js';
import { alternatedOrder, median, pairedRatios, summarize } from './lib/stats.js';

const ROUNDS = 7;
const WARM_UP_ROUND = ROUNDS; // numbered past the counted rounds: its own VM names and files
const MEMORY_MIB = 128;
const KERNEL_CMDLINE = 'console=ttyS0 root=/dev/vda rw quiet';
export const VM_START_TARGET_RATIO = 1.1;

type Side = 'raw' | 'cli' | 'api';

function overlayOn(base: string, path: string): string {
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', base, path]);
  return path;
}

/** What `ardesia vm start -m … -b … --initrd … --append … -d … --accel tcg` sends as its ad hoc spec. */
function adHocFor(g: GuestArtifacts, disk: string): Record<string, unknown> {
  return {
    memoryMiB: MEMORY_MIB, accel: 'tcg', disks: [{ path: disk, format: 'qcow2' }],
    boot: { kernel: g.amd64.kernel, initrd: g.amd64.initrd, cmdline: KERNEL_CMDLINE },
  };
}

/** The spec the raw side boots: the daemon parses the same ad hoc body with the same schema. */
function specFor(name: string, g: GuestArtifacts, disk: string): VmSpec {
  return VmSpec.parse({ ...adHocFor(g, disk), name });
}

function cliFlags(g: GuestArtifacts, disk: string): string[] {
  return ['-m', `${MEMORY_MIB}M`, '-b', g.amd64.kernel, '--initrd', g.amd64.initrd, '--append', KERNEL_CMDLINE, '-d', disk, '--accel', 'tcg'];
}

/** argv with the per-run names and paths replaced, so two launches can be compared. */
export function normalizedArgv(argv: readonly string[], replacements: ReadonlyArray<[string, string]>): string[] {
  return argv.map((arg) => replacements.reduce((text, [from, to]) => text.split(from).join(to), arg));
}

/** node args that import one compiled module of the CLI and exit. */
function importOnly(moduleInDist: string): string[] {
  return ['--input-type=module', '-e', `await import(${JSON.stringify(pathToFileURL(join(REPO_ROOT, 'dist', moduleInDist)).href)})`];
}

function timeProcess(args: string[]): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { stdio: 'ignore' });
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}`);
  return performance.now() - t0;
}

interface Samples {
  total: Record<Side, number[]>;
  started: Record<'cli' | 'api', number[]>;
  attached: Record<'cli' | 'api', number[]>;
  raw: { launcherExited: number[]; qmpReady: number[]; serialConnected: number[]; contAcked: number[]; contToBanner: number[] };
  nodeBare: number[];
  cliHelp: number[];
  cliStatus: number[];
  importVmCommands: number[];
  importServe: number[];
  bannerInReplay: number;
}

function emptySamples(): Samples {
  return {
    total: { raw: [], cli: [], api: [] },
    started: { cli: [], api: [] },
    attached: { cli: [], api: [] },
    raw: { launcherExited: [], qmpReady: [], serialConnected: [], contAcked: [], contToBanner: [] },
    nodeBare: [], cliHelp: [], cliStatus: [], importVmCommands: [], importServe: [], bannerInReplay: 0,
  };
}

async function runOne(side: Side, round: number, ctx: BenchContext, daemon: TestDaemon, tmp: string, s: Samples, argvs: Map<Side, string[]>): Promise<void> {
  const g = ctx.guests;
  const name = `vs-${side}-${round}`;
  const disk = overlayOn(g.amd64.rootQcow2, join(tmp, `${name}.qcow2`));
  try {
    if (side === 'raw') {
      const dir = join(tmp, name);
      mkdirSync(dir);
      const vm = await rawQemuBoot(specFor(name, g, disk), dir, g.amd64.banner);
      await vm.stop();
      rmSync(dir, { recursive: true, force: true });
      const t = vm.timing;
      s.total.raw.push(t.bannerMs);
      s.raw.launcherExited.push(t.launcherExitedMs);
      s.raw.qmpReady.push(t.qmpReadyMs);
      s.raw.serialConnected.push(t.serialConnectedMs);
      s.raw.contAcked.push(t.contAckedMs);
      s.raw.contToBanner.push(t.bannerMs - t.contAckedMs);
      if (!argvs.has('raw')) argvs.set('raw', normalizedArgv(vm.argv, [[disk, '<DISK>'], [join(dir, 'qemu.log'), '<LOG>'], [dir, '<RUNTIME>'], [name, '<NAME>']]));
    } else {
      const vm = side === 'cli' ? await cliBoot(daemon, name, cliFlags(g, disk), g.amd64.banner) : await apiBoot(daemon, name, adHocFor(g, disk), g.amd64.banner);
      await forceStop(daemon.api(), name, vm.pid);
      s.total[side].push(vm.timing.bannerMs);
      s.started[side].push(vm.timing.startedMs);
      s.attached[side].push(vm.timing.consoleAttachedMs);
      if (vm.timing.bannerInReplay) s.bannerInReplay++;
      const rt = join(daemon.dataDir, 'runtime', name);
      const log = join(daemon.dataDir, 'logs', name, 'qemu.log');
      if (!argvs.has(side)) argvs.set(side, normalizedArgv(vm.argv, [[disk, '<DISK>'], [log, '<LOG>'], [rt, '<RUNTIME>'], [name, '<NAME>']]));
    }
    ctx.log(`vm-start ${round < ROUNDS ? `round ${round + 1}/${ROUNDS}` : 'warm-up'} ${side}: banner after ${Math.round(s.total[side].at(-1)!)} ms`);
  } finally {
    rmSync(disk, { force: true });
  }
}

function row(label: string, values: number[], unit: BenchRow['unit'] = 'ms'): BenchRow {
  return { label, unit, ...summarize(values) };
}

function resultOf(s: Samples, argvs: Map<Side, string[]>): BenchResult {
  const cliRatios = pairedRatios(s.total.cli, s.total.raw);
  const apiRatios = pairedRatios(s.total.api, s.total.raw);
  const rows = [
    row('raw QEMU: spawn → banner (baseline)', s.total.raw),
    row('ardesia vm start (CLI): spawn → banner', s.total.cli),
    row('API POST /start: request → banner', s.total.api),
    row('ratio CLI / raw (paired per round)', cliRatios, 'ratio'),
    row('ratio API / raw (paired per round)', apiRatios, 'ratio'),
    row('raw: spawn → QMP socket made', s.raw.launcherExited),
    row('raw: spawn → QMP capabilities done', s.raw.qmpReady),
    row('raw: spawn → cont acknowledged', s.raw.contAcked),
    row('raw: cont → banner (guest boot)', s.raw.contToBanner),
    row('CLI: spawn → CLI exited (VM running)', s.started.cli),
    row('API: request → response (VM running)', s.started.api),
    row('CLI: spawn → console WebSocket open', s.attached.cli),
    row('node alone: `node -e 0`', s.nodeBare),
    row('CLI start-up: `ardesia --help`', s.cliHelp),
    row('CLI + one request: `ardesia vm status`', s.cliStatus),
    row('node + import of the `vm` commands alone', s.importVmCommands),
    row('node + import of `serve` (daemon, API, store) alone', s.importServe),
  ];
  const same = (a?: string[], b?: string[]) => a !== undefined && b !== undefined && JSON.stringify(a) === JSON.stringify(b);
  return {
    name: 'vm-start',
    rows,
    verdicts: [
      verdictMax('median ratio `ardesia vm start` / raw QEMU', median(cliRatios), VM_START_TARGET_RATIO),
      verdictMax('median ratio API start / raw QEMU (context)', median(apiRatios), VM_START_TARGET_RATIO),
    ],
    details: {
      rounds: ROUNDS, memoryMiB: MEMORY_MIB, accel: 'tcg', samples: s,
      ratioOfMedians: { cli: median(s.total.cli) / median(s.total.raw), api: median(s.total.api) / median(s.total.raw) },
      argvIdentical: { cliVsRaw: same(argvs.get('cli'), argvs.get('raw')), apiVsRaw: same(argvs.get('api'), argvs.get('raw')) },
      argv: Object.fromEntries(argvs),
    },
  };
}

export const vmStartBenchmark: Benchmark = {
  name: 'vm-start',
  summary: `ardesia vm start → banner vs the same QEMU argv by hand, ${ROUNDS} alternated rounds`,
  async run(ctx) {
    const tmp = mkdtempSync(join(tmpdir(), 'avs-'));
    const daemon = await TestDaemon.start();
    try {
      // Warm-up, not counted: the daemon's first start waits for its host probe; page cache fills.
      const argvs = new Map<Side, string[]>();
      const warm = emptySamples();
      for (const side of ['raw', 'api'] as const) await runOne(side, WARM_UP_ROUND, ctx, daemon, tmp, warm, new Map());
      const s = emptySamples();
      for (const { round, side } of alternatedOrder<Side>(['raw', 'cli', 'api'], ROUNDS)) {
        await runOne(side, round, ctx, daemon, tmp, s, argvs);
        if (side === 'api') {
          s.nodeBare.push(timeProcess(['-e', '0']));
          s.cliHelp.push(timeProcess([CLI, '--help']));
          s.cliStatus.push(timeProcess([CLI, '--data-dir', daemon.dataDir, 'vm', 'status']));
          // Which part of the CLI's start-up is module loading, and of which modules.
          s.importVmCommands.push(timeProcess(importOnly('src/cli/commands/vm.js')));
          s.importServe.push(timeProcess(importOnly('src/cli/commands/serve.js')));
        }
      }
      return resultOf(s, argvs);
    } finally {
      await daemon.destroy();
      rmSync(tmp, { recursive: true, force: true });
    }
  },
};
