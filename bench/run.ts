// `npm run bench [-- NAME…]`: runs the benchmarks (all, or those named), prints a table per
// benchmark and writes .cache/bench/<name>-<date>.json. Figures go to docs/benchmarks.md by hand.
//
// How to add a benchmark:
//   1. Write bench/<name>.ts exporting a `Benchmark` (bench/lib/benchmark.ts): `run(ctx)` measures
//      and returns rows (label, unit, n/median/min/max via `summarize`) and verdicts (`verdictMax`).
//   2. Measure a RATIO against a baseline taken in the same run, alternated with it
//      (`alternatedOrder`, `pairedRatios` in bench/lib/stats.ts), so drift on a shared host cancels.
//   3. Clean up everything it starts (daemons, QEMU, temp files) in a `finally`, even on failure.
//   4. Add it to BENCHMARKS below, run `npm run bench -- <name>`, and add a section to
//      docs/benchmarks.md: what is measured, the baseline, the command, the figures with the machine.
//   Speed is reported here, never asserted in tests; a missed target is printed as MISSED.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../test/helpers/daemon.js';
import { guestArtifacts } from '../test/helpers/guests.js';
import { daemonMemoryBenchmark } from './daemon-memory.js';
import type { Benchmark } from './lib/benchmark.js';
import { machineFacts } from './lib/host.js';
import { formatResult, resultFileName, resultRecord } from './lib/report.js';
import { vmStartBenchmark } from './vm-start.js';
import { tableBenchmark } from './lib/table-benchmark.js';
import { run as storageClones } from './storage-clones.js';
import { run as storageReset } from './storage-reset.js';
import { run as netbootTftp } from './netboot-tftp.js';
import { run as displayGateway } from './display-gateway.js';
import { run as displayGatewayHop } from './display-gateway-hop.js';
import { run as imageCopy } from './image-copy.js';
import { run as stateMove } from './state-move.js';
import { poolLoginStormBenchmark } from './login-storm.js';
import { poolColdPathBenchmark } from './pool-cold-path.js';
import { poolInstantBenchmark } from './pool-instant.js';
import { loginScreenBenchmark } from './login-screen.js';
import { thinClientBootBenchmark } from './thinclient-boot.js';
import { run as storeLists } from './store-lists.js';
import { run as placement } from './placement.js';
import { run as templateRam } from './template-ram.js';
import { densityBenchmark } from './density.js';
import { failoverBenchmark } from './failover.js';
import { loginRemoteBenchmark } from './login-remote.js';
import { desktopMigrationBenchmark } from './desktop-migration.js';

const BENCHMARKS: readonly Benchmark[] = [
  vmStartBenchmark,
  daemonMemoryBenchmark,
  tableBenchmark('storage-clones', '1000 linked clones vs a bash loop of qemu-img create', storageClones),
  tableBenchmark('storage-reset', 'reset (destroy + re-clone) of one desktop disk, and of 100 at once', storageReset),
  tableBenchmark('netboot-tftp', '30 MiB with blksize 1468 to 10 clients at once, vs dnsmasq TFTP', netbootTftp),
  tableBenchmark('display-gateway', '256 MiB VNC-socket stream and 64-byte echoes through the display pipe, vs websockify', displayGateway),
  tableBenchmark('display-gateway-hop', 'the same stream through one agent hop (controller + agent), vs the single host', displayGatewayHop),
  tableBenchmark('image-copy', 'a 256 MiB image version copied to a host without shared storage, vs curl from openssl s_server', imageCopy),
  tableBenchmark('state-move', "a 256 MiB saved state moved to the host its start was placed on, vs curl from openssl s_server", stateMove),
  poolLoginStormBenchmark,
  poolColdPathBenchmark,
  poolInstantBenchmark,
  loginScreenBenchmark,
  thinClientBootBenchmark,
  tableBenchmark('store-lists', 'the API lists at 10,000 desktops and 1,000 users, 50 readers, store queries and through a daemon\'s HTTP API: SQLite vs PostgreSQL', storeLists),
  tableBenchmark('placement', 'placement of 10,000 desktops on 1,000 hosts (pure): time per decision', placement),
  tableBenchmark('template-ram', "a restore template's RAM after a restart: held again from a running clone vs loaded again from ram.bin", templateRam),
  densityBenchmark,
  failoverBenchmark,
  loginRemoteBenchmark,
  desktopMigrationBenchmark,
];

class UnknownBenchmarkError extends Error {
  constructor(names: string[]) {
    super(`no benchmark named ${names.join(', ')}; known: ${BENCHMARKS.map((b) => b.name).join(', ')}`);
    this.name = 'UnknownBenchmarkError';
  }
}

function selected(argv: string[]): Benchmark[] {
  // Options (`--users 8`) belong to the benchmarks that read them; only the other words are names.
  const args = argv.filter((a, i) => !a.startsWith('--') && !argv[i - 1]?.startsWith('--'));
  if (args.length === 0) return [...BENCHMARKS];
  const unknown = args.filter((a) => !BENCHMARKS.some((b) => b.name === a));
  if (unknown.length) throw new UnknownBenchmarkError(unknown);
  return BENCHMARKS.filter((b) => args.includes(b.name));
}

async function main(): Promise<number> {
  const benchmarks = selected(process.argv.slice(2));
  const guests = guestArtifacts();
  const outDir = join(REPO_ROOT, '.cache', 'bench');
  mkdirSync(outDir, { recursive: true });
  let failed = 0;
  for (const bench of benchmarks) {
    const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);
    log(`${bench.name}: ${bench.summary}`);
    const startedAt = new Date();
    const machineBefore = machineFacts();
    try {
      const result = await bench.run({ guests, log });
      const machine = { ...machineBefore, loadAverage1mAfter: machineFacts().loadAverage1m, accel: 'tcg' };
      const file = join(outDir, resultFileName(bench.name, startedAt));
      writeFileSync(file, `${JSON.stringify(resultRecord(result, machine, startedAt, new Date()), null, 2)}\n`);
      process.stdout.write(`${formatResult(result)}\nresults: ${file}\n\n`);
    } catch (err) {
      failed++;
      process.stderr.write(`[bench] ${bench.name} failed: ${(err as Error).stack ?? String(err)}\n`);
    }
  }
  return failed === 0 ? 0 : 1;
}

try {
  process.exitCode = await main();
} catch (err) {
  // Set-up problems (an unknown name, missing test guests) are one line, not a stack.
  process.stderr.write(`bench: ${(err as Error).message}\n`);
  process.exitCode = 2;
}
