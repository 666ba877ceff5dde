// The spare schedule over a real daemon (QEMU under TCG, the helper guest). A window that starts "now" warms its
// spares; the same instant read in a zone three hours ahead (serve reads schedules in its time zone, TZ here) is after
// the window, and the spares shrink. The boot time measured on the way survives the restart. A rule asking more warm
// desktops than the host can run is a pool condition that says why, in the API and in `pool show`.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { DesktopView, PoolView } from '../../src/contract/pools.js';
import { TestDaemon, until } from '../helpers/daemon.js';
import { cliJson } from '../images/support.js';
import { helperImage, poolShow, untilDesktops, userClient } from './support.js';
import { ForecastBody } from '../../src/api/responses-pools.js';
import type { Forecast } from '../../src/contract/pool-schedule.js';

let daemon: TestDaemon;
before(async () => {
  daemon = await TestDaemon.start({ env: { TZ: 'UTC' } });
  await helperImage(daemon, 'bb');
});
after(async () => daemon?.destroy());

const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);
const warm = (ds: DesktopView[]) => ds.filter((d) => d.user === null && (d.state === 'ready' || d.state === 'booting'));
const ready = (ds: DesktopView[]) => ds.filter((d) => d.user === null && d.state === 'ready');

test('a window starting now warms its spares; after it ends they shrink; the boot time is measured and kept', async () => {
  const start = Math.floor(Date.now() / 60_000) * 60_000;
  const rules = [`daily ${hhmm(start)} 2`, `daily ${hhmm(start + 2 * 3_600_000)} 0`];
  const created = await cliJson<PoolView>(daemon, ['pool', 'create', 'mo', '--image', 'bb', '--memory', '192M', '--warm', '0', '--max', '3', '--schedule', rules[0]!, '--schedule', rules[1]!]);
  assert.deepEqual(created.spareSchedule.map((r) => r.warm), [2, 0]);
  assert.equal(created.schedule?.timeZone, 'UTC');
  assert.equal(created.schedule?.warmTarget, 2, 'the window has started: warmSpares 0 is replaced');
  assert.equal(created.schedule?.inEffect, rules[0]);
  assert.equal(created.schedule?.next?.rule, rules[1]);

  await untilDesktops(daemon, 'mo', 'two warm spares from the schedule', (ds) => ready(ds).length === 2, 400_000);
  const measured = await until('a boot measured', async () => {
    const s = (await poolShow(daemon, 'mo')).schedule;
    return s && s.bootsMeasured >= 1 ? s : undefined;
  }, 30_000);
  assert.ok(measured.bootSeconds >= 0 && measured.bootSeconds < 600, `a plausible boot time: ${measured.bootSeconds} s`);
  const shown = await daemon.cli(['pool', 'show', 'mo']);
  assert.match(shown.stdout, new RegExp(`schedule ${rules[0]}; ${rules[1]} \\(time zone UTC\\)`));
  assert.match(shown.stdout, /warm now 2 \(rule in effect: daily \d\d:\d\d 2\); boot ~\d+ s \(measured over \d+ boots?\)/);

  // Same instant, three hours later on the wall clock: past the window's end (and before the next day's start).
  await daemon.kill('SIGTERM');
  await daemon.spawn({ TZ: 'Etc/GMT-3' });
  const later = await until('the schedule read in the new zone', async () => {
    const s = (await poolShow(daemon, 'mo')).schedule;
    return s?.timeZone === 'Etc/GMT-3' ? s : undefined;
  }, 60_000);
  assert.equal(later.inEffect, rules[1]);
  assert.equal(later.warmTarget, 0);
  assert.ok(later.bootsMeasured >= measured.bootsMeasured, 'the boot estimate was kept in the store');
  await untilDesktops(daemon, 'mo', 'no warm spare after the window', (ds) => warm(ds).length === 0, 240_000);
});

