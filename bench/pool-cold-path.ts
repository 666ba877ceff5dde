// pool-cold-path: a connect to a pool with no spare (the broker clones, boots and assigns a new desktop)
// until the guest helper's "session started", against the same VM started by hand: the same QEMU argv
// (kernel, initrd, root clone, guest channel), a blank home hot-plugged over QMP, then assign over a
// GuestChannel. Alternated per round, a warm-up round first; the verdict is the median paired ratio.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GuestChannel } from '../src/agent/guest-channel.js';
import type { ApiClient } from '../src/cli/client.js';
import type { VmSpec, VmStatus } from '../src/contract/vm.js';
import { guestUid } from '../src/desktops/desktop-guest.js';
import { HOME_DISK_SERIAL } from '../src/desktops/service.js';
import { runtimePaths } from '../src/hypervisor/qemu/argv.js';
import { rawSpawn } from './lib/raw-qemu.js';
import { readPidfile, writeLaunchFiles } from '../src/hypervisor/qemu/process.js';
import { createLinkedClone, dataPaths, homeCreate } from '../src/storage/index.js';
import { TestDaemon } from '../test/helpers/daemon.js';
import { RawQmp } from '../test/qemu-argv/raw-qmp.js';
import { helperImage, untilDesktops, userClient } from '../test/pools/support.js';
import type { Benchmark, BenchResult, BenchRow } from './lib/benchmark.js';
import { verdictMax } from './lib/benchmark.js';
import { waitGone } from './lib/host.js';
import { rawLaunch } from './lib/raw-qemu.js';
import { alternatedOrder, median, pairedRatios, summarize } from './lib/stats.js';

const ROUNDS = 3;
const POOL = 'cold';
const IMAGE = 'bb';
const HOME_BYTES = 64 * 2 ** 20;
const SESSION_TIMEOUT_MS = 300_000;
export const COLD_PATH_TARGET_RATIO = 1.15;

type Side = 'ardesia' | 'raw';

/** The Ardesia side: a new user's connect (wait for the session) → the answer; then logoff until the desktop is retired. */
async function ardesiaColdConnect(daemon: TestDaemon, user: ApiClient): Promise<{ ms: number; spec: VmSpec }> {
  const t0 = performance.now();
  const got = await user.request<{ desktop: { name: string; state: string } }>('POST', `/v1/pools/${POOL}/connect`, { waitSeconds: SESSION_TIMEOUT_MS / 1000 });
  const ms = performance.now() - t0;
  if (got.desktop.state !== 'in-use') throw new Error(`connect answered with desktop ${got.desktop.name} in ${got.desktop.state}, not in-use`);
  const { spec } = await daemon.api().request<VmStatus>('GET', `/v1/vms/${got.desktop.name}`);
  await user.request('POST', `/v1/sessions/${got.desktop.name}/logoff`);
  // No spare is wanted: the reset desktop is surplus and the planner retires it, so the next round is cold again.
  await untilDesktops(daemon, POOL, 'the pool empty again', (ds) => ds.length === 0, SESSION_TIMEOUT_MS);
  return { ms, spec };
}


