// The thin-client inventory in the admin console, in Debian's chromium against a real daemon: one PC registers
// itself the way iPXE does (GET /boot/ipxe?mac=…), the administrator adds a second by MAC and edits the first;
// the API shows exactly the values set, an edit sends only what changed, a bad value is refused with the
// server's message and changes nothing, changes made elsewhere appear live, and a user never reaches the page.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { ThinClientView } from '../../src/contract/thinclients.js';
import { assertNoConsoleErrors, browserLaunch, login, pageOpen, rootCall, screenshot, userCreate, webDaemonStart, type WebDaemon } from './browser.js';

const ADMIN = { name: 'ada', password: 'inventory-passphrase' };
const USER = { name: 'alice', password: 'correct-horse-7' };
const BOOTED = '52:54:00:7c:00:01';
const ADDED = '52:54:00:7c:00:02';

interface AuditEntry {
  principal: string;
  action: string;
  target: string;
  detail: unknown;
}

const clientGet = (w: WebDaemon, mac: string) => rootCall<ThinClientView>(w, 'GET', `/v1/thinclients/${mac}`);
const rowOf = (page: Page, mac: string) => page.getByRole('row').filter({ hasText: mac });

describe('admin console: the thin-client inventory', () => {
  let w: WebDaemon;
  let browser: Browser;

  before(async () => {
    w = await webDaemonStart();
    browser = await browserLaunch();
    await userCreate(w, ADMIN.name, ADMIN.password, ['admin', 'user']);
    await userCreate(w, USER.name, USER.password);
    // A PC's iPXE asks the daemon's HTTP listener for its script: that registers it (no thin-client OS is
    // built here, so the script says so; the registration is what counts).
    const script = await fetch(`${w.url}/boot/ipxe?mac=${BOOTED}`);
    assert.equal(script.status, 200);
    assert.match(await script.text(), /^#!ipxe/);
    const registered = await clientGet(w, BOOTED);
    assert.equal(registered.state, 'new');
    assert.equal(registered.lastIp, '127.0.0.1');
  });
  after(async () => {
    await browser?.close();
    await w?.daemon.destroy();
  });

  it('adds a PC by MAC and edits the registered one; the API has exactly those values', async () => {
    const p = await pageOpen(browser);
    await login(p.page, `${w.url}/admin/thinclients`, ADMIN.name, ADMIN.password);
    await p.page.getByRole('heading', { name: 'Thin clients', level: 1 }).waitFor();
    await rowOf(p.page, BOOTED).waitFor();
    // This daemon serves no netboot: the page says so, and how to turn it on.
    assert.match(await p.page.getByTestId('netboot-status').innerText(), /^Netboot: off: no DHCP or TFTP is served \(`ardesia netboot set FILE`/);

    // Added before its first boot, held until an administrator enables it; the MAC typed the way a label shows it.
    await p.page.getByRole('button', { name: 'Add a thin client' }).click();
    const add = p.page.getByRole('form', { name: 'Add a thin client' });
    await add.getByLabel('MAC address').fill(ADDED.toUpperCase().replace(/:/g, '-'));
    await add.getByLabel('Place', { exact: true }).fill('Room 12, desk 3');
    await add.getByLabel('Resolution').fill('1024x768');
    await add.getByLabel('Hold until enabled').check();
    await add.getByRole('button', { name: 'Add thin client' }).click();
    await add.waitFor({ state: 'detached' });
    const addedRow = rowOf(p.page, ADDED);
    await addedRow.filter({ hasText: 'Room 12, desk 3' }).filter({ hasText: '1024x768' }).waitFor();
    await addedRow.getByRole('button', { name: `Enable ${ADDED}` }).waitFor();
    const added = await clientGet(w, ADDED);
    assert.deepEqual(
      added,
      { mac: ADDED, name: null, place: 'Room 12, desk 3', pool: null, state: 'disabled', keyboardLayout: null, resolution: '1024x768', bootParams: null, lastSeenAt: null, lastIp: null, bootCount: 0, currentUser: null, kioskUser: null },
    );

    // Settings made elsewhere (the CLI, another administrator) appear in the open page without a reload.
    await rootCall(w, 'PATCH', `/v1/thinclients/${BOOTED}`, { place: 'Library', bootParams: 'quiet loglevel=3' });
    await rowOf(p.page, BOOTED).filter({ hasText: 'Library' }).filter({ hasText: 'quiet loglevel=3' }).waitFor();

    // A PC booting while the page is open shows up at once (the boot chain's change is a live event, not an audited one).
    const LATE = '52:54:00:7c:00:09';
    assert.equal((await fetch(`${w.url}/boot/ipxe?mac=${LATE}`)).status, 200);
    await rowOf(p.page, LATE).filter({ hasText: '1 boots' }).waitFor();

    const before = await clientGet(w, BOOTED);
    await rowOf(p.page, BOOTED).getByRole('button', { name: `Edit ${BOOTED}` }).click();
    const edit = p.page.getByRole('form', { name: `Edit thin client ${BOOTED}` });
    assert.equal(await edit.getByLabel('MAC address').inputValue(), BOOTED);
    assert.ok(await edit.getByLabel('MAC address').isDisabled(), 'the MAC is the key: shown, not editable');
    assert.equal(await edit.getByLabel('Place', { exact: true }).inputValue(), 'Library', 'prefilled');
    assert.equal(await edit.getByLabel('Boot parameters').inputValue(), 'quiet loglevel=3', 'prefilled');
    assert.ok(await edit.getByRole('button', { name: 'Save thin client' }).isDisabled(), 'nothing changed yet');
    await edit.getByLabel('Name', { exact: true }).fill('desk-07');
    await edit.getByLabel('Keyboard layout').fill('de');
    await screenshot(p.page, 'admin-thinclient-edit');
    await edit.getByRole('button', { name: 'Save thin client' }).click();
    await edit.waitFor({ state: 'detached' });
    await rowOf(p.page, BOOTED).filter({ hasText: 'desk-07' }).filter({ hasText: 'keyboard de' }).waitFor();

    assert.deepEqual(await clientGet(w, BOOTED), { ...before, name: 'desk-07', keyboardLayout: 'de' });
    const [last] = await rootCall<AuditEntry[]>(w, 'GET', '/v1/audit?limit=1&action=thinclient.update');
    assert.deepEqual({ principal: last?.principal, target: last?.target, detail: last?.detail }, { principal: ADMIN.name, target: BOOTED, detail: { name: 'desk-07', keyboardLayout: 'de' } }, 'only the changed fields were sent');
    assertNoConsoleErrors(p);
    await p.page.context().close();
  });

  it("refuses a bad resolution with the server's message and changes nothing; an emptied field is cleared", async () => {
    // The boot parameters the first test leaves, set through the API when this test runs alone.
    if (!(await clientGet(w, BOOTED)).bootParams) await rootCall(w, 'PATCH', `/v1/thinclients/${BOOTED}`, { bootParams: 'quiet loglevel=3' });
    const p = await pageOpen(browser);
    await login(p.page, `${w.url}/admin/thinclients`, ADMIN.name, ADMIN.password);
    await rowOf(p.page, BOOTED).getByRole('button', { name: `Edit ${BOOTED}` }).click();
    const edit = p.page.getByRole('form', { name: `Edit thin client ${BOOTED}` });
    const before = await clientGet(w, BOOTED);
    assert.ok(before.bootParams, 'boot parameters to clear');

    await edit.getByLabel('Resolution').fill('1366x768');
    await edit.getByRole('button', { name: 'Save thin client' }).click();
    await p.page.getByRole('alert').filter({ hasText: 'Save thin client' }).filter({ hasText: 'the modes the kiosk can set' }).waitFor();
    assert.equal(await edit.getByLabel('Resolution').inputValue(), '1366x768', 'the form stays open with what was typed');
    assert.deepEqual(await clientGet(w, BOOTED), before, 'a refused change changes nothing');

    await edit.getByLabel('Resolution').fill('');
    await edit.getByLabel('Boot parameters').fill('');
    await edit.getByRole('button', { name: 'Save thin client' }).click();
    await edit.waitFor({ state: 'detached' });
    await rowOf(p.page, BOOTED).filter({ hasNotText: 'quiet loglevel=3' }).waitFor();
    assert.deepEqual(await clientGet(w, BOOTED), { ...before, bootParams: null });
    const [last] = await rootCall<AuditEntry[]>(w, 'GET', '/v1/audit?limit=1&action=thinclient.update');
    assert.deepEqual(last?.detail, { bootParams: null }, 'the emptied field is sent as null');
    // The console logs the refused request's 400 as a failed resource load; that is the answer under test.
    assert.deepEqual(p.errors.filter((e) => !/status of 400/.test(e)), []);
    await p.page.context().close();
  });

  it('keeps a user out of the page: no inventory request is ever made', async () => {
    const p = await pageOpen(browser);
    const inventoryRequests: string[] = [];
    p.page.on('request', (req) => {
      if (new URL(req.url()).pathname.startsWith('/v1/thinclients')) inventoryRequests.push(req.url());
    });
    await login(p.page, `${w.url}/admin/thinclients`, USER.name, USER.password);
    await p.page.getByRole('heading', { name: 'Administrators only' }).waitFor();
    assert.equal(await p.page.getByRole('button', { name: 'Add a thin client' }).count(), 0);
    assert.equal(await p.page.getByText(BOOTED).count(), 0);
    assert.deepEqual(inventoryRequests, []);
    const asUser = await fetch(`${w.url}/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: USER.name, password: USER.password }) });
    const cookie = asUser.headers.get('set-cookie')?.split(';')[0] ?? '';
    assert.ok(cookie, 'a session cookie');
    const post = await fetch(`${w.url}/v1/thinclients`, { method: 'POST', headers: { cookie, origin: w.url, 'content-type': 'application/json' }, body: JSON.stringify({ mac: '52:54:00:7c:00:09' }) });
    assert.equal(post.status, 403, 'nor can a user add one through the API');
    assertNoConsoleErrors(p);
    await p.page.context().close();
  });
});
