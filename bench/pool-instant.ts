// pool-instant: a connect to a pool with no warm spare (the broker clones a desktop and starts it) until the guest
// helper's "session started", in start mode restore (the clone loads the pool's template) against start mode boot,
// on the same image in the same daemon: one run each, alternated boot first, and the ratio (issue 16's target:
// restore ≤ 0.1 × boot). The template is built before the clock runs (a pool's one-off cost, reported apart).
import type { ApiClient } from '../src/cli/client.js';
import type { PoolView } from '../src/contract/pools.js';
import type { TimelineStage, TimelineView } from '../src/contract/timeline.js';
import { TestDaemon, until } from '../test/helpers/daemon.js';
import { DEBIAN_BUILD_ENV, debianImage, helperImage, untilDesktops, userClient } from '../test/pools/support.js';
import type { Benchmark, BenchResult } from './lib/benchmark.js';
import { verdictMax } from './lib/benchmark.js';

const IMAGE = 'img';
/** The image each pool clones (`--image debian|busybox`): the demo Debian desktop (the target is on it), or the
 *  busybox test guest with the guest helper (a boot of a few seconds: the quick look). */
export function imageFromArgs(argv: readonly string[]): 'debian' | 'busybox' {
  const i = argv.indexOf('--image');
  if (i < 0) return 'debian';
  const image = argv[i + 1];
  if (image !== 'debian' && image !== 'busybox') throw new Error(`--image wants debian or busybox, not ${image}`);
  return image;
}
const MEMORY_MIB = { debian: 1024, busybox: 192 } as const;
const HOME_BYTES = 64 * 2 ** 20;
const SESSION_TIMEOUT_MS = 300_000;
export const INSTANT_TARGET_RATIO = 0.1;

/** The login timeline's stages a cold connect spends its time in (the display's first frame is not part of it). */
const CONNECT_STAGES: readonly TimelineStage[] = ['spare', 'home-attached', 'home-mounted', 'session-started'];

/** A new user's connect (wait for the session) → the answer in ms and the session's stages; then logoff until the pool is empty again. */
async function coldConnect(daemon: TestDaemon, pool: string, user: ApiClient): Promise<{ ms: number; stages: Map<TimelineStage, number> }> {
  const t0 = performance.now();
  const got = await user.request<{ desktop: { name: string; state: string } }>('POST', `/v1/pools/${pool}/connect`, { waitSeconds: SESSION_TIMEOUT_MS / 1000 });
  const ms = performance.now() - t0;
  if (got.desktop.state !== 'in-use') throw new Error(`connect answered with desktop ${got.desktop.name} in ${got.desktop.state}, not in-use`);
  const [timeline] = await daemon.api().request<TimelineView[]>('GET', `/v1/sessions/${got.desktop.name}/timeline?limit=1`);
  if (!timeline) throw new Error(`no login timeline for desktop ${got.desktop.name}`);
  const stages = new Map(timeline.stages.filter((s) => !s.skipped && CONNECT_STAGES.includes(s.stage)).map((s) => [s.stage, s.ms] as const));
  await user.request('POST', `/v1/sessions/${got.desktop.name}/logoff`);
  await untilDesktops(daemon, pool, `pool ${pool} empty again`, (ds) => ds.length === 0, SESSION_TIMEOUT_MS);
  return { ms, stages };
}

export const poolInstantBenchmark: Benchmark = {
  name: 'pool-instant',
  summary: 'connect with no warm spare → session started: start mode restore vs boot on the same image (--image debian|busybox), one run each',
  async run(ctx): Promise<BenchResult> {
    const image = imageFromArgs(process.argv);
    const daemon = await TestDaemon.start(image === 'debian' ? { env: DEBIAN_BUILD_ENV } : {});
    try {
      if (image === 'debian') await debianImage(daemon, IMAGE);
      else await helperImage(daemon, IMAGE);
      ctx.log(`pool-instant: image ${image}`);
      const users = { boot: await userClient(daemon, 'uboot'), restore: await userClient(daemon, 'urestore') };
      for (const mode of ['boot', 'restore'] as const) {
        await daemon.api().request('POST', '/v1/pools', {
          name: mode, image: IMAGE, startMode: mode, warmSpares: 0, coldSpares: 0, minDesktops: 0, maxDesktops: 1, memoryMiB: MEMORY_MIB[image],
          homeSizeBytes: HOME_BYTES, entitled: { users: [mode === 'boot' ? 'uboot' : 'urestore'] },
        });
      }
      const t0 = performance.now();
      const template = await until('the restore pool\'s template', async () => {
        const p = await daemon.api().request<PoolView>('GET', '/v1/pools/restore');
        if (p.template?.state === 'failed') throw new Error(`the template failed: ${p.template.reason}`);
        return p.template?.state === 'ready' ? p.template : undefined;
      }, SESSION_TIMEOUT_MS, 200);
      ctx.log(`pool-instant: template ready after ${Math.round(performance.now() - t0)} ms (boot ${template.bootMs} ms, save ${template.saveMs} ms)`);
      const bootRun = await coldConnect(daemon, 'boot', users.boot);
      const boot = bootRun.ms;
      ctx.log(`pool-instant boot: session started after ${Math.round(boot)} ms`);
      const restoreRun = await coldConnect(daemon, 'restore', users.restore);
      const restore = restoreRun.ms;
      const loadMs = (await daemon.api().request<PoolView>('GET', '/v1/pools/restore')).template?.lastRestoreMs ?? null;
      ctx.log(`pool-instant restore: session started after ${Math.round(restore)} ms (state loaded in ${loadMs} ms)`);
      const one = (label: string, v: number, unit: 'ms' | 'ratio' = 'ms') => ({ label, unit, n: 1, median: v, min: v, max: v });
      return {
        name: 'pool-instant',
        rows: [
          one('boot: connect (no spare) → session started', boot),
          one('restore: connect (no spare) → session started', restore),
          ...(loadMs !== null ? [one('restore: QEMU spawn → template state loaded', loadMs)] : []),
          ...(template.bootMs !== null ? [one('template: boot → guest ready (once per image version and shape)', template.bootMs)] : []),
          ...(template.saveMs !== null ? [one('template: state saved', template.saveMs)] : []),
          ...CONNECT_STAGES.flatMap((stage) => (['boot', 'restore'] as const).flatMap((mode) => {
            const v = (mode === 'boot' ? bootRun : restoreRun).stages.get(stage);
            return v === undefined ? [] : [one(`${mode}: login timeline stage ${stage}`, v)];
          })),
          one('ratio restore / boot', restore / boot, 'ratio'),
        ],
        verdicts: [verdictMax('connect restore / boot', restore / boot, INSTANT_TARGET_RATIO)],
        details: { image, memoryMiB: MEMORY_MIB[image], homeBytes: HOME_BYTES, bootMs: boot, restoreMs: restore, loadMs, template, bootStages: Object.fromEntries(bootRun.stages), restoreStages: Object.fromEntries(restoreRun.stages) },
      };
    } finally {
      await daemon.destroy();
    }
  },
};