/** The raw side: the desktop's own spec on a fresh clone, by hand, from spawn to "session-started". */
async function rawColdSession(template: VmSpec, base: string, dir: string, user: string): Promise<number> {
  mkdirSync(dir);
  const system = join(dir, 'system.qcow2');
  const home = join(dir, 'home.qcow2');
  await createLinkedClone({ base, overlay: system });
  await homeCreate(home, HOME_BYTES);
  const spec: VmSpec = { ...template, name: `raw-${user}`, disks: template.disks.map((d) => ({ ...d, path: system })) };
  const launch = rawLaunch(spec, dir);
  writeLaunchFiles(launch.files, undefined);
  const paths = runtimePaths(dir);
  let qmp: RawQmp | undefined;
  let channel: GuestChannel | undefined;
  let pid: number | undefined;
  try {
    const t0 = performance.now();
    await rawSpawn(launch, paths.qmp);
    pid = readPidfile(paths.pidfile);
    qmp = (await RawQmp.open(paths.qmp)).qmp;
    await qmp.execute('qmp_capabilities');
    channel = new GuestChannel(paths.guest).open();
    const ready = channel.waitFor('ready', undefined, SESSION_TIMEOUT_MS);
    await qmp.execute('cont');
    await ready;
    // What DesktopGuest.plugHome sends (machine pc: no hot-plug bus named).
    await qmp.execute('blockdev-add', { driver: 'qcow2', 'node-name': 'home0', file: { driver: 'file', filename: home } });
    await qmp.execute('device_add', { driver: 'virtio-blk-pci', id: 'home0', drive: 'home0', serial: HOME_DISK_SERIAL });
    const started = channel.waitFor('session-started', (m) => m.user === user, SESSION_TIMEOUT_MS);
    channel.send({ type: 'assign', user, uid: guestUid(user), homeSerial: HOME_DISK_SERIAL });
    await started;
    return performance.now() - t0;
  } finally {
    channel?.close();
    await qmp?.execute('quit').catch(() => undefined);
    qmp?.close();
    if (pid !== undefined) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // quit already ended it
      }
      await waitGone(pid);
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

function row(label: string, values: number[], unit: BenchRow['unit'] = 'ms'): BenchRow {
  return { label, unit, ...summarize(values) };
}

export const poolColdPathBenchmark: Benchmark = {
  name: 'pool-cold-path',
  summary: `connect with no spare → session started vs the same VM by hand (+ home hot-plug + assign), ${ROUNDS} alternated rounds`,
  async run(ctx): Promise<BenchResult> {
    const tmp = mkdtempSync(join(tmpdir(), 'apc-'));
    const daemon = await TestDaemon.start();
    try {
      await helperImage(daemon, IMAGE);
      const users: ApiClient[] = [];
      const names = Array.from({ length: ROUNDS + 1 }, (_, i) => `cold${i}`);
      for (const name of names) users.push(await userClient(daemon, name));
      await daemon.api().request('POST', '/v1/pools', {
        name: POOL, image: IMAGE, warmSpares: 0, coldSpares: 0, minDesktops: 0, maxDesktops: 1, memoryMiB: 192, homeSizeBytes: HOME_BYTES,
        entitled: { users: names },
      });
      const base = dataPaths(daemon.dataDir).imageVersion(IMAGE, 1);

      // Warm-up (not counted): fills the page cache and gives the spec the daemon runs for a pool desktop.
      const warm = await ardesiaColdConnect(daemon, users[ROUNDS]!);
      ctx.log(`pool-cold-path warm-up: ardesia ${Math.round(warm.ms)} ms`);
      const samples: Record<Side, number[]> = { ardesia: [], raw: [] };
      for (const { round, side } of alternatedOrder<Side>(['ardesia', 'raw'], ROUNDS)) {
        const ms = side === 'ardesia'
          ? (await ardesiaColdConnect(daemon, users[round]!)).ms
          : await rawColdSession(warm.spec, base, join(tmp, `r${round}`), names[round]!);
        samples[side].push(ms);
        ctx.log(`pool-cold-path round ${round + 1}/${ROUNDS} ${side}: session started after ${Math.round(ms)} ms`);
      }
      const ratios = pairedRatios(samples.ardesia, samples.raw);
      return {
        name: 'pool-cold-path',
        rows: [
          row('raw QEMU: spawn → ready → hot-plug + assign → session-started (baseline)', samples.raw),
          row('ardesia: connect (no spare) → session started', samples.ardesia),
          row('ratio ardesia / raw (paired per round)', ratios, 'ratio'),
        ],
        verdicts: [verdictMax('median ratio cold connect / raw QEMU', median(ratios), COLD_PATH_TARGET_RATIO)],
        details: { rounds: ROUNDS, memoryMiB: warm.spec.memoryMiB, homeBytes: HOME_BYTES, warmUpMs: warm.ms, samples, spec: warm.spec },
      };
    } finally {
      await daemon.destroy();
      rmSync(tmp, { recursive: true, force: true });
    }
  },
};
