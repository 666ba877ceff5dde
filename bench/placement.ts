// Placement (src/cluster/placement.ts, pure) at cluster scale: 10,000 desktops of 100 pools placed one after the
// other on 1,000 hosts (mixed sizes, some labelled, 5 % draining), each decision seeing the loads the previous ones
// left; time per decision. Also the refusal path (a pool needing a label no host has) and the store-snapshot step
// (hostLoadsOf: rows → loads) that runs before each decision in the daemon.
import { type HostLoad, placeDesktop, type PlacementNeed } from '../src/cluster/placement.js';
import type { TableResult } from './lib/table-benchmark.js';

const HOSTS = 1_000;
const DESKTOPS = 10_000;
const POOLS = 100;

const ms = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e6;
const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const us = (x: number): number => Math.round(x * 1000 * 10) / 10;

function hosts(): HostLoad[] {
  return Array.from({ length: HOSTS }, (_, i) => ({
    name: `h${String(i).padStart(4, '0')}`,
    state: i % 20 === 7 ? 'draining' : 'up',
    labels: i % 10 === 0 ? ['ssd', `rack=${i % 4}`] : [`rack=${i % 4}`],
    memoryMiB: [65536, 131072, 262144][i % 3]!,
    vcpus: [16, 32, 64][i % 3]!,
    memoryOvercommit: 1.5,
    cpuOvercommit: 16,
    usedMiB: 0,
    usedVcpus: 0,
    poolDesktops: {},
  }));
}

function needOf(i: number): PlacementNeed {
  const pool = i % POOLS;
  return { memoryMiB: pool % 5 === 0 ? 4096 : 2048, vcpus: pool % 5 === 0 ? 4 : 2, pool: `pool${pool}`, requireLabels: pool % 25 === 0 ? ['ssd'] : [], avoidLabels: pool % 25 === 1 ? ['rack=3'] : [] };
}

export async function run(): Promise<TableResult> {
  const loads = hosts();
  const byName = new Map(loads.map((h) => [h.name, h]));
  const times: number[] = [];
  let refused = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < DESKTOPS; i++) {
    const need = needOf(i);
    const t = process.hrtime.bigint();
    const p = placeDesktop(loads, need);
    times.push(ms(t));
    if (p.kind === 'refuse') {
      refused++;
      continue;
    }
    const h = byName.get(p.host)!;
    h.usedMiB += need.memoryMiB;
    h.usedVcpus += need.vcpus;
    (h.poolDesktops as Record<string, number>)[need.pool!] = (h.poolDesktops[need.pool!] ?? 0) + 1;
  }
  const total = ms(t0);
  times.sort((a, b) => a - b);
  const spread = Math.max(...loads.filter((h) => h.state === 'up').map((h) => h.poolDesktops['pool1'] ?? 0));

  const refusals: number[] = [];
  for (let i = 0; i < 200; i++) {
    const t = process.hrtime.bigint();
    placeDesktop(loads, { memoryMiB: 2048, vcpus: 2, pool: 'gpu', requireLabels: ['gpu'] });
    refusals.push(ms(t));
  }
  refusals.sort((a, b) => a - b);
  return {
    name: 'placement',
    rows: [
      { case: `${DESKTOPS} desktops of ${POOLS} pools onto ${HOSTS} hosts, one by one`, n: DESKTOPS, p50_us: us(pct(times, 50)), p99_us: us(pct(times, 99)), mean_us: us(total / DESKTOPS), refused, most_of_one_pool_on_a_host: spread },
      { case: `refusal naming all ${HOSTS} hosts (label no host has)`, n: refusals.length, p50_us: us(pct(refusals, 50)), p99_us: us(pct(refusals, 99)), mean_us: us(refusals.reduce((a, b) => a + b, 0) / refusals.length), refused: refusals.length, most_of_one_pool_on_a_host: '-' },
    ],
    notes: ['pure function only: the daemon adds one store snapshot (3 queries) per decision', 'hosts: 64/128/256 GiB with 16/32/64 CPUs, overcommit 1.5 memory and 16 vCPUs; every 20th draining; every 10th labelled ssd'],
  };
}
