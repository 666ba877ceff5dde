// login-remote: login → session on a desktop of an agent's host against the same on the controller's own host. A real
// controller (PostgreSQL, HTTPS) and a real `ardesia agent`, each in a network namespace of its own, the busybox guest
// with the guest helper; two pools of one image, one bound by label to each host, each with a warm spare. Per round a
// user connects to each pool in turn (order alternating) and the clock runs from the connect request to the desktop
// in session (the connect answers once the guest helper said "session started"); the user logs off and the spare comes
// back before the next round. On the remote host the home is plugged in and its guest told through the agent's link.
// Then a restore pool bound to each host: clones of the one template (built on the controller's host) restored one
// at a time on each, timed from booting to ready; the agent's first also checks ram.bin and loads it into its memfd.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HostView } from '../src/contract/hosts.js';
import type { DesktopView, PoolView } from '../src/contract/pools.js';
import { AgentProc } from '../test/helpers/agent-proc.js';
import { killRuntimeQemus, runCli, TestDaemon, until } from '../test/helpers/daemon.js';
import { freshDatabaseForNamespaces } from '../test/helpers/postgres.js';
import { NetLab } from '../test/netboot/lab.js';
import { helperImage, untilDesktops, userClient } from '../test/pools/support.js';
import type { Benchmark, BenchResult, BenchRow } from './lib/benchmark.js';
import { verdictMax } from './lib/benchmark.js';

const NET = '10.251.10';
const ROUNDS = 5;
/** Clones restored one after the other on each host (the first on the agent's host also checks and loads ram.bin). */
const RESTORES = 4;
const TARGET_RATIO = 1.1;
const POOLS = [
  { name: 'onctl', label: 'ctl-host', host: 'ctl' },
  { name: 'ona1', label: 'agent-host', host: 'a1' },
] as const;

function summary(label: string, values: number[], unit: BenchRow['unit']): BenchRow {
  const sorted = [...values].sort((x, y) => x - y);
  return { label, unit, n: values.length, median: sorted[Math.floor(sorted.length / 2)]!, min: sorted[0]!, max: sorted.at(-1)! };
}

export const loginRemoteBenchmark: Benchmark = {
  name: 'login-remote',
  summary: `login → session on an agent's host vs the controller's own host (busybox guest, TCG), ${ROUNDS} rounds, target median ratio ≤ ${TARGET_RATIO}; a restore clone → ready on each, ${RESTORES} each`,
  async run(ctx): Promise<BenchResult> {
    const lab = await NetLab.create('lr');
    const dirs: string[] = [];
    const temp = () => {
      const d = mkdtempSync(join(tmpdir(), 'ard-lr-'));
      dirs.push(d);
      return d;
    };
    let controller: TestDaemon | undefined;
    let agent: AgentProc | undefined;
    let agentDir: string | undefined;
    try {
      const ctlNs = await lab.addHost('ctl', `${NET}.1/24`);
      const a1Ns = await lab.addHost('a1', `${NET}.2/24`);
      const db = await freshDatabaseForNamespaces();
      controller = new TestDaemon(temp(), ['--listen', `${NET}.1:8443`, '--host-name', 'ctl', '--host-label', 'ctl-host', '--database', db.viaSocket], ctlNs);
      await controller.spawn();
      const cli = async (args: string[]) => {
        const r = await runCli(controller!.dataDir, ['--json', ...args]);
        if (r.code !== 0) throw new Error(`ardesia ${args.join(' ')}: ${r.stderr}`);
        return JSON.parse(r.stdout) as unknown;
      };
      await helperImage(controller, 'bb');
      const alice = await userClient(controller, 'alice');
      const { token } = (await cli(['host', 'add', 'a1'])) as { token: string };
      agentDir = temp();
      agent = new AgentProc(a1Ns, agentDir, ['--controller', `https://${NET}.1:8443`, '--join', token]);
      await until('a1 linked', async () => ((await cli(['host', 'list'])) as HostView[]).find((h) => h.name === 'a1' && h.agent?.linked === true), 120_000, 500);
      await cli(['host', 'label', 'a1', 'agent-host']);
      for (const p of POOLS) {
        await controller.api().request('POST', '/v1/pools', {
          name: p.name, image: 'bb', startMode: 'boot', warmSpares: 1, maxDesktops: 1, memoryMiB: 192, homeSizeBytes: 64 * 2 ** 20,
          hostLabels: { require: [p.label], avoid: [] }, entitled: { users: ['alice'] },
        });
      }
      const ready = (pool: string, host: string) => untilDesktops(controller!, pool, `a ready spare of ${pool} on ${host}`, (ds) => ds.some((d) => d.state === 'ready' && d.host === host), 600_000);
      const samples: Record<string, number[]> = { onctl: [], ona1: [] };
      for (let round = 0; round < ROUNDS; round++) {
        const order = round % 2 === 0 ? POOLS : [...POOLS].reverse();
        for (const p of order) {
          await ready(p.name, p.host);
          const t0 = performance.now();
          const { desktop } = await alice.request<{ desktop: DesktopView }>('POST', `/v1/pools/${p.name}/connect`, {});
          const ms = performance.now() - t0;
          if (desktop.host !== p.host) throw new Error(`pool ${p.name}'s desktop ran on ${desktop.host}, not ${p.host}`);
          samples[p.name]!.push(ms);
          ctx.log(`login-remote round ${round + 1}: ${p.host} connect → session ${Math.round(ms)} ms`);
          await alice.request('POST', `/v1/sessions/${desktop.name}/logoff`);
          await untilDesktops(controller, p.name, 'the session ended', (ds) => !ds.some((d) => d.user === 'alice'), 120_000);
        }
      }
      const local = summary("controller's own host: connect → session", samples.onctl!, 'ms');
      const remote = summary("an agent's host: connect → session", samples.ona1!, 'ms');
      const ratio = remote.median / local.median;
      const restores = await restoreRounds(controller, agent, ctx);
      const restoreRatio = restores.ona1.later.median / restores.onctl.every.median;
      return {
        name: 'login-remote',
        rows: [
          local, remote, summary('remote / local (medians)', [ratio], 'ratio'),
          restores.onctl.every, restores.ona1.first, restores.ona1.later, summary("restore, remote (after its first) / local (medians)", [restoreRatio], 'ratio'),
        ],
        verdicts: [verdictMax('login → session, remote / local (medians)', ratio, TARGET_RATIO)],
        details: { samplesMs: samples, restoreMs: { onctl: restores.onctl.all, ona1: restores.ona1.all } },
      };
    } finally {
      await agent?.kill();
      if (agentDir) killRuntimeQemus(agentDir);
      await controller?.destroy().catch(() => undefined);
      await lab.destroy();
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    }
  },
};

