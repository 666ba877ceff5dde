// Pools over a real daemon: a gold image made from the busybox test guest with the guest helper, users
// with their own API tokens, and small waits on the pool's state.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before } from 'node:test';
import type { DesktopView, PoolView } from '../../src/contract/pools.js';
import { ApiClient } from '../../src/cli/client.js';
import { REPO_ROOT, TestDaemon, until } from '../helpers/daemon.js';
import { buildHelperGuest, KERNEL_APPEND } from '../image-build/helper-guest.js';
import { cliJson } from '../images/support.js';

export const PASSWORD = 'correct-horse-battery-staple';

export interface PoolTestbed {
  daemon: TestDaemon;
  alice: ApiClient;
  bob: ApiClient;
}

/** For one test file: a daemon with the helper guest as image `bb` and the users alice and bob, handed to `ready`
 *  before the tests; its log kept in $ARDESIA_TEST_LOG when set, and the daemon destroyed after them. */
export function poolTestbed(extraArgs: string[], ready: (bed: PoolTestbed) => void, env?: NodeJS.ProcessEnv): void {
  let daemon: TestDaemon | undefined;
  before(async () => {
    daemon = await TestDaemon.start({ ...(extraArgs.length ? { extraArgs } : {}), ...(env ? { env } : {}) });
    await helperImage(daemon, 'bb');
    ready({ daemon, alice: await userClient(daemon, 'alice'), bob: await userClient(daemon, 'bob') });
  });
  after(async () => {
    if (process.env.ARDESIA_TEST_LOG) writeFileSync(process.env.ARDESIA_TEST_LOG, daemon?.output ?? '');
    await daemon?.destroy();
  });
}

/** The daemon environment under which `debianImage` reuses the repository's cache of built Debian trees. */
export const DEBIAN_BUILD_ENV: NodeJS.ProcessEnv = { ARDESIA_BUILD_CACHE: join(REPO_ROOT, '.cache', 'images') };
const DEBIAN_BUILD_TIMEOUT_MS = 30 * 60_000;

/** Builds the demo Debian desktop image as image `name` through the API (the daemon started with DEBIAN_BUILD_ENV). */
export async function debianImage(daemon: TestDaemon, name: string): Promise<void> {
  const op = await daemon.api().request<{ id: string }>('POST', '/v1/images', { name, build: 'debian' });
  const done = await until('the desktop image build', async () => {
    const o = await daemon.api().request<{ state: string; error?: unknown }>('GET', `/v1/operations/${op.id}`);
    return o.state === 'running' ? undefined : o;
  }, DEBIAN_BUILD_TIMEOUT_MS, 2000);
  if (done.state !== 'succeeded') throw new Error(`the Debian image build failed: ${JSON.stringify(done.error)}`);
}

/** Imports the busybox guest with the helper as image `name` (version 1), booted by direct kernel. */
export async function helperImage(daemon: TestDaemon, name: string, files: Record<string, string> = {}): Promise<void> {
  const dir = mkdtempSync('/tmp/pimg-');
  try {
    const guest = buildHelperGuest(dir, files);
    await cliJson(daemon, ['image', 'create', name, '--from', guest.root, '--format', 'raw', '--kernel', guest.kernel, '--initrd', guest.initrd, '--cmdline', KERNEL_APPEND, '--memory', '192M']);
  } finally {
    rmSync(dir, { recursive: true, force: true }); // the import copied what it keeps
  }
}

/** Creates a user with a password and returns an API client that acts as them (their own token). */
export async function userClient(daemon: TestDaemon, name: string, extra: Record<string, unknown> = {}): Promise<ApiClient> {
  const root = daemon.api();
  await root.request('POST', '/v1/users', { name, password: PASSWORD, ...extra });
  const { token } = await new ApiClient({ socketPath: daemon.socket }).request<{ token: string }>('POST', '/v1/auth/tokens', { user: name, password: PASSWORD });
  return new ApiClient({ socketPath: daemon.socket, token });
}

export function desktopsOf(daemon: TestDaemon, pool: string): Promise<DesktopView[]> {
  return daemon.api().request<DesktopView[]>('GET', `/v1/pools/${pool}/desktops`);
}

/** Waits until `test` holds for the pool's desktops; returns them. On a timeout, the error shows the desktops as they
 *  were and the daemon's last lines about the pool (CI keeps no daemon log). */
export function untilDesktops(daemon: TestDaemon, pool: string, what: string, test: (ds: DesktopView[]) => boolean, timeoutMs = 240_000): Promise<DesktopView[]> {
  let last: DesktopView[] = [];
  return until(what, async () => {
    last = await desktopsOf(daemon, pool);
    return test(last) ? last : undefined;
  }, timeoutMs, 500).catch((err: Error) => {
    const desktops = last.map((d) => `${d.name} ${d.state} user=${d.user ?? '-'} since ${d.since}`).join('; ');
    const lines = daemon.output.split('\n').filter((l) => l.includes(pool)).slice(-25).join('\n');
    // Boots are limited across pools (the boot-storm limit): desktops of any pool that went into or out of booting.
    const boots = daemon.output.split('\n').filter((l) => !l.includes(pool) && /→ booting|booting →|boot storm/.test(l)).slice(-15).join('\n');
    throw new Error(`${err.message}; the pool's desktops: ${desktops || 'none'}; the daemon's last lines about ${pool}:\n${lines}\nits last boots of other pools:\n${boots || 'none'}`);
  });
}

export function poolShow(daemon: TestDaemon, pool: string): Promise<PoolView> {
  return daemon.api().request<PoolView>('GET', `/v1/pools/${pool}`);
}

export const homeMount = (user: string) => join('/home', user);
