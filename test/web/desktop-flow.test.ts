// The whole desk-user flow in the browser, on a real pool of the Debian desktop image (TCG; slow):
// an admin creates the pool in the console and watches its spare come up live; a user opens a desktop,
// sees it on the canvas, types a command in its xterm once at a person's speed (every key must arrive),
// pastes a command from the portal once, logs off and opens the pool again at once (logoff → next desktop on screen
// measured), finds the file in the home attached to the new desktop, pastes while the guest's clipboard agent is down
// (the portal shows the paste waiting and delivers it once the agent is up), logs off, and the released home image
// holds every file written on a clean filesystem (read on the host).
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { typeAndExpect } from '../images/support.js';
import { canvasFacts, openDesktopAndWaitForXterm, XTERM_POINT } from './desktop-canvas.js';
import { assertNoConsoleErrors, browserLaunch, login, pageOpen, requireRoute, rootCall, screenshot, until, userCreate, webDaemonStart, type WebDaemon } from './browser.js';

const IMAGE_BUILD_TIMEOUT_MS = 30 * 60_000;
const DESKTOP_TIMEOUT_MS = 8 * 60_000;
const POOL = 'webpool';
const USER = { name: 'dora', password: 'flow-test-passphrase' };
const ADMIN = { name: 'adam', password: 'console-passphrase' };
/** One key every 80 ms: 12.5 keys/s, a person's normal speed (the issue asks for at least 10). */
const KEY_INTERVAL_MS = 80;

/** Shifted characters go as Shift+key presses: keyboard.type does not send Shift through noVNC. */
const SHIFTED: Record<string, string> = { '+': 'Shift+Equal', '>': 'Shift+Period', '&': 'Shift+Digit7', '~': 'Shift+Backquote', '|': 'Shift+Backslash', '"': 'Shift+Quote' };

/** Types `text` and Enter on a fixed cadence (key i at start + i × KEY_INTERVAL_MS); returns the keys per second. */
async function typeInDesktop(page: Page, text: string): Promise<number> {
  const keys = [...text].map((ch) => SHIFTED[ch] ?? (ch === ' ' ? 'Space' : ch)).concat('Enter');
  const start = performance.now();
  for (const [i, key] of keys.entries()) {
    const due = start + i * KEY_INTERVAL_MS - performance.now();
    if (due > 0) await page.waitForTimeout(due);
    await page.keyboard.press(key, { delay: 20 });
  }
  return keys.length / ((performance.now() - start) / 1000);
}

let lastGuestAnswer = '';
const markerSeenByGuest = (w: WebDaemon, user: string) => fileSeenByGuest(w, user, 'web-flow-marker', 'ardesia');

/** Whether the desktop of `user`'s session has the file with that content in the mounted home, asked on its serial
 *  console (the image's root console): the host cannot read a file of a mounted ext4 whose metadata is still in the journal. */
async function fileSeenByGuest(w: WebDaemon, user: string, file: string, content: string): Promise<boolean> {
  const sessions = await rootCall<Array<{ user: string; desktop: string }>>(w, 'GET', '/v1/sessions');
  const desktop = sessions.find((s) => s.user === user)?.desktop;
  if (!desktop) return false;
  const line = `[ "$(cat /home/${user}/${file} 2>/dev/null)" = ${content} ] && echo found-$((6*7)) || echo missing-$((6*7))`;
  return typeAndExpect(w.daemon, desktop, line, 'found-42', 15_000).then(
    () => true,
    (err: unknown) => {
      lastGuestAnswer = String(err);
      return false;
    },
  );
}

/** What the host reads in a user's home volume once no desktop holds it: the files' contents (debugfs) and whether
 *  the ext4 is clean (e2fsck -n, no journal left to replay). qemu-img without -U: it refuses an image QEMU still has open. */