test('a schedule the host cannot run says why, in the API and `pool show`; an empty --schedule clears it', async () => {
  // In effect now: 0 (an hour ago); the 9000 comes in six hours, too far for its early boots to have started.
  const now = Date.now() + 3 * 3_600_000; // the daemon's wall clock (UTC+3)
  const rules = [`daily ${hhmm(now - 3_600_000)} 0`, `daily ${hhmm(now + 6 * 3_600_000)} 9000`];
  await cliJson<PoolView>(daemon, ['pool', 'create', 'big', '--image', 'bb', '--memory', '192M', '--warm', '0', '--max', '10000', '--schedule', rules[0]!, '--schedule', rules[1]!]);
  const pool = await poolShow(daemon, 'big');
  assert.equal(pool.schedule?.warmTarget, 0);
  assert.ok(pool.schedule?.capacity !== null && pool.schedule!.capacity < 9000, `capacity ${pool.schedule?.capacity}`);
  assert.equal(pool.schedule?.problems.length, 1);
  assert.match(pool.schedule!.problems[0]!, new RegExp(`rule '${rules[1]}' asks for 9000 warm desktops but the hosts can run ${pool.schedule!.capacity} of this pool \\(192 MiB, 1 vCPU each\\): lower the count, add a host`));
  const shown = await daemon.cli(['pool', 'show', 'big']);
  assert.match(shown.stdout, /SCHEDULE CANNOT BE MET: rule '.* 9000' asks for 9000 warm desktops/);
  assert.equal((await daemon.api().request<DesktopView[]>('GET', '/v1/pools/big/desktops')).length, 0, 'nothing cloned for a rule six hours away');

  const cleared = await cliJson<PoolView>(daemon, ['pool', 'set', 'big', '--schedule', '']);
  assert.deepEqual(cleared.spareSchedule, []);
  assert.equal(cleared.schedule, null);
  const bad = await daemon.cli(['pool', 'set', 'big', '--schedule', 'weekdays 07:45 40']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /not a schedule rule: write DAYS HH:MM COUNT/);
});

test('forecast: a real session is read from the audit (its connect and its recorded end), and the proposal applies', async () => {
  await daemon.api().request('PATCH', '/v1/pools/mo', { entitled: { users: ['fcu'], groups: [] } });
  const fcu = await userClient(daemon, 'fcu');
  const { desktop } = await fcu.request<{ desktop: DesktopView }>('POST', '/v1/pools/mo/connect', {});
  await fcu.request('POST', `/v1/sessions/${desktop.name}/logoff`);
  const ended = await until('the session end audited', async () => {
    const entries = await daemon.api().request<Array<{ action: string; target: string; detail: unknown }>>('GET', '/v1/audit?action=session.end');
    return entries.find((e) => e.action === 'session.end' && e.target === desktop.name);
  }, 120_000);
  assert.deepEqual((ended.detail as { pool: string; user: string }).pool, 'mo');

  const fc = ForecastBody.parse(await daemon.api().request<Forecast>('GET', '/v1/pools/mo/forecast?weeks=1&minWarm=1'));
  assert.equal(fc.sessionsSeen, 1);
  assert.equal(fc.timeZone, 'Etc/GMT-3');
  assert.equal(fc.hours.length, 168);
  assert.ok(fc.capacity !== null && fc.capacity >= 1);
  // The session's hour has not passed yet: every whole hour had none, so the floor of one warm spare all week.
  assert.deepEqual(fc.proposed, [{ days: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'], at: '00:00', warm: 1 }]);
  const printed = await daemon.cli(['pool', 'forecast', 'mo', '--weeks', '1']);
  assert.equal(printed.code, 0, printed.stderr);
  assert.match(printed.stdout, /pool mo: 1 session\(s\) over the last 1 week\(s\)/);
  assert.match(printed.stdout, /proposed schedule: daily 00:00 1/);
  const applied = await daemon.cli(['pool', 'forecast', 'mo', '--weeks', '1', '--apply']);
  assert.equal(applied.code, 0, applied.stderr);
  assert.deepEqual((await poolShow(daemon, 'mo')).spareSchedule, fc.proposed);
  assert.equal((await fcu.request<unknown>('GET', '/v1/pools/mo/forecast').then(() => 'allowed', (e: { code: string }) => e.code)), 'FORBIDDEN');
});
