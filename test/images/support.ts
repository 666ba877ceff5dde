// Shared steps of the image tests: CLI calls that must succeed, console typing, guest banners.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type { CliResult, TestDaemon } from '../helpers/daemon.js';
import { until } from '../helpers/daemon.js';

export const GUEST_CMDLINE = 'console=ttyS0 root=/dev/vda rw quiet';

/** Runs the CLI with --json and returns the parsed output; fails the test with stderr otherwise. */
export async function cliJson<T>(daemon: TestDaemon, args: string[]): Promise<T> {
  const r = await daemon.cli(['--json', ...args], { timeoutMs: 300_000 });
  assert.equal(r.code, 0, `ardesia ${args.join(' ')} failed:\n${r.stderr}\n${r.stdout}`);
  return JSON.parse(r.stdout) as T;
}

/** Runs the CLI expecting a failure; returns the result for assertions on the message. */
export async function cliFails(daemon: TestDaemon, args: string[]): Promise<CliResult> {
  const r = await daemon.cli(args, { timeoutMs: 300_000 });
  assert.notEqual(r.code, 0, `ardesia ${args.join(' ')} should have failed:\n${r.stdout}`);
  return r;
}

/** How often `text` appears in a VM's console log (the log outlives the VM: count, don't just look). */
export async function logCount(daemon: TestDaemon, vm: string, text: string): Promise<number> {
  return (await daemon.cli(['vm', 'log', vm])).stdout.split(text).length - 1;
}

/** Waits until `text` appears on the console more often than `seenBefore` times. */
export async function waitForLog(daemon: TestDaemon, vm: string, text: string, seenBefore = 0, timeoutMs = 180_000): Promise<void> {
  await until(`"${text}" on the console of ${vm}`, async () => (await logCount(daemon, vm, text)) > seenBefore, timeoutMs, 500);
}

/** Types a line on a VM's serial console (WebSocket) and waits for `expect` in what comes back. */
export async function typeAndExpect(daemon: TestDaemon, vm: string, line: string, expect: string, timeoutMs = 60_000): Promise<string> {
  const ws = daemon.api().webSocket(`/v1/vms/${vm}/console`);
  let seen = '';
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "${expect}" after typing ${line} on ${vm}; saw: ${seen}`)), timeoutMs);
      ws.on('open', () => ws.send(`${line}\n`));
      ws.on('message', (d: Buffer) => {
        seen += d.toString();
        if (seen.includes(expect)) {
          clearTimeout(timer);
          resolve();
        }
      });
      ws.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  } finally {
    ws.close();
  }
  return seen;
}

/** After the boot banner, until the console's shell answers: a line typed while it starts is partly lost (the banner
 *  comes from rcS, the shell a moment later), so a harmless probe is typed until it comes back. */
export async function shellAnswers(daemon: TestDaemon, vm: string, timeoutMs = 90_000): Promise<void> {
  await until(`the shell of ${vm} answering`, () => typeAndExpect(daemon, vm, 'echo sh-$((20+22))', 'sh-42', 5_000).then(() => true), timeoutMs, 0);
}

/** The open flags of every descriptor a process holds on `path` (from /proc/PID/fdinfo). */
export function openFlagsOf(pid: number, path: string): number[] {
  const flags: number[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target = '';
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    if (target !== path) continue;
    const m = /flags:\s*([0-7]+)/.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'));
    if (m) flags.push(parseInt(m[1]!, 8));
  }
  return flags;
}
