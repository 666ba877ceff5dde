// The console's pool form sets a spare schedule, and the Pools page shows the pool's condition when the hosts cannot
// run it (Debian's chromium against a real daemon). Desktops of 1 TiB fit no test host: nothing boots, the condition shows.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Browser } from 'playwright-core';
import type { PoolView } from '../../src/contract/pools.js';
import { adminConsoleTestbed, assertNoConsoleErrors, CONSOLE_ADMIN, login, pageOpen, rootCall, screenshot, until, type WebDaemon } from './browser.js';
import { helperImage } from '../pools/support.js';

let w: WebDaemon;
let browser: Browser;

adminConsoleTestbed(async (bed) => {
  ({ w, browser } = bed);
  await helperImage(bed.w.daemon, 'ps-bb');
});

test('the pool form sets a spare schedule; the Pools page says why the hosts cannot run it', async () => {
  const p = await pageOpen(browser);
  await login(p.page, `${w.url}/admin/pools`, ...CONSOLE_ADMIN);
  await p.page.getByRole('button', { name: 'New pool' }).click();
  const form = p.page.getByRole('form', { name: 'Create a pool' });
  await form.getByLabel('Name', { exact: true }).fill('morning');
  await form.locator('option[value="ps-bb"]').waitFor({ state: 'attached' });
  await form.locator('label.field:has(span.field-label:text-is("Image")) select').selectOption('ps-bb');
  await form.getByLabel('Memory (MiB)', { exact: true }).fill(String(1024 * 1024));
  await form.getByLabel(/Spare schedule/).fill('mon-fri 07:45 3\nweekdays 18:00 1');
  await form.getByRole('button', { name: 'Create pool' }).click();
  await p.page.getByText(/Spare schedule: "weekdays 18:00 1" is not a schedule rule/).waitFor();
  assert.equal((await rootCall<PoolView[]>(w, 'GET', '/v1/pools')).length, 0, 'a line that is not a rule stops the save');

  await form.getByLabel(/Spare schedule/).fill('mon-fri 07:45 3\nmon-fri 18:00 1');
  await form.getByRole('button', { name: 'Create pool' }).click();
  const cell = p.page.getByTestId('pool-schedule-morning');
  await cell.getByText(/Schedule cannot be met: rule 'mon-fri 07:45 3' asks for 3 warm desktops but the hosts can run 0 of this pool/).waitFor({ timeout: 60_000 });
  assert.match(await cell.innerText(), /0 warm by schedule/);
  await screenshot(p.page, 'admin-pools-schedule-cannot-be-met');
  const pool = await rootCall<PoolView>(w, 'GET', '/v1/pools/morning');
  assert.deepEqual(pool.spareSchedule, [
    { days: ['mon', 'tue', 'wed', 'thu', 'fri'], at: '07:45', warm: 3 },
    { days: ['mon', 'tue', 'wed', 'thu', 'fri'], at: '18:00', warm: 1 },
  ]);

  // Edit shows the rules as written, one a line.
  await p.page.getByRole('button', { name: 'Edit morning' }).click();
  assert.equal(await p.page.getByRole('form', { name: 'Edit pool morning' }).getByLabel(/Spare schedule/).inputValue(), 'mon-fri 07:45 3\nmon-fri 18:00 1');
  assertNoConsoleErrors(p);
  await p.page.context().close();
});

test('a pool form opened before the image list arrived takes the image its select shows', async () => {
  const p = await pageOpen(browser);
  // The image list is held back until the form is open: the draft must follow the list when it comes.
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  await p.page.route('**/v1/images', async (route) => {
    await held;
    await route.continue();
  });
  await login(p.page, `${w.url}/admin/pools`, ...CONSOLE_ADMIN);
  await p.page.getByRole('button', { name: 'New pool' }).click();
  const form = p.page.getByRole('form', { name: 'Create a pool' });
  await form.getByLabel('Name', { exact: true }).fill('early');
  release();
  await form.locator('option[value="ps-bb"]').waitFor({ state: 'attached' });
  await form.getByLabel('Warm spares (running, waiting)').fill('0');
  await form.getByRole('button', { name: 'Create pool' }).click();
  const pool = await until('the pool made from the form', async () => (await rootCall<PoolView[]>(w, 'GET', '/v1/pools')).find((x) => x.name === 'early'), 30_000);
  assert.equal(pool.image, 'ps-bb');
  assertNoConsoleErrors(p);
  await p.page.context().close();
  await rootCall(w, 'DELETE', '/v1/pools/early');
});
