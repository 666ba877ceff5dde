// The console's Hosts page in Debian's chromium against a real daemon (a one-node cluster): the host with its state
// and capacity; Drain from the page (the host is in maintenance at once: nothing runs there); an undrain made
// elsewhere (the API) reaches the open page live through the events feed; Remove is refused for the controller. The
// Pools page says why a pool cannot place (a label no host has).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Browser } from 'playwright-core';
import type { HostView } from '../../src/contract/hosts.js';
import { adminConsoleTestbed, assertNoConsoleErrors, CONSOLE_ADMIN, login, pageOpen, rootCall, screenshot, type WebDaemon } from './browser.js';
import { helperImage } from '../pools/support.js';

let w: WebDaemon;
let browser: Browser;

adminConsoleTestbed(async (bed) => {
  ({ w, browser } = bed);
});

test('the Hosts page shows the host, drains it, and follows an undrain made elsewhere live', async () => {
  const [host] = await rootCall<HostView[]>(w, 'GET', '/v1/hosts');
  const name = host!.name;
  const p = await pageOpen(browser);
  await login(p.page, `${w.url}/admin/hosts`, ...CONSOLE_ADMIN);
  const table = p.page.getByRole('table', { name: /Hosts/ });
  const row = table.getByRole('row', { name: new RegExp(`${name} \\(controller\\)`) });
  await row.getByText('up', { exact: true }).waitFor();
  assert.match(await row.innerText(), new RegExp(`0 of \\d+ MiB \\(${host!.capacity.memoryMiB} MiB × 1.5\\)`));
  assert.equal(await row.getByRole('button', { name: `Remove ${name}` }).isDisabled(), true, "the controller's own host cannot be removed");

  p.page.once('dialog', (d) => void d.accept());
  await row.getByRole('button', { name: `Drain ${name}` }).click();
  await row.getByText('maintenance', { exact: true }).waitFor();
  await screenshot(p.page, 'admin-hosts-maintenance');

  await rootCall(w, 'POST', `/v1/hosts/${name}/undrain`);
  await row.getByText('up', { exact: true }).waitFor({ timeout: 15_000 });
  assert.equal((await rootCall<HostView[]>(w, 'GET', '/v1/hosts'))[0]!.state, 'up');
  assertNoConsoleErrors(p);
  await p.page.context().close();
});

test('the Pools page says why a pool cannot place a desktop: a label no host has', async () => {
  await helperImage(w.daemon, 'hp-bb');
  await rootCall(w, 'POST', '/v1/pools', { name: 'gpu-lab', image: 'hp-bb', warmSpares: 1, maxDesktops: 1, memoryMiB: 192, hostLabels: { require: ['gpu'] } });
  const p = await pageOpen(browser);
  await login(p.page, `${w.url}/admin/pools`, ...CONSOLE_ADMIN);
  const cell = p.page.getByTestId('pool-placement-gpu-lab');
  await cell.getByText(/Cannot place \(PLACEMENT_NO_LABELED_HOST\)/).waitFor({ timeout: 60_000 });
  assert.match(await cell.innerText(), /lacks label gpu/);
  await screenshot(p.page, 'admin-pools-cannot-place');
  assertNoConsoleErrors(p);
  await p.page.context().close();
  await rootCall(w, 'DELETE', '/v1/pools/gpu-lab');
});
