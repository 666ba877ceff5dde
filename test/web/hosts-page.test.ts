// The console's Hosts page in Debian's chromium against a real daemon (a one-node cluster): the host with its state
// and capacity; Drain from the page (the host is in maintenance at once: nothing runs there); an undrain made
// elsewhere (the API) reaches the open page live through the events feed; Remove is refused for the controller. The
// Pools page says why a pool cannot place (a label no host has). KSM is shown per host and toggled from the page.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Browser } from 'playwright-core';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HostView, KsmReport } from '../../src/contract/hosts.js';
import type { PoolView } from '../../src/contract/pools.js';
import { KSM_SYSFS_DIR } from '../../src/hypervisor/host/ksm.js';
import { adminConsoleTestbed, assertNoConsoleErrors, CONSOLE_ADMIN, login, pageOpen, rootCall, screenshot, until, type WebDaemon } from './browser.js';
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
  // Its QEMU as its host check found it (here TCG); nothing to compare it with: no badge.
  assert.ok(host!.qemu?.version, 'the host check found QEMU');
  assert.ok((await row.innerText()).includes(`${host!.qemu!.version}, ${host!.qemu!.accel}`), await row.innerText());
  assert.equal(await row.getByText("differs from the controller's").count(), 0);

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

test("the Hosts page shows KSM and turns it on and off on the machine's real sysfs (restored afterwards)", { skip: !existsSync(KSM_SYSFS_DIR) && 'this kernel has no KSM' }, async () => {
  const sysfs = (f: string) => readFileSync(join(KSM_SYSFS_DIR, f), 'utf8').trim();
  const saved = { pages_to_scan: sysfs('pages_to_scan'), sleep_millisecs: sysfs('sleep_millisecs'), run: sysfs('run') };
  const [host] = await rootCall<HostView[]>(w, 'GET', '/v1/hosts');
  const name = host!.name;
  const p = await pageOpen(browser);
  try {
    await rootCall(w, 'PUT', `/v1/hosts/${name}/ksm`, { mode: 'off' });
    await login(p.page, `${w.url}/admin/hosts`, ...CONSOLE_ADMIN);
    const row = p.page.getByRole('table', { name: /Hosts/ }).getByRole('row', { name: new RegExp(`${name} \\(controller\\)`) });
    await row.getByText(/^off, [\d.]+ MiB saved$/).waitFor();
    await row.getByRole('button', { name: `Turn KSM on on ${name}` }).click();
    await row.getByText(/^on, [\d.]+ MiB saved$/).waitFor();
    assert.equal(sysfs('run'), '1');
    assert.equal((await rootCall<KsmReport>(w, 'GET', `/v1/hosts/${name}/ksm`)).mode, 'on');
    await screenshot(p.page, 'admin-hosts-ksm');
    p.page.once('dialog', (d) => void d.accept());
    await row.getByRole('button', { name: `Turn KSM off on ${name}` }).click();
    await row.getByText(/^off, [\d.]+ MiB saved$/).waitFor();
    assert.equal(sysfs('run'), '0');
    assertNoConsoleErrors(p);
  } finally {
    await p.page.context().close();
    writeFileSync(join(KSM_SYSFS_DIR, 'pages_to_scan'), saved.pages_to_scan);
    writeFileSync(join(KSM_SYSFS_DIR, 'sleep_millisecs'), saved.sleep_millisecs);
    if (saved.run !== '2') writeFileSync(join(KSM_SYSFS_DIR, 'run'), saved.run);
  }
});

test('the Pools page says why a pool cannot place a desktop: a label no host has; labels set on the Hosts page let it place', async () => {
  await helperImage(w.daemon, 'hp-bb');
  await rootCall(w, 'POST', '/v1/pools', { name: 'gpu-lab', image: 'hp-bb', warmSpares: 1, maxDesktops: 1, memoryMiB: 192, hostLabels: { require: ['gpu'] } });
  const p = await pageOpen(browser);
  await login(p.page, `${w.url}/admin/pools`, ...CONSOLE_ADMIN);
  const cell = p.page.getByTestId('pool-placement-gpu-lab');
  await cell.getByText(/Cannot place \(PLACEMENT_NO_LABELED_HOST\)/).waitFor({ timeout: 60_000 });
  assert.match(await cell.innerText(), /lacks label gpu/);
  await screenshot(p.page, 'admin-pools-cannot-place');

  const [host] = await rootCall<HostView[]>(w, 'GET', '/v1/hosts');
  await p.page.goto(`${w.url}/admin/hosts`);
  const row = p.page.getByRole('table', { name: /Hosts/ }).getByRole('row', { name: new RegExp(`${host!.name} \\(controller\\)`) });
  p.page.once('dialog', (d) => void d.accept('gpu  rack=a'));
  await row.getByRole('button', { name: `Labels of ${host!.name}` }).click();
  await row.getByText('gpu, rack=a', { exact: true }).waitFor();
  assert.deepEqual((await rootCall<HostView[]>(w, 'GET', '/v1/hosts'))[0]!.labels, ['gpu', 'rack=a']);
  await until('the pool places again', async () => ((await rootCall<PoolView>(w, 'GET', '/v1/pools/gpu-lab')).cannotPlace === null ? true : undefined), 60_000);
  assertNoConsoleErrors(p);
  await p.page.context().close();
  await rootCall(w, 'DELETE', '/v1/pools/gpu-lab');
  await rootCall(w, 'PUT', `/v1/hosts/${host!.name}/labels`, { labels: [] });
});
