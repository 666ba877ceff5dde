// login-screen: a person in Chromium logs in to the portal and presses Open; the clock runs from the login submit (and
// apart from Open) until the session's xterm is drawn on the noVNC canvas (the desktop-flow test's check). Two pools of
// the Debian demo image in one daemon: `warm` (start mode boot, one warm spare) and `restored` (start mode restore, its
// warm spare a clone of the template), alternated, `--runs N` each (default 3); after each run the user logs off and
// the spares are back before the next. Reports medians, the ratio restored / warm and the login timeline's stages.
import type { Page } from 'playwright-core';
import type { PoolView } from '../src/contract/pools.js';
import type { TimelineStage, TimelineView } from '../src/contract/timeline.js';
import { TIMELINE_STAGES } from '../src/contract/timeline.js';
import { browserLaunch, pageOpen, rootCall, until, userCreate, webDaemonStart, type WebDaemon } from '../test/web/browser.js';
import { waitForXterm } from '../test/web/desktop-canvas.js';
import type { Benchmark, BenchResult, BenchRow } from './lib/benchmark.js';
import { alternatedOrder, median, round, summarize } from './lib/stats.js';

const IMAGE = 'desk';
const IMAGE_BUILD_TIMEOUT_MS = 30 * 60_000;
/** A spare booting under TCG on two shared cores, or a session starting: minutes. */
const DESKTOP_TIMEOUT_MS = 10 * 60_000;
const PASSWORD = 'login-screen-passphrase';
const DEFAULT_RUNS = 3;
export const MODES = ['warm', 'restored'] as const;
export type Mode = (typeof MODES)[number];
const POOL_USER: Record<Mode, string> = { warm: 'wanda', restored: 'rhea' };

/** `--runs N` from the bench's argv (npm run bench -- login-screen --runs 2). */
export function runsFromArgs(argv: readonly string[]): number {
  const i = argv.indexOf('--runs');
  if (i < 0) return DEFAULT_RUNS;
  const n = Number(argv[i + 1]);
  if (!Number.isInteger(n) || n < 1 || n > 20) throw new Error(`--runs wants a whole number from 1 to 20, not ${argv[i + 1]}`);
  return n;
}

export interface ScreenRun {
  mode: Mode;
  /** Login submit → xterm drawn, and Open pressed → xterm drawn, in ms. */
  loginMs: number;
  openMs: number;
  /** The login timeline's stages that happened (ms since the previous stage). */
  stages: Partial<Record<TimelineStage, number>>;
}

/** The rows of one mode: login and Open to screen, then each timeline stage that happened in its runs (medians). */
export function modeRows(mode: Mode, runs: readonly ScreenRun[]): BenchRow[] {
  const mine = runs.filter((r) => r.mode === mode);
  if (mine.length === 0) return [];
  const rows: BenchRow[] = [
    { label: `${mode}: login submit → xterm on screen`, unit: 'ms', ...summarize(mine.map((r) => r.loginMs)) },
    { label: `${mode}: Open → xterm on screen`, unit: 'ms', ...summarize(mine.map((r) => r.openMs)) },
  ];
  for (const stage of TIMELINE_STAGES) {
    const values = mine.flatMap((r) => (r.stages[stage] === undefined ? [] : [r.stages[stage]!]));
    if (values.length) rows.push({ label: `${mode}: timeline stage ${stage}`, unit: 'ms', ...summarize(values) });
  }
  return rows;
}

/** Median restored / median warm of a figure; null unless both modes ran. */
export function modeRatio(runs: readonly ScreenRun[], figure: 'loginMs' | 'openMs'): number | null {
  const of = (mode: Mode) => runs.filter((r) => r.mode === mode).map((r) => r[figure]);
  const [warm, restored] = [of('warm'), of('restored')];
  return warm.length && restored.length ? median(restored) / median(warm) : null;
}

async function buildImage(w: WebDaemon): Promise<void> {
  const op = await rootCall<{ id: string }>(w, 'POST', '/v1/images', { name: IMAGE, build: 'debian' });
  const done = await until('the desktop image build', async () => {
    const o = await rootCall<{ state: string; error?: unknown }>(w, 'GET', `/v1/operations/${op.id}`);
    return o.state === 'running' ? undefined : o;
  }, IMAGE_BUILD_TIMEOUT_MS, 2000);
  if (done.state !== 'succeeded') throw new Error(`the desktop image build failed: ${JSON.stringify(done.error)}`);
}

/** Both pools hold their one ready spare and nothing else is starting (no boot competes with a measured run). */
async function sparesBack(w: WebDaemon): Promise<void> {
  await until('both pools\' spares ready', async () => {
    for (const mode of MODES) {
      const p = await rootCall<PoolView>(w, 'GET', `/v1/pools/${mode}`);
      const failed = p.counts.byState.failed ?? 0;
      if (failed) throw new Error(`pool ${mode} has a failed desktop: see GET /v1/pools/${mode}/desktops`);
      if (p.counts.byState.ready !== 1 || p.counts.total !== 1) return undefined;
    }
    return true;
  }, DESKTOP_TIMEOUT_MS, 1000);
}

