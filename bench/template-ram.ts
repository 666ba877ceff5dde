// A restore template's RAM after a restart (src/hypervisor/saved-state/ram-adopt.ts): held again from a running
// clone's QEMU (sealed memfd, its bytes hashed against the manifest) vs loaded again from ram.bin into a new memfd (the
// baseline, what a restart did before). Alternated rounds on a 512 MiB RAM of non-zero bytes (ram.bin in the page
// cache, as on a host that loaded it once); time to a held memfd, and the host memory (Shmem) each way adds.
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { templateRamHold } from '../src/hypervisor/saved-state/ram-adopt.js';
import { RAM_HOLD_PATH, RamHold } from '../src/hypervisor/saved-state/shared-ram.js';
import type { TableResult } from './lib/table-benchmark.js';
import { alternatedOrder, pairedRatios, summarize } from './lib/stats.js';

const BYTES = 512 * 1024 * 1024;
const ROUNDS = 5;

const shmemKiB = (): number => Number(/^Shmem:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'))![1]);
const round1 = (x: number): number => Math.round(x * 10) / 10;

export async function run(): Promise<TableResult> {
  const dir = mkdtempSync(join(tmpdir(), 'ard-bench-ram-'));
  let clone: ChildProcess | undefined;
  try {
    const block = randomBytes(1 << 20);
    const hash = createHash('sha256');
    const ramFile = join(dir, 'ram.bin');
    writeFileSync(ramFile, '');
    for (let i = 0; i < BYTES / block.length; i++) {
      block.writeUInt32LE(i, 0); // no two blocks alike, none all-zero
      writeFileSync(ramFile, block, { flag: 'a' });
      hash.update(block);
    }
    const ram = { bytes: BYTES, sha256: hash.digest('hex') };
    // The running clone: ram-hold under QEMU's name holding the template's memfd, as a clone's QEMU maps it.
    const qemuNamed = join(dir, 'qemu-system-x86_64');
    copyFileSync(RAM_HOLD_PATH, qemuNamed);
    clone = spawn(qemuNamed, ['load', ramFile], { stdio: ['pipe', 'pipe', 'inherit'] });
    await new Promise((resolve) => clone!.stdout!.once('data', resolve));
    const times: Record<'load' | 'adopt', number[]> = { load: [], adopt: [] };
    const added: Record<'load' | 'adopt', number[]> = { load: [], adopt: [] };
    for (const { side } of alternatedOrder(['load', 'adopt'] as const, ROUNDS)) {
      const before = shmemKiB();
      const t = process.hrtime.bigint();
      const hold = side === 'load' ? await RamHold.load(ramFile, BYTES) : (await templateRamHold(ramFile, ram)).hold;
      times[side].push(Number(process.hrtime.bigint() - t) / 1e6);
      added[side].push((shmemKiB() - before) / 1024);
      hold.close();
      await new Promise((resolve) => setTimeout(resolve, 200)); // the holder gone, its memfd freed
    }
    const row = (side: 'load' | 'adopt', what: string) => {
      const s = summarize(times[side]);
      return { case: what, n: s.n, median_ms: round1(s.median), min_ms: round1(s.min), max_ms: round1(s.max), host_memory_added_MiB: Math.round(summarize(added[side]).median) };
    };
    const ratio = summarize(pairedRatios(times.adopt, times.load));
    return {
      name: 'template-ram',
      rows: [
        row('load', 'baseline: ram.bin loaded into a new memfd (sealed)'),
        row('adopt', "held again from a running clone's memfd (seals checked, bytes hashed)"),
        { case: 'ratio held again / loaded, paired rounds (the _ms columns are ratios here)', n: ratio.n, median_ms: Math.round(ratio.median * 100) / 100, min_ms: Math.round(ratio.min * 100) / 100, max_ms: Math.round(ratio.max * 100) / 100, host_memory_added_MiB: '-' },
      ],
      notes: [`${BYTES / 2 ** 20} MiB of RAM, no all-zero block; ram.bin in the page cache`, 'host_memory_added: Shmem growth in /proc/meminfo while the hold lives (the clone keeps the first memfd throughout)'],
    };
  } finally {
    clone?.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}
