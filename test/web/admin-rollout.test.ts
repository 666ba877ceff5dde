// The administrator's image work in the browser, on a pool of the busybox test guest (fast under TCG): open
// a maintenance session from the Images page, see its console in the page through the display gateway,
// publish, and watch the pool roll its spare onto the new version — live, without reloading.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { runCli } from '../helpers/daemon.js';
import { guestArtifacts } from '../helpers/guests.js';
import { buildHelperGuest, KERNEL_APPEND } from '../image-build/helper-guest.js';
import { assertNoConsoleErrors, browserLaunch, login, pageOpen, rootCall, screenshot, until, userCreate, webDaemonStart, type WebDaemon } from './browser.js';

const ADMIN = { name: 'ada', password: 'rollout-passphrase' };
const TIMEOUT_MS = 300_000;

describe('admin console: image maintenance and a rolling pool update', () => {
  let w: WebDaemon;
  let browser: Browser;

  before(async () => {
    w = await webDaemonStart();
    browser = await browserLaunch();
    await userCreate(w, ADMIN.name, ADMIN.password, ['admin', 'user']);
    const guest = buildHelperGuest(mkdtempSync('/tmp/wimg-'));
    const made = await runCli(w.daemon.dataDir, ['image', 'create', 'bb', '--from', guest.root, '--kernel', guest.kernel, '--initrd', guest.initrd, '--cmdline', KERNEL_APPEND, '--memory', '192M']);
    assert.equal(made.code, 0, made.stderr);
    await rootCall(w, 'POST', '/v1/pools', { name: 'roll', image: 'bb', warmSpares: 1, maxDesktops: 2, memoryMiB: 192, entitled: { users: [ADMIN.name] } });
  });
  after(async () => {
    await browser?.close();
    await w?.daemon.destroy();
  });

  it('edits the image in a maintenance console, publishes, and the pool rolls to version 2', async () => {
    const p = await pageOpen(browser);
    await login(p.page, `${w.url}/admin/pools`, ADMIN.name, ADMIN.password);
    await p.page.getByTestId('pool-states-roll').filter({ hasText: 'ready: 1' }).waitFor({ timeout: TIMEOUT_MS });
    await p.page.getByTestId('pool-versions-roll').filter({ hasText: '1: 1' }).waitFor({ timeout: TIMEOUT_MS });

    await p.page.getByRole('link', { name: 'Images' }).click();
    await p.page.getByRole('button', { name: 'Edit', exact: true }).click();
    await p.page.getByRole('button', { name: 'Open console' }).click({ timeout: TIMEOUT_MS });
    await p.page.locator('[data-status="connected"]').waitFor({ timeout: TIMEOUT_MS });
    const vms = await rootCall<Array<{ name: string; state: string }>>(w, 'GET', '/v1/vms');
    assert.ok(vms.some((v) => v.name === 'maint-bb' && v.state === 'running'), 'the maintenance VM runs');
    await screenshot(p.page, 'admin-maintenance-console');

    // Publish powers the maintenance VM off with the ACPI button: let its guest finish booting first.
    const banner = guestArtifacts().amd64.banner;
    await until('the maintenance guest booted', async () => (await runCli(w.daemon.dataDir, ['vm', 'log', 'maint-bb'])).stdout.includes(banner), TIMEOUT_MS, 1000);
    await p.page.getByRole('button', { name: 'Publish' }).click();
    await p.page.getByText('current version 2').waitFor({ timeout: TIMEOUT_MS });

    await p.page.getByRole('link', { name: 'Pools' }).click();
    await p.page.getByTestId('pool-versions-roll').filter({ hasText: /^2: 1$/ }).waitFor({ timeout: TIMEOUT_MS });
    await p.page.getByTestId('pool-states-roll').filter({ hasText: 'ready: 1' }).waitFor({ timeout: TIMEOUT_MS });
    await screenshot(p.page, 'admin-pool-rolled');
    const desktops = await until('the spare on version 2', async () => {
      const ds = await rootCall<Array<{ imageVersion: number; state: string }>>(w, 'GET', '/v1/pools/roll/desktops');
      return ds.every((d) => d.imageVersion === 2) && ds.some((d) => d.state === 'ready') ? ds : undefined;
    }, TIMEOUT_MS, 1000);
    assert.ok(desktops.length >= 1);
    assertNoConsoleErrors(p);
    await p.page.context().close();
  });
});
