// Two-factor sign-in in Debian's chromium against a real daemon: enrolment in the portal (QR code + the secret as
// text, confirmed by a code the test computes as a phone would), recovery codes shown once, the login asking for the
// code after the password, a wrong and a replayed code refused, a recovery code that works once, an administrator
// sent to enrol first when the site requires it, and the console's reset button.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { totpCode } from '../../src/auth/mfa.js';
import { assertNoConsoleErrors, browserLaunch, login, pageOpen, rootCall, screenshot, userCreate, webDaemonStart, type WebDaemon } from './browser.js';

/** A code of the step after now: newer than any step this test used before (it spends at most one per step). */
const nextCode = (secret: string) => totpCode(secret, Date.now() + 30_000);

/** Enrols in the page shown (portal panel or the forced page); returns the secret read from the page and the recovery codes. */
async function enrolInPage(page: Page, shot?: string): Promise<{ secret: string; recovery: string[] }> {
  await page.getByRole('button', { name: 'Set up two-factor sign-in' }).click();
  const qr = page.getByRole('img', { name: 'QR code for your authenticator app' });
  await qr.waitFor();
  assert.match((await qr.getAttribute('src')) ?? '', /^data:image\/svg\+xml;base64,/);
  const secret = (await page.getByTestId('mfa-secret').textContent()) ?? '';
  assert.match(secret, /^[A-Z2-7]{32}$/);
  if (shot) await screenshot(page, shot);
  await page.getByLabel('Code the app shows').fill(totpCode(secret, Date.now() - 600_000));
  await page.getByRole('button', { name: 'Turn on two-factor sign-in' }).click();
  await page.getByRole('alert').filter({ hasText: /code/ }).first().waitFor();
  await page.getByLabel('Code the app shows').fill(totpCode(secret, Date.now()));
  await page.getByRole('button', { name: 'Turn on two-factor sign-in' }).click();
  const list = page.getByRole('list', { name: 'Your recovery codes' });
  await list.waitFor();
  const recovery = (await list.getByRole('listitem').allTextContents()).map((t) => t.trim());
  assert.equal(recovery.length, 10);
  if (shot) await screenshot(page, `${shot}-recovery-codes`);
  await page.getByRole('button', { name: 'I have saved them' }).click();
  return { secret, recovery };
}

/** The password step, then the code step; waits for either the portal or the code form's error. */
async function loginWithCode(page: Page, url: string, user: string, password: string, code: string): Promise<void> {
  await login(page, url, user, password);
  await page.getByLabel('Code').fill(code);
  await page.getByRole('button', { name: 'Verify' }).click();
}

