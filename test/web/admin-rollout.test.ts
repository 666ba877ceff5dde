// The administrator's image work in the browser, on a pool of the busybox test guest (fast under TCG): open
// a maintenance session from the Images page, see its console in the page through the display gateway,
// publish, and watch the pool roll its spare onto the new version — live, without reloading — with the guest
// reading what the maintenance session wrote; the Desktops page's screen thumbnails; a failed desktop's reason
// and its Retry button; a SPICE pool's session handed to a native client as a .vv from the portal.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { SPICE_LINK_ERR_OK, spiceLink } from '../gateway/protocols.js';
import { runCli } from '../helpers/daemon.js';
import { guestArtifacts } from '../helpers/guests.js';
import { buildHelperGuest, KERNEL_APPEND } from '../image-build/helper-guest.js';
import { typeAndExpect } from '../images/support.js';
import { assertNoConsoleErrors, browserLaunch, login, pageOpen, rootCall, screenshot, until, userCreate, webDaemonStart, type WebDaemon } from './browser.js';

const ADMIN = { name: 'ada', password: 'rollout-passphrase' };
const USER = { name: 'bea', password: 'native-client-passphrase' };
const OTHER = { name: 'cid', password: 'other-user-passphrase' };
const TIMEOUT_MS = 300_000;

