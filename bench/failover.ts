// failover: the controller's own failover on one real PostgreSQL. Two `ardesia serve` (a leads, b stands by); a is
// killed (SIGKILL: power loss of the controller's process) or stopped (SIGTERM: it ends its lease on the way out), and
// the clock runs until b's /healthz answers 200 as leader. Each as a ratio against the lease it was configured with
// (the bound the design promises: a standby takes over after the lease expires, judged by the database's clock), at
// the default lease (15 s, renewed every 5 s) and a short one (2 s / 500 ms). Then host loss (bench/host-loss.ts): a host
// with USERS sessions loses power; the last user's new desktop on another host, against the sanlock lease expiry.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestDaemon } from '../test/helpers/daemon.js';
import { freePort, freshDatabase } from '../test/helpers/postgres.js';
import type { Benchmark, BenchResult, BenchRow } from './lib/benchmark.js';
import { verdictMax } from './lib/benchmark.js';
import { hostLossRun } from './host-loss.js';

/** Users in session on the host that loses power (issue 14: 10). */
const HOST_LOSS_USERS = 10;
/** Proxmox HA's recovery of a service, the anchor. */
const PROXMOX_HA_RECOVERY_MS = 120_000;

const RUNS = 3;
const POLL_MS = 25;
const LEASES = [
  { label: 'default lease 15 s / renew 5 s', leaseMs: 15_000, args: [] as string[] },
  { label: 'short lease 2 s / renew 500 ms', leaseMs: 2_000, args: ['--controller-lease', '2s', '--controller-renew', '500ms'] },
];

async function controller(database: string, name: string, args: string[]): Promise<{ daemon: TestDaemon; url: string }> {
  const port = await freePort();
  const daemon = new TestDaemon(mkdtempSync(join(tmpdir(), 'ardfo-')), ['--database', database, '--host-name', name, '--listen', `127.0.0.1:${port}`, ...args]);
  return { daemon, url: `http://127.0.0.1:${port}` };
}

/** ms from the signal to the standby's first healthy answer. */
async function oneFailover(args: string[], signal: 'SIGKILL' | 'SIGTERM', timeoutMs: number): Promise<number> {
  const database = await freshDatabase();
  const a = await controller(database, 'ctl-a', args);
  const b = await controller(database, 'ctl-b', args);
  try {
    await a.daemon.spawn();
    await b.daemon.spawn(undefined, 'standby controller: ctl-a leads');
    const t0 = performance.now();
    a.daemon.proc!.kill(signal);
    for (;;) {
      const status = await fetch(`${b.url}/healthz`).then((r) => r.status, () => 0);
      if (status === 200) return performance.now() - t0;
      if (performance.now() - t0 > timeoutMs) throw new Error(`the standby did not lead within ${timeoutMs} ms of ${signal}`);
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  } finally {
    await a.daemon.destroy();
    await b.daemon.destroy();
  }
}

function summary(label: string, values: number[], unit: BenchRow['unit']): BenchRow {
  const sorted = [...values].sort((x, y) => x - y);
  return { label, unit, n: values.length, median: sorted[Math.floor(sorted.length / 2)]!, min: sorted[0]!, max: sorted.at(-1)! };
}

export const failoverBenchmark: Benchmark = {
  name: 'failover',
  summary: `controller failover on PostgreSQL: the leader killed (and stopped) → the standby leads, ${RUNS} runs per lease, as a ratio to the lease; a host with ${HOST_LOSS_USERS} sessions loses power → the last user re-served`,
  async run(ctx): Promise<BenchResult> {
    const rows: BenchRow[] = [];
    const verdicts = [];
    const details: Record<string, unknown> = {};
    for (const lease of LEASES) {
      const killed: number[] = [];
      const stopped: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        killed.push(await oneFailover(lease.args, 'SIGKILL', lease.leaseMs * 4 + 30_000));
        stopped.push(await oneFailover(lease.args, 'SIGTERM', lease.leaseMs * 4 + 30_000));
        ctx.log(`failover ${lease.label}: run ${i + 1}: killed → leading ${Math.round(killed.at(-1)!)} ms, stopped → leading ${Math.round(stopped.at(-1)!)} ms`);
      }
      rows.push(summary(`${lease.label}: leader SIGKILLed → standby leads`, killed, 'ms'));
      rows.push(summary(`${lease.label}: leader SIGTERMed → standby leads`, stopped, 'ms'));
      const ratio = Math.max(...killed) / lease.leaseMs;
      rows.push(summary(`${lease.label}: slowest kill failover / lease`, [ratio], 'ratio'));
      // The design's bound: the lease, one standby poll and its start; twice the lease is the verdict's margin.
      verdicts.push(verdictMax(`${lease.label}: kill failover / lease`, ratio, 2));
      details[lease.label] = { leaseMs: lease.leaseMs, killedMs: killed, stoppedMs: stopped };
    }
    const loss = await hostLossRun(HOST_LOSS_USERS, ctx.log);
    const last = loss.reservedMs.at(-1)!;
    ctx.log(`host-loss: a1 judged down after ${Math.round(loss.lostMs)} ms; last of ${loss.users} users in session again after ${Math.round(last)} ms`);
    rows.push(summary(`host power loss → its desktops recorded lost (lease expiry ${loss.leaseExpiryS} s)`, [loss.lostMs], 'ms'));
    rows.push(summary(`host power loss → each of ${loss.users} users in session on another host`, loss.reservedMs, 'ms'));
    rows.push(summary('host power loss → last user in session / Proxmox HA recovery (120 s)', [last / PROXMOX_HA_RECOVERY_MS], 'ratio'));
    // sanlock's expiry is the floor; re-serving on top of it should stay within a minute.
    verdicts.push(verdictMax('host power loss → last user re-served, minus the lease expiry (s)', last / 1000 - loss.leaseExpiryS, 60));
    details.hostLoss = loss;
    return { name: 'failover', rows, verdicts, details };
  },
};