describe('two-factor sign-in in the browser', () => {
  let w: WebDaemon;
  let browser: Browser;

  before(async () => {
    w = await webDaemonStart();
    browser = await browserLaunch();
    await userCreate(w, 'alice', 'correct-horse-7');
    await userCreate(w, 'ada', 'battery-staple-9', ['admin', 'user']);
    await userCreate(w, 'grace', 'hopper-cobol-1', ['admin', 'user']);
  });
  after(async () => {
    await browser?.close();
    await w?.daemon.destroy();
  });

  it('enrols in the portal, then logs in with a code; a wrong and a replayed code are refused; a recovery code works once', async () => {
    const p = await pageOpen(browser);
    await login(p.page, w.url, 'alice', 'correct-horse-7');
    await p.page.getByRole('button', { name: 'Two-factor sign-in: off' }).click();
    const { secret, recovery } = await enrolInPage(p.page, 'portal-mfa-setup');
    await p.page.getByRole('button', { name: 'Two-factor sign-in: on' }).waitFor();
    await p.page.getByRole('button', { name: 'Log out' }).click();
    await p.page.getByRole('button', { name: 'Log in' }).waitFor();

    // The password alone is not enough: the code is asked for next.
    await login(p.page, w.url, 'alice', 'correct-horse-7');
    await p.page.getByLabel('Code').waitFor();
    await screenshot(p.page, 'portal-login-mfa-code');
    await p.page.getByLabel('Code').fill(totpCode(secret, Date.now() - 3_600_000));
    await p.page.getByRole('button', { name: 'Verify' }).click();
    await p.page.getByRole('alert').filter({ hasText: 'That code did not work' }).waitFor();
    const code = nextCode(secret);
    await p.page.getByLabel('Code').fill(code);
    await p.page.getByRole('button', { name: 'Verify' }).click();
    await p.page.getByRole('heading', { name: 'Your desktops' }).waitFor();
    await p.page.getByRole('button', { name: 'Log out' }).click();

    // The same code again (seen over a shoulder): refused.
    await loginWithCode(p.page, w.url, 'alice', 'correct-horse-7', code);
    await p.page.getByRole('alert').filter({ hasText: 'already used' }).waitFor();
    await p.page.getByRole('button', { name: 'Start over' }).click();

    await loginWithCode(p.page, w.url, 'alice', 'correct-horse-7', recovery[0]!);
    await p.page.getByRole('heading', { name: 'Your desktops' }).waitFor();
    await p.page.getByRole('button', { name: 'Log out' }).click();
    await loginWithCode(p.page, w.url, 'alice', 'correct-horse-7', recovery[0]!);
    await p.page.getByRole('alert').filter({ hasText: 'That code did not work' }).waitFor();
    assertNoConsoleErrors(p);
    await p.page.context().close();
  });

  it('the console sets the site rule and resets a user; an administrator without two-factor is sent to enrol first', async () => {
    const p = await pageOpen(browser);
    await login(p.page, w.url, 'ada', 'battery-staple-9');
    await p.page.getByRole('button', { name: 'Two-factor sign-in: off' }).click();
    await enrolInPage(p.page);
    await p.page.goto(`${w.url}/admin/users`);
    // A controlled checkbox: it shows the stored setting once the save has come back.
    await p.page.getByLabel(/Administrators must use two-factor sign-in/).click();
    await p.page.getByRole('checkbox', { name: /Administrators must use two-factor sign-in/, checked: true }).waitFor();
    const reset = p.page.getByRole('button', { name: 'Reset two-factor of alice' });
    p.page.once('dialog', (d) => void d.accept());
    await reset.click();
    await reset.waitFor({ state: 'detached' });
    assert.equal((await rootCall<{ enabled: boolean }>(w, 'GET', '/v1/users/alice/mfa')).enabled, false);
    assert.equal((await rootCall<{ adminsMustUseMfa: boolean }>(w, 'GET', '/v1/settings')).adminsMustUseMfa, true);
    await screenshot(p.page, 'admin-users-mfa');
    assertNoConsoleErrors(p);
    await p.page.context().close();

    const q = await pageOpen(browser);
    await login(q.page, w.url, 'grace', 'hopper-cobol-1');
    await q.page.getByRole('heading', { name: 'Set up two-factor sign-in' }).waitFor();
    assert.equal(await q.page.getByRole('link', { name: 'Admin console' }).count(), 0, 'nothing else before enrolment');
    await screenshot(q.page, 'admin-mfa-required');
    const refused = await q.page.request.get(`${w.url}/v1/users`);
    assert.equal(refused.status(), 403);
    assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'MFA_ENROLMENT_REQUIRED');
    await enrolInPage(q.page);
    await q.page.getByRole('link', { name: 'Admin console' }).waitFor();
    assert.equal((await q.page.request.get(`${w.url}/v1/users`)).status(), 200, 'enrolled: the session works in full');
    assertNoConsoleErrors(q);
    await q.page.context().close();

    const r = await pageOpen(browser);
    await login(r.page, w.url, 'alice', 'correct-horse-7');
    await r.page.getByRole('heading', { name: 'Your desktops' }).waitFor();
    assertNoConsoleErrors(r);
    await r.page.context().close();
    await rootCall(w, 'PATCH', '/v1/settings', { adminsMustUseMfa: false });
  });
});
