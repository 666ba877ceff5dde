// The console's Host page in Debian's chromium against a real daemon: under TCG the warning is said once,
// its detail (the verdict: why, what to do, the isolation warning) folded in a <details>; under KVM, the verdict alone.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Browser } from 'playwright-core';
import { adminConsoleTestbed, assertNoConsoleErrors, CONSOLE_ADMIN, login, pageOpen, rootCall, screenshot, type WebDaemon } from './browser.js';

let w: WebDaemon;
let browser: Browser;

adminConsoleTestbed(async (bed) => {
  ({ w, browser } = bed);
});

test('the Host page says the TCG warning once, with the detail folded', async () => {
  const host = await rootCall<{ accel: 'kvm' | 'tcg'; verdict: string }>(w, 'GET', '/v1/host');
  const p = await pageOpen(browser);
  await login(p.page, `${w.url}/admin/host`, ...CONSOLE_ADMIN);
  await p.page.getByText('Accelerator').waitFor();
  const section = p.page.getByRole('region', { name: 'Host details' });
  const text = async () => (await section.innerText()).replace(/\s+/g, ' ');
  const times = (haystack: string, needle: string) => haystack.split(needle).length - 1;
  if (host.accel === 'tcg') {
    const folded = await text();
    assert.equal(times(folded, 'TCG (software emulation)'), 1, folded);
    assert.equal(times(folded, 'isolation'), 1, folded);
    assert.equal(times(folded, host.verdict), 0, 'the verdict starts folded');
    await p.page.getByText('Why, and what to do').click();
    const open = await text();
    assert.equal(times(open, host.verdict.replace(/\s+/g, ' ')), 1, open);
    await screenshot(p.page, 'admin-host-tcg');
  } else {
    const shown = await text();
    assert.equal(times(shown, host.verdict.replace(/\s+/g, ' ')), 1, shown);
    assert.equal(await p.page.getByRole('note').count(), 0, 'no TCG warning under KVM');
  }
  assertNoConsoleErrors(p);
  await p.page.context().close();
});