/** A restore pool bound to each host, one template (built on the controller's host): clones restored one at a time,
 *  hosts alternating; each clone timed from its `stopped → booting` to its `booting → ready` (the guest took its
 *  identity), as the controller logged them. */
async function restoreRounds(controller: TestDaemon, agent: AgentProc, ctx: { log: (line: string) => void }): Promise<Record<'onctl' | 'ona1', { every: BenchRow; first: BenchRow; later: BenchRow; all: number[] }>> {
  const pools = POOLS.map((p) => ({ ...p, name: `r${p.name}` }));
  for (const p of pools) {
    await controller.api().request('POST', '/v1/pools', {
      name: p.name, image: 'bb', startMode: 'restore', warmSpares: 0, maxDesktops: RESTORES, memoryMiB: 192, homeSizeBytes: 64 * 2 ** 20,
      hostLabels: { require: [p.label], avoid: [] }, entitled: { users: [] },
    });
  }
  await until('the restore template ready', async () => {
    const views = await Promise.all(pools.map((p) => controller.api().request<PoolView>('GET', `/v1/pools/${p.name}`)));
    if (views.some((v) => v.template?.state === 'failed')) throw new Error(`a template failed: ${views.map((v) => v.template?.reason).join('; ')}`);
    return views.every((v) => v.template?.state === 'ready') || undefined;
  }, 600_000, 500);
  const all: Record<string, number[]> = { onctl: [], ona1: [] };
  const seen = new Set<string>();
  for (let n = 1; n <= RESTORES; n++) {
    const order = n % 2 === 0 ? pools : [...pools].reverse();
    for (const p of order) {
      await controller.api().request('PATCH', `/v1/pools/${p.name}`, { warmSpares: n });
      const ds = await untilDesktops(controller, p.name, `${n} restored spares of ${p.name}`, (list) => list.length === n && list.every((d) => d.state === 'ready'), 600_000);
      const newest = ds.find((d) => !seen.has(d.name));
      if (!newest || transitionMs(controller.output, newest.name) === undefined) throw new Error(`no new spare of ${p.name} with its restore in the log`);
      if (newest.host !== p.host) throw new Error(`${newest.name} ran on ${newest.host}, not ${p.host}`);
      const hostLog = p.host === 'ctl' ? controller.output : agent.output;
      if (!new RegExp(`vm ${newest.name} restored from template`).test(hostLog)) throw new Error(`${newest.name} was booted on ${p.host}, not restored`);
      seen.add(newest.name);
      const ms = transitionMs(controller.output, newest.name)!;
      all[p.host === 'ctl' ? 'onctl' : 'ona1']!.push(ms);
      ctx.log(`login-remote restore ${n}: ${p.host} clone → ready ${ms} ms`);
    }
  }
  const rows = (key: 'onctl' | 'ona1', where: string) => ({
    // The controller's host holds the template's RAM since the build: its first clone is like the others.
    every: summary(`${where}: every clone restored → ready`, all[key]!, 'ms'),
    first: summary(`${where}: the first clone restored → ready`, all[key]!.slice(0, 1), 'ms'),
    later: summary(`${where}: later clones restored → ready`, all[key]!.slice(1), 'ms'),
    all: all[key]!,
  });
  return { onctl: rows('onctl', "controller's own host"), ona1: rows('ona1', "an agent's host") };
}

/** ms from the desktop's `stopped → booting` to its `booting → ready` in the controller's log (its last such pair). */
function transitionMs(log: string, desktop: string): number | undefined {
  let from: number | undefined;
  let ms: number | undefined;
  for (const line of log.split('\n')) {
    if (!line.includes(`"desktop":"${desktop}"`)) continue;
    const t = /"time":(\d+)/.exec(line)?.[1];
    if (t === undefined) continue;
    if (line.includes('"to":"booting"')) from = Number(t);
    else if (line.includes('"from":"booting","to":"ready"') && from !== undefined) ms = Number(t) - from;
  }
  return ms;
}
