// desktop-migration: a persistent desktop in session moved live between two agents' hosts (its home plugged in at the
// destination first, its sanlock lease handed over before the guest resumes) against a plain VM of the same size moved
// the same way in the same run (no home, no lease). A real controller (PostgreSQL, HTTPS, home leases) and two real
// `ardesia agent`s, each host in a network namespace with its own sanlock daemon, the data folder on a disk all see.
// Per round each moves once (`POST /v1/vms/NAME/migrate` to the other host, order alternating); the clock runs over the
// API call, which answers once the controller's record has the VM running on the new host. The guest's pause is QEMU's
// own downtime (the source's last pass), plus, for the desktop, the lease's hand-over the destination logs.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HostDetail, HostView, VmMigrationView } from '../src/contract/hosts.js';
import type { DesktopView } from '../src/contract/pools.js';
import { AgentProc } from '../test/helpers/agent-proc.js';
import { killRuntimeQemus, runCli, TestDaemon, until } from '../test/helpers/daemon.js';
import { freshDatabaseForNamespaces } from '../test/helpers/postgres.js';
import { diskFolder, SanlockDaemon } from '../test/helpers/sanlock.js';
import { NetLab } from '../test/netboot/lab.js';
import { helperImage, untilDesktops, userClient } from '../test/pools/support.js';
import type { Benchmark, BenchResult, BenchRow } from './lib/benchmark.js';
import { verdictMax } from './lib/benchmark.js';

const NET = '10.251.16';
const ROUNDS = 4;
const MEMORY_MIB = 192;
/** The desktop's move may cost this much more than the plain VM's (its home plugged first, the lease handed over). */
const TARGET_RATIO = 1.5;
const AGENTS = ['a1', 'a2'] as const;

function summary(label: string, values: number[], unit: BenchRow['unit']): BenchRow {
  const sorted = [...values].sort((x, y) => x - y);
  return { label, unit, n: values.length, median: sorted[Math.floor(sorted.length / 2)]!, min: sorted[0]!, max: sorted.at(-1)! };
}

/** Each source's "the guest stopped N ms" for `vm`, in the order the agents' logs give them. */
function downtimes(output: string, vm: string): number[] {
  return [...output.matchAll(new RegExp(`vm ${vm} migrated to host \\S+ in \\d+ ms \\(\\d+ bytes, the guest stopped (\\d+) ms\\)`, 'g'))].map((m) => Number(m[1]));
}

