// The kill -9 battery: a seeded script of mixed operations against a real daemon with real QEMU guests; the
// daemon is SIGKILLed while operations run, restarted, left to settle, and checked by findViolations.
// Used by test/chaos/chaos.test.ts (a short run in npm test) and by `npm run chaos` (run.ts, 200 operations).
import { copyFileSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { ApiClient } from '../../src/cli/client.js';
import { ArdesiaError } from '../../src/contract/errors.js';
import type { DesktopView, PoolView } from '../../src/contract/pools.js';
import { TestDaemon, until } from '../helpers/daemon.js';
import { guestArtifacts } from '../helpers/guests.js';
import { helperImage, userClient } from '../pools/support.js';
import { findViolations, TRANSIENT_STATES, type Violation } from './invariants.js';
import { type ChaosStep, planChaos } from './plan.js';
import { takeSnapshot } from './snapshot.js';

export interface BatteryOptions {
  seed: number;
  operations: number;
  /** On average one kill every this many operations. */
  killEvery: number;
  users?: number;
  log?: (line: string) => void;
}

export interface BatteryReport {
  seed: number;
  operations: number;
  kills: number;
  checks: number;
  /** Operations that ended with a registry refusal (a desktop in the wrong state …): expected in a random script. */
  refused: Record<string, number>;
  /** Operations cut by a kill. */
  cut: number;
  violations: Array<Violation & { afterStep: number }>;
  /** Failures that are findings too: INTERNAL errors, operations that never answered, a pool that never settled. */
  findings: string[];
  seconds: number;
}

const POOL = 'chaos';
const VM = 'chaos-vm';
const OP_TIMEOUT_MS = 240_000;
const SETTLE_TIMEOUT_MS = 300_000;

class Battery {
  private daemon!: TestDaemon;
  private users: ApiClient[] = [];
  private readonly report: BatteryReport;
  private readonly log: (line: string) => void;

  constructor(private readonly opts: BatteryOptions) {
    this.report = { seed: opts.seed, operations: 0, kills: 0, checks: 0, refused: {}, cut: 0, violations: [], findings: [], seconds: 0 };
    this.log = opts.log ?? ((line) => console.log(line));
  }

  async run(): Promise<BatteryReport> {
    const started = Date.now();
    const userCount = this.opts.users ?? 3;
    const steps = planChaos({ seed: this.opts.seed, operations: this.opts.operations, users: userCount, killEvery: this.opts.killEvery, maxKillDelayMs: 4000, maxSpares: 2 });
    // A short script may draw no kill at all (12 steps at one in three: 0.8 %); a battery without one proves nothing.
    const middle = steps[Math.floor(steps.length / 2)];
    if (middle && steps.every((s) => s.killAfterMs === null)) middle.killAfterMs = 1000;
    this.log(`chaos: seed ${this.opts.seed}, ${steps.length} operations, ${steps.filter((s) => s.killAfterMs !== null).length} kills planned`);
    this.daemon = await TestDaemon.start({ extraArgs: ['--boot-storm-limit', '2'] });
    try {
      await this.setUp(userCount);
      for (const [i, step] of steps.entries()) await this.step(i, step);
      await this.check(steps.length);
    } finally {
      await this.daemon.destroy();
      this.report.seconds = Math.round((Date.now() - started) / 1000);
    }
    return this.report;
  }

  private async setUp(userCount: number): Promise<void> {
    await helperImage(this.daemon, 'bb');
    for (let i = 0; i < userCount; i++) this.users.push(await userClient(this.daemon, `u${i}`));
    await this.admin().request<PoolView>('POST', '/v1/pools', {
      name: POOL, image: 'bb', warmSpares: 1, maxDesktops: userCount + 1, memoryMiB: 192, homeSizeBytes: 64 * 2 ** 20,
      entitled: { users: this.users.map((_, i) => `u${i}`) },
    });
    const g = guestArtifacts();
    const disk = join(mkdtempSync(join(this.daemon.dataDir, 'vm-')), 'root.qcow2');
    copyFileSync(g.amd64.rootQcow2, disk);
    await this.admin().request('POST', '/v1/vms', {
      spec: { name: VM, memoryMiB: 128, disks: [{ path: disk, format: 'qcow2' }], boot: { kernel: g.amd64.kernel, initrd: g.amd64.initrd, cmdline: 'console=ttyS0 root=/dev/vda rw quiet' } },
    });
  }

  private admin(): ApiClient {
    return this.daemon.api();
  }

  private async step(index: number, step: ChaosStep): Promise<void> {
    this.report.operations++;
    const label = `#${index + 1} ${step.op}${step.op === 'connect' || step.op === 'logoff' ? ` u${step.user}` : ''}${step.op === 'pool-resize' ? ` spares=${step.spares}` : ''}`;
    const op = this.operation(step).then(
      () => 'done',
      (err: unknown) => this.classify(label, err),
    );
    if (step.killAfterMs === null) {
      const outcome = await withTimeout(op, OP_TIMEOUT_MS, () => this.report.findings.push(`${label}: no answer in ${OP_TIMEOUT_MS / 1000} s`));
      this.log(`chaos: ${label}: ${outcome ?? 'hung'}`);
      return;
    }
    await new Promise((r) => setTimeout(r, step.killAfterMs!));
    await this.daemon.kill('SIGKILL');
    this.report.kills++;
    const outcome = await op;
    if (outcome === 'cut') this.report.cut++;
    this.log(`chaos: ${label}: SIGKILL after ${step.killAfterMs} ms (${outcome})`);
    await this.daemon.spawn();
    await this.check(index + 1);
  }

  private async operation(step: ChaosStep): Promise<unknown> {
    const user = this.users[step.user]!;
    switch (step.op) {
      case 'connect':
        return user.request('POST', `/v1/pools/${POOL}/connect`, {});
      case 'logoff': {
        const sessions = await user.request<Array<{ desktop: string }>>('GET', '/v1/sessions');
        for (const s of sessions) await user.request('POST', `/v1/sessions/${s.desktop}/logoff`);
        return undefined;
      }
      case 'reset': {
        const ds = await this.admin().request<DesktopView[]>('GET', `/v1/pools/${POOL}/desktops`);
        const d = ds.find((x) => x.state === 'ready' || x.state === 'stopped');
        return d ? this.admin().request('POST', `/v1/pools/${POOL}/desktops/${d.name}/reset`) : undefined;
      }
      case 'publish':
        await this.admin().request('POST', '/v1/images/bb/edit', {}).catch((err: unknown) => {
          if (!(err instanceof ArdesiaError) || err.code !== 'MAINTENANCE_ACTIVE') throw err; // an edit left open by a kill is published now
        });
        return this.admin().request('POST', '/v1/images/bb/publish', {});
      case 'rollback': {
        const img = await this.admin().request<{ currentVersion: number | null }>('GET', '/v1/images/bb');
        return img.currentVersion && img.currentVersion > 1 ? this.admin().request('POST', '/v1/images/bb/rollback', { to: img.currentVersion - 1 }) : undefined;
      }
      case 'vm-start':
        return this.admin().request('POST', `/v1/vms/${VM}/start`, {});
      case 'vm-stop':
        return this.admin().request('POST', `/v1/vms/${VM}/stop`, { force: true });
      case 'pool-resize':
        return this.admin().request('PATCH', `/v1/pools/${POOL}`, { warmSpares: step.spares });
    }
  }

  /** A refusal with a registry code is the daemon doing its job; INTERNAL is a finding; a broken connection was the kill. */
  private classify(label: string, err: unknown): string {
    if (err instanceof ArdesiaError && err.code !== 'DAEMON_UNREACHABLE') {
      if (err.code === 'INTERNAL') {
        this.report.findings.push(`${label}: INTERNAL ${err.message}`);
        return `INTERNAL ${err.message}`;
      }
      this.report.refused[err.code] = (this.report.refused[err.code] ?? 0) + 1;
      return `refused ${err.code}`;
    }
    return 'cut';
  }

  /** Waits until no desktop is between states (bounded), then checks every invariant. */
  private async check(afterStep: number): Promise<void> {
    this.report.checks++;
    try {
      await until('the pool to settle', async () => {
        const ds = await this.admin().request<DesktopView[]>('GET', `/v1/pools/${POOL}/desktops`);
        const vm = await this.admin().request<{ state: string }>('GET', `/v1/vms/${VM}`);
        return ds.every((d) => !TRANSIENT_STATES.has(d.state)) && (vm.state === 'running' || vm.state === 'stopped');
      }, SETTLE_TIMEOUT_MS, 1000);
    } catch (err) {
      this.report.findings.push(`after step ${afterStep}: ${String(err)}`);
    }
    const found = findViolations(takeSnapshot(this.daemon.dataDir));
    for (const v of found) this.log(`chaos: VIOLATION after step ${afterStep}: ${v.invariant}: ${v.detail}`);
    this.report.violations.push(...found.map((v) => ({ ...v, afterStep })));
  }
}

async function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => void): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => {
      onTimeout();
      resolve(undefined);
    }, ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function runBattery(opts: BatteryOptions): Promise<BatteryReport> {
  return new Battery(opts).run();
}