async function homeOnHost(w: WebDaemon, user: string, files: string[]): Promise<{ clean: string | true; recovery: boolean; files: Record<string, string> }> {
  const home = await rootCall<{ path: string }>(w, 'GET', `/v1/homes/${user}`);
  const dir = mkdtempSync('/tmp/wflow-');
  try {
    const raw = join(dir, 'home.raw');
    execFileSync('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', home.path, raw]);
    const fsck = spawnSync('e2fsck', ['-f', '-n', raw], { encoding: 'utf8' });
    const read = (file: string) => execFileSync('debugfs', ['-R', `cat /${file}`, raw], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const recovery = /needs_recovery/.test(execFileSync('dumpe2fs', ['-h', raw], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
    return { clean: fsck.status === 0 ? true : `${fsck.stdout}${fsck.stderr}`, recovery, files: Object.fromEntries(files.map((f) => [f, read(f)])) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Whether `user`'s session reports its clipboard agent up (false while there is no session). */
async function clipboardReady(w: WebDaemon, user: string): Promise<boolean> {
  const sessions = await rootCall<Array<{ user: string; clipboardReady: boolean }>>(w, 'GET', '/v1/sessions');
  return sessions.find((s) => s.user === user)?.clipboardReady ?? false;
}

/** Runs a command as root on the desktop's serial console; fails unless it succeeds. */
async function guestRun(w: WebDaemon, command: string): Promise<void> {
  const sessions = await rootCall<Array<{ user: string; desktop: string }>>(w, 'GET', '/v1/sessions');
  const desktop = sessions.find((s) => s.user === USER.name)?.desktop;
  assert.ok(desktop, `${USER.name} has no session`);
  await typeAndExpect(w.daemon, desktop, `${command} && echo ran-$((6*7))`, 'ran-42', 60_000);
}

/** Pastes `text` from the portal once and checks it arrives: see expectInGuest. */
async function pasteOnce(page: Page, w: WebDaemon, text: string, file: string, content: string): Promise<void> {
  await page.getByPlaceholder('Text to paste').fill(text);
  await page.getByRole('button', { name: 'Paste' }).click();
  await page.getByTestId('paste-waiting').waitFor({ state: 'detached', timeout: 120_000 });
  await expectInGuest(page, w, text, file, content);
}

/** The pasted `text` is the guest's CLIPBOARD selection (asked with xclip on the root console: it travels guest →
 *  QEMU → noVNC and back). */
async function expectInGuestClipboard(w: WebDaemon, text: string): Promise<void> {
  const xclip = `DISPLAY=:0 XAUTHORITY=/home/${USER.name}/.Xauthority timeout 20 xclip -o -selection clipboard`;
  const held = await until('the pasted text in the guest\'s clipboard', async () => {
    try {
      await guestRun(w, `[ "$(${xclip})" = '${text}' ]`);
      return true;
    } catch (err) {
      lastGuestAnswer = String(err);
      return undefined;
    }
  }, 120_000, 1000).then(() => true, () => false);
  assert.ok(held, `the text pasted once from the portal never became the guest's clipboard; the guest's console said: ${lastGuestAnswer}`);
}

/** The pasted `text` is the guest's clipboard, then one Shift+Insert in the xterm runs it, writing `content` into `file`. */
async function expectInGuest(page: Page, w: WebDaemon, text: string, file: string, content: string): Promise<void> {
  await expectInGuestClipboard(w, text);
  await clickXterm(page);
  // xterm inserts the selection when the guest's agent has fetched it (guest → QEMU → noVNC and back), after later
  // keys: Enter goes once the text is drawn in the terminal, or it would reach the shell before the text.
  // The click's own redraw (focus: the cursor fills) must be over before the baseline, or it passes for the paste.
  const before = await settledXtermPixels(page);
  await page.keyboard.press('Shift+Insert');
  await until('the pasted text drawn in the xterm', async () => (await xtermPixels(page)) !== before, 60_000, 250);
  await settledXtermPixels(page); // the whole paste drawn, not only its first redraw
  await page.keyboard.press('Enter');
  const seen = (ms: number) => until(`${file} in the home`, () => fileSeenByGuest(w, USER.name, file, content), ms, 3000).then(() => true, () => false);
  let ran = await seen(30_000);
  // Under load the paste can be drawn after that Enter (seen in a rehearsal: the shell ran an empty line, the text
  // then waited on the command line). Another Enter runs it; the paste itself is still the one Shift+Insert.
  if (!ran) {
    await page.keyboard.press('Enter');
    ran = await seen(60_000);
  }
  assert.ok(ran, `one Shift+Insert did not paste the guest's clipboard into the xterm; the guest's console said: ${lastGuestAnswer}`);
}

/** The xterm's digest once two samples a second apart agree (nothing is being drawn in it). */
async function settledXtermPixels(page: Page): Promise<string> {
  let previous = await xtermPixels(page);
  return until('the xterm to stop redrawing', async () => {
    await new Promise((r) => setTimeout(r, 1000));
    const now = await xtermPixels(page);
    const settled = now === previous ? now : undefined;
    previous = now;
    return settled;
  }, 60_000, 0);
}

/** A digest of the xterm's area on the canvas (desktop-session: 90x24 at +40+40), to see text being drawn in it. */
async function xtermPixels(page: Page): Promise<string> {
  return page.evaluate(() => {
    const canvas = document.querySelector('.vnc-screen canvas') as HTMLCanvasElement | null;
    if (!canvas || canvas.width === 0) return '';
    const data = canvas.getContext('2d')!.getImageData(40, 40, Math.min(560, canvas.width - 40), Math.min(330, canvas.height - 40)).data;
    let h = 0x811c9dc5;
    for (let i = 0; i < data.length; i += 4) h = Math.imul(h ^ (data[i]! ^ (data[i + 1]! << 8) ^ (data[i + 2]! << 16)), 0x01000193) >>> 0;
    return String(h);
  });
}

async function clickXterm(page: Page): Promise<void> {
  const canvas = page.locator('.vnc-screen canvas');
  const box = (await canvas.boundingBox())!;
  const facts = await canvasFacts(page);
  await page.mouse.click(box.x + (XTERM_POINT.x * box.width) / facts.width, box.y + (XTERM_POINT.y * box.height) / facts.height);
}

describe('desktop flow in the browser', () => {
  let w: WebDaemon;
  let browser: Browser;

  before(async () => {
    w = await webDaemonStart();
    await requireRoute(w, '/v1/pools', "the lead's pools/broker API (/v1/pools)");
    await requireRoute(w, '/v1/sessions', "the lead's sessions API (/v1/sessions)");
    browser = await browserLaunch();
    await userCreate(w, USER.name, USER.password);
    await userCreate(w, ADMIN.name, ADMIN.password, ['admin', 'user']);
    const op = await rootCall<{ id: string }>(w, 'POST', '/v1/images', { name: 'desk', build: 'debian' });
    const done = await until('the desktop image build', async () => {
      const o = await rootCall<{ state: string; error?: unknown }>(w, 'GET', `/v1/operations/${op.id}`);
      return o.state === 'running' ? undefined : o;
    }, IMAGE_BUILD_TIMEOUT_MS, 2000);
    assert.equal(done.state, 'succeeded', `image build failed: ${JSON.stringify(done.error)}`);
  });
  after(async () => {
    await browser?.close();
    await w?.daemon.destroy();
  });

  it('an admin creates a pool in the console and sees its spare come up live', async () => {
    const p = await pageOpen(browser);
    await login(p.page, `${w.url}/admin/pools`, ADMIN.name, ADMIN.password);
    await p.page.getByRole('button', { name: 'New pool' }).click();
    const form = p.page.getByRole('form', { name: 'Create a pool' });
    await form.getByLabel('Name', { exact: true }).fill(POOL);
    await form.getByLabel('Warm spares (running, waiting)').fill('1');
    await form.getByLabel('Maximum desktops', { exact: true }).fill('2');
    await form.getByLabel('Memory (MiB)').fill('1024');
    await form.getByLabel('Entitled users').fill(USER.name);
    await form.getByRole('button', { name: 'Create pool' }).click();
    // No reload: the counts change through /v1/events.
    await p.page.getByTestId(`pool-states-${POOL}`).filter({ hasText: 'ready: 1' }).waitFor({ timeout: DESKTOP_TIMEOUT_MS });
    await screenshot(p.page, 'admin-pool-spare-ready');
    assertNoConsoleErrors(p);
    await p.page.context().close();
  });

  it('a user works in the desktop, logs off, opens it again at once and finds the file', async () => {
    // The pool the console test creates, made through the API when this test runs alone.
    if (!(await rootCall<Array<{ name: string }>>(w, 'GET', '/v1/pools')).some((pool) => pool.name === POOL)) {
      await rootCall(w, 'POST', '/v1/pools', { name: POOL, image: 'desk', warmSpares: 1, maxDesktops: 2, memoryMiB: 1024, entitled: { users: [USER.name] } });
    }
    const p = await pageOpen(browser);
    await login(p.page, w.url, USER.name, USER.password);
    const openedAt = performance.now();
    // When the session's clipboard agent comes up, measured from Open (it starts with the session, in parallel).
    const clipboardReadyAt = until('the clipboard agent ready', async () => ((await clipboardReady(w, USER.name)) ? performance.now() : undefined), DESKTOP_TIMEOUT_MS, 250);
    clipboardReadyAt.catch(() => undefined);
    await openDesktopAndWaitForXterm(p.page, POOL, DESKTOP_TIMEOUT_MS);
    console.log(`open → xterm drawn: ${((performance.now() - openedAt) / 1000).toFixed(1)} s`);
    await screenshot(p.page, 'desktop-view');
    // The session reports started only once its windows are up and the terminal has the focus: one try, every key.
    await clickXterm(p.page);
    const command = 'echo ardesia > ~/web-flow-marker; sync';
    const rate = await typeInDesktop(p.page, command);
    console.log(`typed ${command.length + 1} keys at ${rate.toFixed(1)} keys/s`);
    const written = await until('the file in the home', () => markerSeenByGuest(w, USER.name), 90_000, 3000).then(() => true, () => false);
    if (!written) {
      // Say what the desktop looked like from inside, for whoever reads the CI log.
      await screenshot(p.page, 'desktop-flow-typing-failure').catch(() => undefined);
      const desktop = (await rootCall<Array<{ user: string; desktop: string }>>(w, 'GET', '/v1/sessions')).find((s) => s.user === USER.name)?.desktop ?? '?';
      const inside = await typeAndExpect(w.daemon, desktop, `ls -la /home/${USER.name}; grep /home /proc/mounts; ps -eo user,comm | grep -E 'xterm|jwm|bash|Xorg'; echo diag-$((6*7))`, 'diag-42', 20_000).catch(String);
      assert.fail(`the command typed once into the desktop did not write its file into the home (a key was lost); canvas ${JSON.stringify(await canvasFacts(p.page))}; the guest's console said: ${lastGuestAnswer}\n${inside}`);
    }
    // The user's folder (the file manager's first view) has no lost+found: the home was made without it.
    await guestRun(w, `grep -q ' /home/${USER.name} ' /proc/mounts && ! ls -A /home/${USER.name} | grep -qx 'lost+found'`);
    // Paste from the portal, once: noVNC sends the text as the VNC clipboard, QEMU's vdagent hands it to the guest's
    // spice-vdagent. The portal holds the paste until the session reports its clipboard agent up (clipboardReady);
    // once the text is the guest's CLIPBOARD selection (read there with xclip), one Shift+Insert pastes it in the xterm.
    await pasteOnce(p.page, w, 'echo pasted > ~/clip-marker; sync', 'clip-marker', 'pasted');
    console.log(`open → clipboard agent ready: ${(((await clipboardReadyAt) - openedAt) / 1000).toFixed(1)} s`);

    await screenshot(p.page, 'desktop-pasted');

    // Log off and open again at once: the portal offers Open (never Resume on the ending session) and the
    // daemon holds the connect until the previous session has ended.
    const loggedOffAt = performance.now();
    await p.page.getByRole('button', { name: 'Log off' }).click();
    await p.page.getByRole('heading', { name: 'Your desktops' }).waitFor();
    assert.equal(await p.page.getByRole('button', { name: `Resume ${POOL}` }).count(), 0, 'no Resume on an ending session');
    await openDesktopAndWaitForXterm(p.page, POOL, DESKTOP_TIMEOUT_MS);
    console.log(`logoff → next desktop on screen (xterm drawn): ${((performance.now() - loggedOffAt) / 1000).toFixed(1)} s`);
    // The file typed in the first session is in the home now attached to this session's desktop. (Read on the root
    // console: typing a second command through noVNC into a desktop that is still opening windows under TCG
    // lost its first keys in every run, which tests the timing of the session, not the home.)
    const sessions = await rootCall<Array<{ user: string; desktop: string }>>(w, 'GET', '/v1/sessions');
    const desktop = sessions.find((s) => s.user === USER.name)?.desktop;
    const home = await rootCall<{ leasedTo: string | null; path: string }>(w, 'GET', `/v1/homes/${USER.name}`);
    assert.equal(home.leasedTo, desktop, 'the home is attached to the new session');
    // Read where the user reads it: in the new desktop, from the home it mounted (the root console, not noVNC). The host
    // reads the image only once it is released (below): read while a guest has it mounted, debugfs does not replay the
    // journal and QEMU may still hold qcow2 metadata, so what it sees there says nothing about the logoff.
    const found = await until('the first session\'s file in the new desktop\'s home', () => fileSeenByGuest(w, USER.name, 'web-flow-marker', 'ardesia'), 120_000, 3000)
      .then(() => true, () => false);
    assert.ok(found, `the file typed in the first session is not in the home of the second; the guest's console said: ${lastGuestAnswer}`);
    await screenshot(p.page, 'desktop-file-found');
    // Written without sync: the logoff must get it onto the image (unmounted in the guest before the session ends).
    await guestRun(w, `echo second > /home/${USER.name}/second-marker`);

    // A paste made while the session's clipboard agent is not up waits in the portal ("Paste waiting for the desktop…")
    // and arrives once it is. The agent is taken down in the guest (root console) so the order is certain, whatever
    // the machine's speed; the text must then be the guest's CLIPBOARD selection. (Done in this session, whose logoff
    // is read on the host below: with this step the home once read empty, read while the next desktop had it mounted.)
    await until('the clipboard agent ready in the new session', () => clipboardReady(w, USER.name).then((r) => r || undefined), DESKTOP_TIMEOUT_MS, 1000);
    await guestRun(w, 'systemctl stop spice-vdagentd.socket spice-vdagentd.service');
    await until('the session reporting its clipboard agent down', async () => !(await clipboardReady(w, USER.name)), 60_000, 500);
    const later = 'echo later > ~/clip-later; sync';
    await p.page.getByPlaceholder('Text to paste').fill(later);
    await p.page.getByRole('button', { name: 'Paste' }).click();
    await p.page.getByTestId('paste-waiting').waitFor();
    await screenshot(p.page, 'desktop-paste-waiting');
    assert.equal(await clipboardReady(w, USER.name), false, 'the agent is still down while the paste waits');
    assert.equal(await p.page.getByTestId('paste-waiting').count(), 1, 'the paste is held, not sent to an agent that is down');
    const restartedAt = performance.now();
    await guestRun(w, 'systemctl start spice-vdagentd.socket');
    await p.page.getByTestId('paste-waiting').waitFor({ state: 'detached', timeout: 180_000 });
    console.log(`agent restarted → held paste delivered: ${((performance.now() - restartedAt) / 1000).toFixed(1)} s`);
    await expectInGuestClipboard(w, later);

    // Log off once more and read the home on the host once it is released: what the guests wrote is on the image and
    // the filesystem is clean (the guest unmounted it before the session was marked ended and the VM stopped).
    await p.page.getByRole('button', { name: 'Log off' }).click();
    await p.page.getByRole('heading', { name: 'Your desktops' }).waitFor();
    await until('the home released after logoff', async () => ((await rootCall<{ leasedTo: string | null }>(w, 'GET', `/v1/homes/${USER.name}`)).leasedTo === null ? true : undefined), DESKTOP_TIMEOUT_MS, 1000);
    const onHost = await homeOnHost(w, USER.name, ['web-flow-marker', 'clip-marker', 'second-marker']);
    assert.equal(onHost.clean, true, 'e2fsck -n finds the released home clean');
    assert.equal(onHost.recovery, false, 'no journal left to replay: the guest unmounted the home');
    assert.deepEqual(onHost.files, { 'web-flow-marker': 'ardesia\n', 'clip-marker': 'pasted\n', 'second-marker': 'second\n' }, 'the files written in the desktops are on the released home image');
    assertNoConsoleErrors(p);
    await p.page.context().close();
  });
});
