// Directory sources in the admin console, in Debian's chromium against a real daemon started WITHOUT --directory and a
// real slapd: Test connection names a refused bind, the form adds a source that is then listed as reachable, and a
// directory user logs in at once; the typed bind password is never in what the API shows.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import type { DirectorySourceView } from '../../src/contract/directory.js';
import { personLdif, type Slapd, slapdStart, SUFFIX } from '../directory/slapd.js';
import { assertNoConsoleErrors, browserLaunch, login, pageOpen, rootCall, screenshot, userCreate, webDaemonStart, type WebDaemon } from './browser.js';

const ADMIN = { name: 'ada', password: 'directory-passphrase' };

describe('admin console: directory sources made in the form', () => {
  let w: WebDaemon;
  let browser: Browser;
  let slapd: Slapd;

  before(async () => {
    slapd = await slapdStart();
    slapd.modify(personLdif('erin', 'Erin Form', 'erin-pass-1'));
    w = await webDaemonStart();
    browser = await browserLaunch();
    await userCreate(w, ADMIN.name, ADMIN.password, ['admin', 'user']);
  });
  after(async () => {
    await browser?.close();
    await w?.daemon.destroy();
    await slapd?.stop();
  });

  it('adds a source with a typed bind password, tests it, sees it reachable; its user logs in at once', async () => {
    const bindPassword = readFileSync(slapd.bindPasswordFile, 'utf8').split('\n')[0]!;
    const p = await pageOpen(browser);
    await login(p.page, `${w.url}/admin/directory`, ADMIN.name, ADMIN.password);
    await p.page.getByRole('button', { name: 'Add a directory source' }).click();
    const form = p.page.getByRole('form', { name: 'Add a directory source' });
    await form.getByLabel(/^Name/).fill('council');
    await form.getByLabel(/^Server URLs/).fill(slapd.ldapsUrl);
    await form.getByLabel(/^CA file/).fill(slapd.ca);
    await form.getByLabel(/^Bind DN/).fill(slapd.bindDn);
    await form.getByLabel(/^Bind password/).fill('not-the-password');
    await form.getByLabel(/^User base DN/).fill(`ou=people,${SUFFIX}`);
    await form.getByLabel(/^Group base DN/).fill(`ou=groups,${SUFFIX}`);
    await form.getByLabel(/^Group mapping/).fill('staff = office-users');
    await form.getByRole('button', { name: 'Test connection' }).click();
    await form.getByText(/Connection failed: the server refused the bind account \(DIRECTORY_UNREACHABLE\)/).waitFor();
    await form.getByLabel(/^Bind password/).fill(bindPassword);
    await form.getByRole('button', { name: 'Test connection' }).click();
    await form.getByText(/Connection works: the directory answered: 1 user entries/).waitFor();
    await form.getByRole('button', { name: 'Add directory source' }).click();
    const row = p.page.getByRole('row').filter({ hasText: 'council' });
    await row.filter({ hasText: 'reachable' }).waitFor();
    assert.ok(!(await row.innerText()).includes('unreachable'), await row.innerText());
    await screenshot(p.page, 'admin-directory-console-source');
    const [src] = await rootCall<DirectorySourceView[]>(w, 'GET', '/v1/directory/sources');
    assert.deepEqual([src?.name, src?.origin, src?.bindPassword, src?.reachable, src?.settings.groups], ['council', 'console', 'set', true, { staff: ['office-users'] }]);
    assert.ok(!JSON.stringify(src).includes(bindPassword));
    const logged = await fetch(`${w.url}/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'erin', password: 'erin-pass-1' }) });
    assert.equal(logged.status, 200, await logged.text());
    // Edit keeps the stored password when the field is left empty.
    await row.getByRole('button', { name: 'Edit council' }).click();
    const edit = p.page.getByRole('form', { name: 'Edit directory source council' });
    assert.equal(await edit.getByLabel(/^Bind password/).inputValue(), '', 'a stored password is never sent to the browser');
    await edit.getByLabel(/^Administrator groups/).fill('it-admins');
    await edit.getByRole('button', { name: 'Save directory source' }).click();
    await p.page.getByText('Directory source council saved').waitFor();
    const [after] = await rootCall<DirectorySourceView[]>(w, 'GET', '/v1/directory/sources');
    assert.deepEqual([after?.settings.adminGroups, after?.bindPassword, after?.reachable], [['it-admins'], 'set', true]);
    assertNoConsoleErrors(p);
  });
});
