// The measured side: a VM started through a running Ardesia daemon — by the CLI (node start-up,
// HTTP over the unix socket, the daemon's start) or by the API alone — until the banner reaches a
// console client attached over the daemon's WebSocket.
import { readFileSync } from 'node:fs';
import type { VmStatus } from '../../src/contract/vm.js';
import type { ApiClient } from '../../src/cli/client.js';
import { type TestDaemon } from '../../test/helpers/daemon.js';
import { BannerTimeoutError, BannerWatch } from './banner.js';
import { waitGone } from './host.js';

/** Milliseconds from the spawn of the CLI (or the API request) to each step. */
export interface ArdesiaBootTiming {
  /** The CLI exited 0, or the API answered the start request: QEMU runs, `cont` was acknowledged. */
  startedMs: number;
  consoleAttachedMs: number;
  bannerMs: number;
  /** The banner came in the replay sent on attach, so bannerMs is only an upper bound. */
  bannerInReplay: boolean;
}

export interface ArdesiaVm {
  pid: number;
  timing: ArdesiaBootTiming;
  /** QEMU's argv as the daemon launched it (from /proc/PID/cmdline). */
  argv: string[];
}

const CONSOLE_REPLAY_BYTES = 65536;

/** Attaches to the console WebSocket (with replay) and resolves at the banner, in ms since t0. */
function bannerOverConsole(api: ApiClient, name: string, banner: string, t0: number, timeoutMs: number): Promise<Omit<ArdesiaBootTiming, 'startedMs'>> {
  const ws = api.webSocket(`/v1/vms/${encodeURIComponent(name)}/console?replay=${CONSOLE_REPLAY_BYTES}`);
  const watch = new BannerWatch(banner);
  let consoleAttachedMs = Number.NaN;
  let messages = 0;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new BannerTimeoutError(`the console WebSocket of vm ${name}`, timeoutMs));
    }, timeoutMs);
    ws.on('open', () => (consoleAttachedMs = performance.now() - t0));
    ws.on('message', (data: Buffer) => {
      messages++;
      if (!watch.feed(data)) return;
      clearTimeout(timer);
      ws.close();
      resolve({ consoleAttachedMs, bannerMs: watch.seenAt! - t0, bannerInReplay: messages === 1 });
    });
    ws.on('close', (code, reason) => {
      if (watch.seenAt !== undefined) return;
      clearTimeout(timer);
      reject(new Error(`console of vm ${name} closed (${code} ${reason.toString()}) before the banner`));
    });
    ws.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

function argvOf(pid: number): string[] {
  const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  if (args.at(-1) === '') args.pop(); // cmdline ends with a NUL
  return args;
}

async function pidOf(api: ApiClient, name: string): Promise<number> {
  const status = await api.request<VmStatus>('GET', `/v1/vms/${encodeURIComponent(name)}`);
  if (!status.pid) throw new Error(`vm ${name} reports no pid after its start`);
  return status.pid;
}

/** `ardesia vm start NAME …` as an operator types it, then the banner over the console WebSocket. */
export async function cliBoot(daemon: TestDaemon, name: string, startFlags: string[], banner: string, timeoutMs = 120_000): Promise<ArdesiaVm> {
  const api = daemon.api();
  const t0 = performance.now();
  const result = await daemon.cli(['vm', 'start', name, ...startFlags], { timeoutMs });
  const startedMs = performance.now() - t0;
  if (result.code !== 0) throw new Error(`ardesia vm start ${name} failed (${result.code}): ${result.stderr.trim()}`);
  const rest = await bannerOverConsole(api, name, banner, t0, timeoutMs);
  const pid = await pidOf(api, name);
  return { pid, timing: { startedMs, ...rest }, argv: argvOf(pid) };
}

/** POST /v1/vms/NAME/start with the same ad hoc spec, then the banner over the console WebSocket. */
export async function apiBoot(daemon: TestDaemon, name: string, adHoc: Record<string, unknown>, banner: string, timeoutMs = 120_000): Promise<ArdesiaVm> {
  const api = daemon.api();
  const t0 = performance.now();
  const status = await api.request<VmStatus>('POST', `/v1/vms/${encodeURIComponent(name)}/start`, { adHoc }, timeoutMs);
  const startedMs = performance.now() - t0;
  const rest = await bannerOverConsole(api, name, banner, t0, timeoutMs);
  if (!status.pid) throw new Error(`vm ${name} reports no pid after its start`);
  return { pid: status.pid, timing: { startedMs, ...rest }, argv: argvOf(status.pid) };
}

/** Pulls the plug (vm stop -f) and waits until the QEMU process is gone. */
export async function forceStop(api: ApiClient, name: string, pid: number): Promise<void> {
  await api.request('POST', `/v1/vms/${encodeURIComponent(name)}/stop`, { force: true, waitMs: 30_000 });
  await waitGone(pid);
}