describe('admin console: image maintenance and a rolling pool update', () => {
  let w: WebDaemon;
  let browser: Browser;

  before(async () => {
    w = await webDaemonStart();
    browser = await browserLaunch();
    await userCreate(w, ADMIN.name, ADMIN.password, ['admin', 'user']);
    await userCreate(w, USER.name, USER.password);
    await userCreate(w, OTHER.name, OTHER.password);
    const guest = buildHelperGuest(mkdtempSync('/tmp/wimg-'));
    const made = await runCli(w.daemon.dataDir, ['image', 'create', 'bb', '--from', guest.root, '--format', 'raw', '--kernel', guest.kernel, '--initrd', guest.initrd, '--cmdline', KERNEL_APPEND, '--memory', '192M']);
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
    const [before] = await rootCall<Array<{ name: string; state: string }>>(w, 'GET', '/v1/pools/roll/desktops');

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
    // What version 2 holds: a file written in the maintenance session, read back from the rolled spare below.
    await typeAndExpect(w.daemon, 'maint-bb', 'echo release-2 > /release; sync; echo m-$((30+3))', 'm-33');
    await p.page.getByRole('button', { name: 'Publish' }).click();
    await p.page.getByText('current version 2').waitFor({ timeout: TIMEOUT_MS });

    await p.page.getByRole('link', { name: 'Pools' }).click();
    await p.page.getByTestId('pool-versions-roll').filter({ hasText: /^2: 1$/ }).waitFor({ timeout: TIMEOUT_MS });
    await p.page.getByTestId('pool-states-roll').filter({ hasText: 'ready: 1' }).waitFor({ timeout: TIMEOUT_MS });
    await screenshot(p.page, 'admin-pool-rolled');
    const desktops = await until('the spare on version 2', async () => {
      const ds = await rootCall<Array<{ name: string; imageVersion: number; state: string }>>(w, 'GET', '/v1/pools/roll/desktops');
      return ds.every((d) => d.imageVersion === 2) && ds.some((d) => d.state === 'ready') ? ds : undefined;
    }, TIMEOUT_MS, 1000);
    // The spare was re-cloned in place (not retired for a new one), and it really runs version 2.
    assert.deepEqual(desktops.map((d) => d.name), [before!.name]);
    const system = join(w.daemon.dataDir, 'desktops', before!.name, 'system.qcow2');
    const info = JSON.parse(execFileSync('qemu-img', ['info', '-U', '--output=json', system], { encoding: 'utf8' })) as { 'backing-filename': string };
    assert.match(info['backing-filename'], /images\/bb\/2\.qcow2$/);
    await typeAndExpect(w.daemon, before!.name, 'echo rel-$(cat /release)-end', 'rel-release-2-end');
    assertNoConsoleErrors(p);
    await p.page.context().close();
  });

  it("shows a running desktop's screen as a thumbnail on the Desktops page", async () => {
    const p = await pageOpen(browser);
    await login(p.page, `${w.url}/admin/desktops`, ADMIN.name, ADMIN.password);
    await p.page.getByRole('heading', { name: 'Desktops', level: 1 }).waitFor();
    const ready = await until('a ready desktop', async () => (await rootCall<Array<{ name: string; state: string }>>(w, 'GET', '/v1/pools/roll/desktops')).find((d) => d.state === 'ready'), TIMEOUT_MS, 1000);
    const thumb = p.page.getByRole('img', { name: `Screen of ${ready.name}` });
    await thumb.waitFor({ timeout: 30_000 });
    const size = await until('the thumbnail loaded', async () => {
      const s = await thumb.evaluate((img: HTMLImageElement) => ({ complete: img.complete, width: img.naturalWidth, height: img.naturalHeight }));
      return s.complete && s.width > 0 ? s : undefined;
    }, 30_000, 500);
    assert.ok(size.height > 0, `a real picture (${size.width}×${size.height})`);
    await screenshot(p.page, 'admin-desktops-thumbnails');
    assertNoConsoleErrors(p);
    await p.page.context().close();
  });

  it('shows why a desktop failed on the Desktops page, and its Retry button brings it back', async () => {
    // The pool's only desktop: while it is failed the planner makes no other, so the retried one is booted back.
    await rootCall(w, 'PATCH', '/v1/pools/roll', { maxDesktops: 1 });
    // Run alone, the spare may still be booting: wait for it (after the earlier tests it is ready already).
    const [spare, ...others] = await until('one ready desktop', async () => {
      const ds = await rootCall<Array<{ name: string; state: string }>>(w, 'GET', '/v1/pools/roll/desktops');
      return ds.length === 1 && ds[0]!.state === 'ready' ? ds : undefined;
    }, TIMEOUT_MS, 1000);
    assert.equal(spare?.state, 'ready');
    assert.deepEqual(others, []);
    const p = await pageOpen(browser);
    await login(p.page, `${w.url}/admin/desktops`, ADMIN.name, ADMIN.password);
    await p.page.getByRole('heading', { name: 'Desktops', level: 1 }).waitFor();
    // A real failure: the spare's QEMU killed under it.
    const vm = await rootCall<{ pid: number | null }>(w, 'GET', `/v1/vms/${spare!.name}`);
    assert.ok(vm.pid, 'the spare runs');
    process.kill(vm.pid, 'SIGKILL');
    const reason = p.page.getByTestId(`failure-${spare!.name}`);
    await reason.filter({ hasText: 'failed while waiting as a spare: the VM exited:' }).waitFor({ timeout: 60_000 });
    await reason.getByText('Details').click();
    await reason.getByText('VM exit:').waitFor();
    await screenshot(p.page, 'admin-desktop-failed');
    await p.page.getByRole('button', { name: `Retry ${spare!.name}` }).click();
    await until('the retried desktop ready', async () => (await rootCall<Array<{ name: string; state: string }>>(w, 'GET', '/v1/pools/roll/desktops')).find((d) => d.name === spare!.name && d.state === 'ready'), TIMEOUT_MS, 1000);
    await reason.waitFor({ state: 'detached', timeout: 30_000 });
    assert.equal(await p.page.getByRole('button', { name: `Retry ${spare!.name}` }).count(), 0, 'Retry only on a failed desktop');
    // The thumbnail may ask for the screen of the VM just killed (409, drawn as "no picture"): only that is expected.
    const screendump = `/v1/vms/${spare!.name}/screendump`;
    assert.deepEqual(p.errors.filter((e) => !e.includes(screendump)), [], 'no other console error');
    await p.page.context().close();
  });

  it('hands the owner of a session in a SPICE pool a working .vv from the portal; others get none', async () => {
    // The administrator creates the pool in the console, with the SPICE option.
    const a = await pageOpen(browser);
    await login(a.page, `${w.url}/admin/pools`, ADMIN.name, ADMIN.password);
    await a.page.getByRole('button', { name: 'New pool' }).click();
    const form = a.page.getByRole('form', { name: 'Create a pool' });
    await form.getByLabel('Name', { exact: true }).fill('native');
    await form.getByLabel('Warm spares (running, waiting)').fill('1');
    await form.getByLabel('Maximum desktops', { exact: true }).fill('1');
    await form.getByLabel('Memory (MiB)').fill('192');
    await form.getByLabel('SPICE display for native clients').check();
    assert.equal(await form.getByLabel('SPICE listen address').inputValue(), '127.0.0.1', 'loopback unless the administrator says otherwise');
    await form.getByLabel('Entitled users').fill(`${USER.name}, ${OTHER.name}`);
    await form.getByRole('button', { name: 'Create pool' }).click();
    await a.page.getByTestId('pool-states-native').waitFor({ timeout: 30_000 });
    assertNoConsoleErrors(a);
    await a.page.context().close();
    assert.deepEqual((await rootCall<{ spice?: unknown }>(w, 'GET', '/v1/pools/native')).spice, { listen: '127.0.0.1' });
    await until('the native pool\'s spare', async () => (await rootCall<Array<{ state: string }>>(w, 'GET', '/v1/pools/native/desktops')).some((d) => d.state === 'ready'), TIMEOUT_MS, 1000);
    const tokenOf = async (u: { name: string; password: string }) =>
      (await (await fetch(`${w.url}/v1/auth/tokens`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: u.name, password: u.password }) })).json() as { token: string }).token;
    const userToken = await tokenOf(USER);
    const otherToken = await tokenOf(OTHER);
    const connect = await fetch(`${w.url}/v1/pools/native/connect`, { method: 'POST', headers: { authorization: `Bearer ${userToken}`, 'content-type': 'application/json' }, body: '{}' });
    assert.equal(connect.status, 200, await connect.clone().text());
    const desktop = ((await connect.json()) as { desktop: { name: string } }).desktop.name;

    const vvAs = (token?: string) => fetch(`${w.url}/v1/desktops/${desktop}/spice.vv`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    assert.equal((await vvAs()).status, 401, 'anonymous');
    assert.equal((await vvAs(otherToken)).status, 403, 'another user');
    assert.equal((await vvAs(w.rootToken)).status, 200, 'an administrator');

    const p = await pageOpen(browser);
    await login(p.page, w.url, USER.name, USER.password);
    const button = p.page.getByRole('link', { name: 'Open in native client (.vv)' });
    await button.waitFor({ timeout: 30_000 });
    await screenshot(p.page, 'portal-native-client');
    const [download] = await Promise.all([p.page.waitForEvent('download'), button.click()]);
    assert.equal(download.suggestedFilename(), `${desktop}.vv`);
    const vv = Object.fromEntries(readFileSync((await download.path())!, 'utf8').split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    assert.equal(vv.type, 'spice');
    assert.equal(vv.host, '127.0.0.1', 'SPICE on loopback unless the pool says otherwise');
    assert.ok(Number(vv.port) > 0, `a port (${vv.port})`);
    assert.ok((vv.password ?? '').length >= 16, 'a one-time password');
    assert.equal(await spiceLink(vv.host!, Number(vv.port), vv.password!), SPICE_LINK_ERR_OK, "the desktop's SPICE accepts the password");
    assertNoConsoleErrors(p);
    await p.page.context().close();
  });
});
