// Support for the web app's browser tests: a real daemon on loopback HTTP, users made over the API,
// Debian's chromium driven by playwright-core, console errors collected, screenshots into docs/screenshots.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { REPO_ROOT, TestDaemon, until } from '../helpers/daemon.js';

export const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
export const SCREEN = { width: 1366, height: 768 };
export const SCREENSHOTS = join(REPO_ROOT, 'docs', 'screenshots');

export interface WebDaemon {
  daemon: TestDaemon;
  url: string;
  rootToken: string;
}

/** Starts the daemon with HTTP on a free loopback port; fails at once when the web app was not built. */
export async function webDaemonStart(): Promise<WebDaemon> {
  assert.ok(existsSync(join(REPO_ROOT, 'dist', 'web', 'index.html')), `the web app is not built in ${join(REPO_ROOT, 'dist', 'web')}: run \`npm run build\``);
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: run \`node scripts/setup.mjs\` (installs Debian's chromium)`);
  // Image builds share the tests' cache (.cache/images, keyed by package versions): warm builds take seconds.
  const daemon = await TestDaemon.start({ extraArgs: ['--listen', '127.0.0.1:0'], env: { ARDESIA_BUILD_CACHE: join(REPO_ROOT, '.cache', 'images') } });
  const url = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(daemon.output)?.[1];
  assert.ok(url, `the daemon did not report its HTTP address:\n${daemon.output}`);
  return { daemon, url, rootToken: readFileSync(join(daemon.dataDir, 'root.token'), 'utf8').trim() };
}

/** A root-token API call; throws with the server's error text on a non-2xx answer. */
export async function rootCall<T = unknown>(w: WebDaemon, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${w.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${w.rootToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} → ${res.status}: ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

/** Fails with a clear message when a route another part of Ardesia provides is not there yet. */
export async function requireRoute(w: WebDaemon, path: string, owner: string): Promise<void> {
  const res = await fetch(`${w.url}${path}`, { headers: { authorization: `Bearer ${w.rootToken}` } });
  assert.notEqual(res.status, 404, `GET ${path} is missing (404): this test needs ${owner}`);
}

export async function userCreate(w: WebDaemon, name: string, password: string, roles: string[] = ['user']): Promise<void> {
  await rootCall(w, 'POST', '/v1/users', { name, password, roles });
}

/** `executablePath`: another way to run Debian's chromium (a wrapper that enters a test's network namespace). */
export async function browserLaunch(executablePath = CHROMIUM): Promise<Browser> {
  return chromium.launch({ executablePath, args: CHROMIUM_ARGS, headless: true });
}

export interface WatchedPage {
  page: Page;
  /** Console errors and uncaught exceptions, in order. */
  errors: string[];
}

/** The browser logs every 401 it receives (the login probe, a wrong password); those are answers, not faults. */
const EXPECTED_NETWORK = /Failed to load resource: the server responded with a status of 401/;
/** A thin client's page asks for its kiosk session first; 404 (KIOSK_NOT_CONFIGURED) means "show the login form". */
const KIOSK_PROBE = /Failed to load resource: the server responded with a status of 404/;

/** `ignoreHTTPSErrors`: for a controller's HTTPS listener in a test's network namespace (its own CA). */
export async function pageOpen(browser: Browser, opts: { ignoreHTTPSErrors?: boolean } = {}): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport: SCREEN, ...opts });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error' && KIOSK_PROBE.test(msg.text()) && msg.location().url.endsWith('/v1/auth/kiosk')) return;
    if (msg.type() === 'error' && !EXPECTED_NETWORK.test(msg.text())) errors.push(`console: ${msg.text()} (${msg.location().url})`);
  });
  page.on('pageerror', (err) => errors.push(`exception: ${err.message}`));
  return { page, errors };
}

export function assertNoConsoleErrors(w: WatchedPage): void {
  assert.deepEqual(w.errors, [], `the page logged errors:\n${w.errors.join('\n')}`);
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
}

export async function login(page: Page, url: string, user: string, password: string): Promise<void> {
  await page.goto(url);
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
}

/** The administrator an admin-console test bed makes: `login(page, url, ...CONSOLE_ADMIN)`. */
export const CONSOLE_ADMIN = ['ada', 'battery-staple-9'] as const;

/**
 * One real daemon and Debian's chromium for a test file's admin-console tests, with CONSOLE_ADMIN made; `ready` gets
 * them before the first test (assign them there) and may add what the file needs. Both are closed after the last.
 */
export function adminConsoleTestbed(ready: (bed: { w: WebDaemon; browser: Browser }) => void | Promise<void>): void {
  let w: WebDaemon | undefined;
  let browser: Browser | undefined;
  before(async () => {
    w = await webDaemonStart();
    browser = await browserLaunch();
    await userCreate(w, CONSOLE_ADMIN[0], CONSOLE_ADMIN[1], ['admin', 'user']);
    await ready({ w, browser });
  });
  after(async () => {
    await browser?.close();
    await w?.daemon.destroy();
  });
}

export { until };
