// The login timeline (issue 17), end to end: a user logs in through the portal in Chromium and opens a desktop
// of a pool with no warm spare (so it is cloned and booted for them); every stage is recorded in order, with
// the first frame (seen in the display path) last; the pool's p50/p95 per stage, the per-stage histogram and
// the console's bar on the Sessions page show it; the usage report (API, CLI CSV, console page) counts the session.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { TIMELINE_STAGES, type PoolTimelineAggregate, type TimelineView, type UsageReportView } from '../../src/contract/timeline.js';
import type { SessionInfo } from '../../src/contract/pools.js';
import { runCli } from '../helpers/daemon.js';
import { buildHelperGuest, KERNEL_APPEND } from '../image-build/helper-guest.js';
import { assertNoConsoleErrors, browserLaunch, login, pageOpen, rootCall, screenshot, until, userCreate, webDaemonStart, type WebDaemon } from './browser.js';

const TIMEOUT_MS = 300_000;
const PASSWORD = 'correct-horse-staple-42';

describe('the login timeline', () => {
  let w: WebDaemon;
  let browser: Browser;

  before(async () => {
    w = await webDaemonStart();
    browser = await browserLaunch();
    const guest = buildHelperGuest(mkdtempSync('/tmp/wtl-'));
    const made = await runCli(w.daemon.dataDir, ['image', 'create', 'bb', '--from', guest.root, '--format', 'raw', '--kernel', guest.kernel, '--initrd', guest.initrd, '--cmdline', KERNEL_APPEND, '--memory', '192M']);
    assert.equal(made.code, 0, made.stderr);
    await userCreate(w, 'tim', PASSWORD);
    await userCreate(w, 'tia', PASSWORD, ['admin', 'user']);
    await rootCall(w, 'POST', '/v1/pools', { name: 'tl', image: 'bb', warmSpares: 0, maxDesktops: 1, memoryMiB: 192, homeSizeBytes: 64 * 2 ** 20, entitled: { users: ['tim'] } });
  });
  after(async () => {
    await browser?.close();
    await w?.daemon.destroy();
  });

  it('records every stage in order, the first frame last; the pool aggregate, the histogram and the console bar show it', async (t) => {
    const p = await pageOpen(browser);
    await login(p.page, w.url, 'tim', PASSWORD);
    await p.page.getByRole('button', { name: 'Open tl' }).click();
    await p.page.locator('[data-status="connected"]').waitFor({ timeout: TIMEOUT_MS });
    const desktop = (await rootCall<SessionInfo[]>(w, 'GET', '/v1/sessions')).find((s) => s.user === 'tim')!.desktop;

    let seen: TimelineView[] = [];
    const [timeline] = await until(
      'the login timeline complete',
      async () => {
        seen = await rootCall<TimelineView[]>(w, 'GET', `/v1/sessions/${desktop}/timeline`);
        return seen[0]?.complete ? seen : undefined;
      },
      60_000,
      500,
    ).catch((err: Error) => {
      const log = w.daemon.output.split('\n').filter((l) => /timeline|display/i.test(l)).slice(-20).join('\n');
      throw new Error(`${err.message}; recorded: ${JSON.stringify(seen)}\n${log}`);
    });
    assert.ok(timeline);
    t.diagnostic(`login timeline: ${timeline.stages.map((s) => `${s.stage}${s.detail ? `(${s.detail})` : ''} +${s.ms} ms`).join(', ')}; total ${timeline.totalMs} ms`);
    assert.deepEqual(timeline.stages.map((s) => s.stage), [...TIMELINE_STAGES], 'every stage, in order, the first frame last');
    assert.deepEqual(timeline.stages.filter((s) => s.skipped).map((s) => s.stage), [], 'nothing skipped: no warm spare, a home, a display');
    assert.equal(timeline.stages.find((s) => s.stage === 'broker')!.detail, 'clone');
    assert.equal(timeline.stages.find((s) => s.stage === 'spare')!.detail, 'clone');
    const times = timeline.stages.map((s) => Date.parse(s.at));
    assert.deepEqual([...times].sort((a, b) => a - b), times, 'the stages are in time order');
    assert.equal(timeline.totalMs, times.at(-1)! - times[0]!);
    assert.equal(timeline.user, 'tim');
    assert.equal(timeline.pool, 'tl');
    // A clone and a boot take seconds; the stages after it are measured too.
    assert.ok(timeline.stages.find((s) => s.stage === 'spare')!.ms > 100, `the spare wait is measured: ${JSON.stringify(timeline.stages)}`);

    const agg = await rootCall<PoolTimelineAggregate>(w, 'GET', '/v1/pools/tl/timeline');
    assert.equal(agg.sessions, 1);
    assert.equal(agg.total.count, 1);
    assert.equal(agg.total.p50Ms, timeline.totalMs);
    for (const stage of TIMELINE_STAGES.slice(1)) {
      const row = agg.stages.find((s) => s.stage === stage)!;
      assert.equal(row.count, 1, `${stage} counted once`);
      assert.equal(row.p95Ms, timeline.stages.find((s) => s.stage === stage)!.ms);
    }
    const old = await rootCall<PoolTimelineAggregate>(w, 'GET', `/v1/pools/tl/timeline?from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z`);
    assert.equal(old.sessions, 0, 'a window before the login has none');

    const metrics = await (await fetch(`${w.url}/metrics`, { headers: { authorization: `Bearer ${w.rootToken}` } })).text();
    for (const stage of TIMELINE_STAGES.slice(1)) {
      assert.match(metrics, new RegExp(`ardesia_login_stage_seconds_count\\{pool="tl",stage="${stage}"\\} 1\\n`), `the ${stage} histogram`);
    }
    assertNoConsoleErrors(p);

    // The usage report counts the same session, its boot and its login wait; the CLI gives it as CSV.
    const usage = await rootCall<UsageReportView>(w, 'GET', '/v1/reports/usage');
    assert.deepEqual(usage.sessions, [{ pool: 'tl', user: 'tim', day: timeline.startedAt.slice(0, 10), sessions: 1 }]);
    assert.deepEqual(usage.peaks.map((x) => [x.pool, x.peak]), [['tl', 1]]);
    assert.equal(usage.desktops.find((d) => d.pool === 'tl')?.booted, 1);
    const started = Date.parse(timeline.stages.find((s) => s.stage === 'session-started')!.at);
    assert.deepEqual(usage.waits, [{ pool: 'tl', logins: 1, p50Ms: started - times[0]!, p95Ms: started - times[0]! }]);
    const csv = await runCli(w.daemon.dataDir, ['report', 'usage', '--csv']);
    assert.equal(csv.code, 0, csv.stderr);
    const lines = csv.stdout.split('\r\n');
    assert.equal(lines[0], 'measure,pool,user,day,value');
    assert.ok(lines.includes(`sessions,tl,tim,${timeline.startedAt.slice(0, 10)},1`), csv.stdout);
    assert.ok(lines.includes(`login-wait-p95-ms,tl,,,${started - times[0]!}`), csv.stdout);

    const admin = await pageOpen(browser);
    await login(admin.page, `${w.url}/admin/sessions`, 'tia', PASSWORD);
    const bar = admin.page.getByTestId(`timeline-${desktop}`);
    await bar.waitFor({ timeout: 30_000 });
    assert.equal(await bar.getAttribute('data-complete'), 'true');
    assert.ok((await bar.locator('rect[data-stage="spare"]').count()) === 1, 'the spare wait is a segment of the bar');
    await screenshot(admin.page, 'admin-sessions-login-timeline');
    await admin.page.getByRole('navigation', { name: 'Admin sections' }).getByRole('link', { name: 'Usage', exact: true }).click();
    await admin.page.getByTestId('usage-sessions-chart').locator('rect').first().waitFor({ timeout: 30_000 });
    await screenshot(admin.page, 'admin-usage');
    assertNoConsoleErrors(admin);

    // A logoff ends the session and resets the desktop: both are counted, and no session is open after it.
    await rootCall(w, 'POST', `/v1/sessions/${desktop}/logoff`);
    const after = await until(
      'the reset counted',
      async () => {
        const u = await rootCall<UsageReportView>(w, 'GET', '/v1/reports/usage');
        return u.desktops.find((d) => d.pool === 'tl')?.reset === 1 ? u : undefined;
      },
      TIMEOUT_MS,
      500,
    );
    assert.deepEqual(after.peaks.map((x) => [x.pool, x.peak]), [['tl', 1]]);
    const later = await rootCall<UsageReportView>(w, 'GET', `/v1/reports/usage?from=${encodeURIComponent(new Date().toISOString())}&to=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`);
    assert.deepEqual(later.peaks.filter((x) => x.peak > 0), [], 'no session open after the logoff');
  });
});