/** One person: login, Open, xterm drawn; the session's timeline; then Log off. */
async function screenRun(w: WebDaemon, page: Page, mode: Mode): Promise<ScreenRun> {
  const user = POOL_USER[mode];
  await page.goto(w.url);
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password').fill(PASSWORD);
  const submitted = performance.now();
  await page.getByRole('button', { name: 'Log in' }).click();
  const open = page.getByRole('button', { name: `Open ${mode}` });
  await open.waitFor({ timeout: 60_000 });
  const opened = performance.now();
  await open.click();
  await waitForXterm(page, DESKTOP_TIMEOUT_MS, `login-screen-${mode}-failure`);
  const drawn = performance.now();
  const session = (await rootCall<Array<{ user: string; desktop: string }>>(w, 'GET', '/v1/sessions')).find((s) => s.user === user);
  if (!session) throw new Error(`${user} has no session after the desktop was drawn`);
  // The first frame is recorded by the display gateway a moment after it is sent: wait for the complete timeline.
  const timeline = await until(`the login timeline of ${session.desktop}`, async () => {
    const [t] = await rootCall<TimelineView[]>(w, 'GET', `/v1/sessions/${session.desktop}/timeline?limit=1`);
    return t?.complete ? t : undefined;
  }, 30_000, 500).catch(async () => (await rootCall<TimelineView[]>(w, 'GET', `/v1/sessions/${session.desktop}/timeline?limit=1`))[0]);
  if (!timeline) throw new Error(`no login timeline for desktop ${session.desktop}`);
  await page.getByRole('button', { name: 'Log off' }).click();
  await page.getByRole('heading', { name: 'Your desktops' }).waitFor({ timeout: 60_000 });
  const stages = Object.fromEntries(timeline.stages.filter((s) => !s.skipped).map((s) => [s.stage, s.ms]));
  return { mode, loginMs: drawn - submitted, openMs: drawn - opened, stages };
}

export const loginScreenBenchmark: Benchmark = {
  name: 'login-screen',
  summary: 'login in Chromium → desktop (xterm) on the canvas: a warm booted spare vs a restored clone, alternated',
  async run(ctx): Promise<BenchResult> {
    const rounds = runsFromArgs(process.argv.slice(2));
    const w = await webDaemonStart();
    const browser = await browserLaunch();
    try {
      for (const mode of MODES) await userCreate(w, POOL_USER[mode], PASSWORD);
      const built = performance.now();
      await buildImage(w);
      ctx.log(`login-screen: image built in ${Math.round(performance.now() - built)} ms`);
      const pool = { image: IMAGE, coldSpares: 0, minDesktops: 0, maxDesktops: 1, memoryMiB: 1024 };
      await rootCall(w, 'POST', '/v1/pools', { ...pool, name: 'warm', startMode: 'boot', warmSpares: 1, entitled: { users: [POOL_USER.warm] } });
      // No spare until the template is ready: a spare made before then boots, and would stay a booted one.
      await rootCall(w, 'POST', '/v1/pools', { ...pool, name: 'restored', startMode: 'restore', warmSpares: 0, entitled: { users: [POOL_USER.restored] } });
      const template = await until('the restored pool\'s template settled', async () => {
        const t = (await rootCall<PoolView>(w, 'GET', '/v1/pools/restored')).template;
        return t && t.state !== 'building' ? t : undefined;
      }, DESKTOP_TIMEOUT_MS, 1000);
      ctx.log(`login-screen: template ${template.state}${template.reason ? ` (${template.reason})` : ''}, boot ${template.bootMs} ms, save ${template.saveMs} ms`);
      await rootCall(w, 'PATCH', '/v1/pools/restored', { warmSpares: 1 });
      const runs: ScreenRun[] = [];
      for (const { round: r, side: mode } of alternatedOrder(MODES, rounds)) {
        await sparesBack(w);
        const p = await pageOpen(browser);
        try {
          const run = await screenRun(w, p.page, mode);
          runs.push(run);
          ctx.log(`login-screen ${mode} #${r + 1}: login → xterm ${Math.round(run.loginMs)} ms, Open → xterm ${Math.round(run.openMs)} ms; stages ${JSON.stringify(run.stages)}`);
        } finally {
          await p.page.context().close();
        }
      }
      const restoredTemplate = (await rootCall<PoolView>(w, 'GET', '/v1/pools/restored')).template;
      const loginRatio = modeRatio(runs, 'loginMs');
      const openRatio = modeRatio(runs, 'openMs');
      const one = (label: string, v: number) => ({ label, unit: 'ratio' as const, n: 1, median: round(v, 3), min: round(v, 3), max: round(v, 3) });
      return {
        name: 'login-screen',
        rows: [
          ...MODES.flatMap((mode) => modeRows(mode, runs)),
          ...(loginRatio === null ? [] : [one('ratio restored / warm: login → xterm (medians)', loginRatio)]),
          ...(openRatio === null ? [] : [one('ratio restored / warm: Open → xterm (medians)', openRatio)]),
        ],
        verdicts: [],
        // A template that is not ready means the restored pool's spares booted: its figures are then boot figures.
        details: { rounds, memoryMiB: pool.memoryMiB, template: restoredTemplate, runs },
      };
    } finally {
      await browser.close();
      await w.daemon.destroy();
    }
  },
};