export const desktopMigrationBenchmark: Benchmark = {
  name: 'desktop-migration',
  summary: `a persistent desktop in session (home + sanlock lease) moved live between two agents' hosts vs a plain ${MEMORY_MIB} MiB VM, ${ROUNDS} rounds, target median ratio ≤ ${TARGET_RATIO}`,
  async run(ctx): Promise<BenchResult> {
    const lab = await NetLab.create('bm');
    const dirs: string[] = [];
    const temp = () => {
      const d = mkdtempSync(join(tmpdir(), 'ard-bm-'));
      dirs.push(d);
      return d;
    };
    const root = diskFolder();
    const locks = new Map<string, SanlockDaemon>();
    const agents = new Map<string, { proc: AgentProc; dir: string }>();
    let controller: TestDaemon | undefined;
    try {
      chmodSync(root, 0o711);
      const dataDir = join(root, 'data');
      mkdirSync(dataDir);
      const ctlNs = await lab.addHost('ctl', `${NET}.1/24`);
      for (const name of ['ctl', ...AGENTS]) locks.set(name, new SanlockDaemon(name, root));
      await Promise.all([...locks.values()].map((l) => l.start()));
      const db = await freshDatabaseForNamespaces();
      controller = new TestDaemon(dataDir, ['--host-name', 'ctl', '--database', db.viaSocket, '--home-leases', 'sanlock', '--lease-io-timeout', '2', '--listen', `${NET}.1:8443`], ctlNs);
      await controller.spawn(locks.get('ctl')!.env);
      const cli = async <T>(args: string[]): Promise<T> => {
        const r = await runCli(controller!.dataDir, ['--json', ...args]);
        if (r.code !== 0) throw new Error(`ardesia ${args.join(' ')}: ${r.stderr}`);
        return JSON.parse(r.stdout) as T;
      };
      const act = async (args: string[]): Promise<void> => {
        const r = await runCli(controller!.dataDir, args);
        if (r.code !== 0) throw new Error(`ardesia ${args.join(' ')}: ${r.stderr}`);
      };
      await helperImage(controller, 'bb');
      const alice = await userClient(controller, 'alice');
      for (const [i, name] of AGENTS.entries()) {
        const ns = await lab.addHost(name, `${NET}.${i + 2}/24`);
        const { token } = await cli<{ token: string }>(['host', 'add', name]);
        const dir = temp();
        agents.set(name, { dir, proc: new AgentProc(ns, dir, ['--controller', `https://${NET}.1:8443`, '--join', token], locks.get(name)!.env) });
        await until(`${name} linked`, async () => (await cli<HostView[]>(['host', 'list'])).find((h) => h.name === name && h.agent?.linked === true && h.state === 'up'), 120_000, 500);
      }
      await act(['host', 'drain', 'ctl']);
      // The plain VM: the busybox guest from a linked clone on the shared folder, its console at a shell.
      const disk = join(dataDir, 'pv.qcow2');
      await act(['vm', 'create', '-b', ctx.guests.amd64.rootQcow2, disk]);
      const conf = join(temp(), 'pv.conf');
      writeFileSync(conf, `vm "pv" {\n memory ${MEMORY_MIB}M\n boot "${ctx.guests.amd64.kernel}"\n initrd "${ctx.guests.amd64.initrd}"\n cmdline "console=ttyS0 root=/dev/vda rw quiet"\n disk "${disk}"\n disable\n}\n`);
      chmodSync(conf, 0o644);
      await act(['vm', 'load', conf]);
      await act(['vm', 'start', 'pv']);
      // The desktop: a persistent pool's, with alice's session (her home plugged in, its lease held by that QEMU).
      await controller.api().request('POST', '/v1/pools', {
        name: 'own', image: 'bb', startMode: 'boot', persistent: true, warmSpares: 1, maxDesktops: 2, memoryMiB: MEMORY_MIB, homeSizeBytes: 64 * 2 ** 20, entitled: { users: ['alice'] },
      });
      await untilDesktops(controller, 'own', 'a ready spare', (ds) => ds.some((d) => d.state === 'ready'), 600_000);
      const { desktop } = await alice.request<{ desktop: DesktopView }>('POST', '/v1/pools/own/connect', {});
      const vms = { plain: 'pv', desktop: desktop.name } as const;
      // Where each is now: the plain VM where placement put it, the desktop where her session runs; then each move's answer.
      const at = new Map<string, string>([[desktop.name, desktop.host ?? '']]);
      for (const name of AGENTS) if ((await cli<HostDetail>(['host', 'show', name])).vms.includes('pv')) at.set('pv', name);
      const samples: Record<keyof typeof vms, number[]> = { plain: [], desktop: [] };
      for (let round = 0; round < ROUNDS; round++) {
        const order = round % 2 === 0 ? (['plain', 'desktop'] as const) : (['desktop', 'plain'] as const);
        for (const kind of order) {
          const vm = vms[kind];
          const from = at.get(vm);
          const to = from === 'a1' ? 'a2' : 'a1';
          const t0 = performance.now();
          const moved = await controller.api().request<VmMigrationView>('POST', `/v1/vms/${vm}/migrate`, { host: to });
          const ms = performance.now() - t0;
          if (moved.to !== to) throw new Error(`${vm} went to ${moved.to}, not ${to}`);
          at.set(vm, to);
          samples[kind].push(ms);
          ctx.log(`desktop-migration round ${round + 1}: ${kind} ${vm} ${from} → ${to} in ${Math.round(ms)} ms`);
        }
      }
      const outputs = [...agents.values()].map((a) => a.proc.output).join('\n');
      const pauseOf = (vm: string) => downtimes(outputs, vm);
      const takeOvers = [...outputs.matchAll(new RegExp(`vm ${vms.desktop}: the home leases it holds taken over from the source in (\\d+) ms`, 'g'))].map((m) => Number(m[1]));
      const plain = summary(`plain ${MEMORY_MIB} MiB VM: migrate call`, samples.plain, 'ms');
      const moved = summary('persistent desktop in session: migrate call', samples.desktop, 'ms');
      const ratio = moved.median / plain.median;
      const plainPause = summary('plain VM: guest stopped (QEMU downtime)', pauseOf(vms.plain), 'ms');
      const deskPause = summary('desktop: guest stopped (QEMU downtime)', pauseOf(vms.desktop), 'ms');
      const handOver = summary('desktop: lease taken over at the destination', takeOvers, 'ms');
      return {
        name: 'desktop-migration',
        rows: [plain, moved, summary('desktop / plain VM (medians)', [ratio], 'ratio'), plainPause, deskPause, handOver],
        verdicts: [verdictMax('persistent desktop move / plain VM move (medians)', ratio, TARGET_RATIO)],
        details: { samplesMs: samples, downtimeMs: { plain: pauseOf(vms.plain), desktop: pauseOf(vms.desktop) }, leaseTakeOverMs: takeOvers },
      };
    } finally {
      for (const a of agents.values()) {
        await a.proc.kill();
        killRuntimeQemus(a.dir);
      }
      await controller?.destroy().catch(() => undefined);
      for (const l of locks.values()) l.kill();
      await lab.destroy();
      rmSync(root, { recursive: true, force: true });
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    }
  },
};
