// The web app in Debian's chromium against a real daemon: serving and headers, the login page and its
// errors, the portal after login, the admin console's pages reached by keyboard; screenshots of each.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { assertNoConsoleErrors, browserLaunch, login, pageOpen, screenshot, userCreate, webDaemonStart, type WebDaemon } from './browser.js';

const ADMIN_PAGES = [
  { id: 'host', title: 'Host' },
  { id: 'hosts', title: 'Hosts' },
  { id: 'images', title: 'Images' },
  { id: 'pools', title: 'Pools' },
  { id: 'desktops', title: 'Desktops' },
  { id: 'sessions', title: 'Sessions' },
  { id: 'usage', title: 'Usage' },
  { id: 'users', title: 'Users and groups' },
  { id: 'directory', title: 'Directory sources' },
  { id: 'thinclients', title: 'Thin clients' },
  { id: 'audit', title: 'Audit log' },
];

describe('web app', () => {
  let w: WebDaemon;
  let browser: Browser;

  before(async () => {
    w = await webDaemonStart();
    browser = await browserLaunch();
    await userCreate(w, 'alice', 'correct-horse-7');
    await userCreate(w, 'ada', 'battery-staple-9', ['admin', 'user']);
  });
  after(async () => {
    await browser?.close();
    await w?.daemon.destroy();
  });

  it('serves the app with a strict CSP, immutable hashed assets, and no files outside them', async () => {
    const index = await fetch(`${w.url}/`);
    assert.equal(index.status, 200);
    const csp = index.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(index.headers.get('cache-control'), 'no-cache');
    const html = await index.text();
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    assert.ok(asset, `no script asset in index.html:\n${html}`);
    assert.doesNotMatch(html, /<script>(?!<\/script>)/, 'index.html has an inline script');
    const js = await fetch(`${w.url}${asset}`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get('cache-control') ?? '', /immutable/);
    assert.match(js.headers.get('content-type') ?? '', /javascript/);
    const deep = await fetch(`${w.url}/admin/pools`);
    assert.equal(deep.status, 200, 'admin paths fall back to the app');
    for (const bad of ['/assets/..%2Froot.token', '/assets/.inputs-sha256', '/assets/nothing-here.js']) {
      assert.equal((await fetch(`${w.url}${bad}`)).status, 404, bad);
    }
  });

  it('shows the login page and says in plain words when the password is wrong', async () => {
    const p = await pageOpen(browser);
    await p.page.goto(w.url);
    await p.page.getByRole('heading', { name: 'Ardesia' }).waitFor();
    await screenshot(p.page, 'portal-login');
    await login(p.page, w.url, 'alice', 'not-her-password');
    await p.page.getByRole('alert').filter({ hasText: 'The user name or password is wrong' }).waitFor();
    assert.equal(await p.page.getByLabel('Password').inputValue(), '', 'the wrong password is cleared');
    await screenshot(p.page, 'portal-login-wrong-password');
    assertNoConsoleErrors(p);
    await p.page.context().close();
  });

  it('logs a user in to the portal and out again', async () => {
    const p = await pageOpen(browser);
    await login(p.page, w.url, 'alice', 'correct-horse-7');
    await p.page.getByRole('heading', { name: 'Your desktops' }).waitFor();
    assert.equal(await p.page.getByRole('link', { name: 'Admin console' }).count(), 0, 'a user sees no admin link');
    await screenshot(p.page, 'portal-pools');
    await p.page.getByRole('button', { name: 'Log out' }).click();
    await p.page.getByRole('button', { name: 'Log in' }).waitFor();
    await p.page.reload();
    await p.page.getByRole('button', { name: 'Log in' }).waitFor();
    assertNoConsoleErrors(p);
    await p.page.context().close();
  });

  it('keeps a user out of the admin console', async () => {
    const p = await pageOpen(browser);
    await login(p.page, `${w.url}/admin`, 'alice', 'correct-horse-7');
    await p.page.getByRole('heading', { name: 'Administrators only' }).waitFor();
    assertNoConsoleErrors(p);
    await p.page.context().close();
  });

  it('renders every admin page, reached from the section list by keyboard', async () => {
    const p = await pageOpen(browser);
    await login(p.page, `${w.url}/admin`, 'ada', 'battery-staple-9');
    await p.page.getByRole('heading', { name: 'Host', level: 1 }).waitFor();
    await p.page.getByText('Accelerator').waitFor();
    for (const section of ADMIN_PAGES) {
      const link = p.page.getByRole('navigation', { name: 'Admin sections' }).getByRole('link', { name: section.title, exact: true });
      await link.focus();
      await p.page.keyboard.press('Enter');
      await p.page.getByRole('heading', { name: section.title, level: 1 }).waitFor();
      assert.equal(await link.getAttribute('aria-current'), 'page', `${section.title} is marked current`);
      assert.equal(new URL(p.page.url()).pathname, `/admin/${section.id}`);
      await p.page.waitForLoadState('networkidle').catch(() => undefined);
      await p.page.getByText('Loading…').first().waitFor({ state: 'detached', timeout: 10_000 }).catch(() => undefined);
      await screenshot(p.page, `admin-${section.id}`);
    }
    // Tab order reaches the section list from the top bar: every link is a real, focusable link.
    await p.page.keyboard.press('Shift+Tab');
    const focused = await p.page.evaluate(() => document.activeElement?.tagName);
    assert.ok(focused === 'A' || focused === 'BUTTON', `focus moved to ${focused}`);
    assertNoConsoleErrors(p);
    await p.page.context().close();
  });
});
