// Resetting linked clones (a non-persistent desktop after logoff): the median time for one, and
// 100 clones resetting at once.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createLinkedClone, resetLinkedClone } from '../src/storage/index.js';
import type { BenchResult } from './storage-clones.js';

const SINGLE_RUNS = 100;
const CONCURRENT = 100;
const DIRTY = 'write -P 0x5a 0 4M'; // each clone has guest writes to throw away

const ms = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e6;
const round = (n: number): number => Math.round(n * 100) / 100;

export async function run(): Promise<BenchResult> {
  const dir = mkdtempSync('/tmp/br-');
  try {
    const base = join(dir, 'base.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', base, '20G']);
    const one = join(dir, 'one.qcow2');
    await createLinkedClone({ base, overlay: one });
    execFileSync('qemu-io', ['-f', 'qcow2', '-c', DIRTY, one]);
    const times: number[] = [];
    for (let i = 0; i < SINGLE_RUNS; i++) {
      const start = process.hrtime.bigint();
      await resetLinkedClone(one, base);
      times.push(ms(start));
    }
    times.sort((a, b) => a - b);
    const overlays = Array.from({ length: CONCURRENT }, (_, i) => join(dir, `d${i}.qcow2`));
    for (const overlay of overlays) {
      await createLinkedClone({ base, overlay });
      execFileSync('qemu-io', ['-f', 'qcow2', '-c', DIRTY, overlay]);
    }
    const start = process.hrtime.bigint();
    await Promise.all(overlays.map((overlay) => resetLinkedClone(overlay, base)));
    const allMs = ms(start);
    return {
      name: 'storage-reset',
      rows: [
        { case: `one clone, ${SINGLE_RUNS} resets`, median_ms: round(times[Math.floor(times.length / 2)] ?? 0), p95_ms: round(times[Math.floor(times.length * 0.95)] ?? 0), total_ms: round(times.reduce((a, b) => a + b, 0)) },
        { case: `${CONCURRENT} clones resetting at once`, median_ms: '', p95_ms: '', total_ms: round(allMs) },
      ],
      notes: ['each overlay held 4 MiB of guest writes before the reset; reset = fresh overlay written to a temp file (fdatasync) + rename over the old one.'],
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1]?.endsWith('storage-reset.js')) console.log(JSON.stringify(await run(), null, 2));
