// Runs the real `ardesia` daemon as a child process on a fresh data folder, and the real CLI against it.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiClient } from '../../src/cli/client.js';
import { natGuardRemoval, natGuardTable } from '../../src/network/nat-guard.js';
import { freshDatabase } from './postgres.js';

/** `postgres`: every TestDaemon of this process keeps its store in a fresh PostgreSQL database (the *.postgres.test files set it). */
export const TEST_STORE_ENV = 'ARDESIA_TEST_STORE';

export const REPO_ROOT = process.env.ARDESIA_REPO_ROOT ?? join(import.meta.dirname, '..', '..', '..');
export const CLI = join(REPO_ROOT, 'bin', 'ardesia.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(dataDir: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; uid?: number; gid?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, '--data-dir', dataDir, ...args], {
      env: { ...process.env, ...opts.env },
      uid: opts.uid,
      gid: opts.gid,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`ardesia ${args.join(' ')} did not finish in time\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, opts.timeoutMs ?? 120_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    });
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
  });
}

export class TestDaemon {
  proc: ChildProcess | undefined;
  output = '';
  constructor(
    readonly dataDir: string,
    private readonly extraArgs: string[] = [],
    /** A network namespace the daemon (and so its QEMUs, taps and DHCP) runs in; the CLI reaches it by its socket file. */
    private readonly netns?: string,
    /** The daemon's PostgreSQL database (--database), kept across restarts; undefined: SQLite in the data folder. */
    readonly database?: string,
    /** --run-dir: this daemon's own folder when controllers share the data folder. */
    readonly runDir?: string,
  ) {}

  /** Where its socket, VM runtime and logs are. */
  get ownDir(): string {
    return this.runDir ?? this.dataDir;
  }

  private get globalArgs(): string[] {
    return ['--data-dir', this.dataDir, ...(this.runDir ? ['--run-dir', this.runDir] : [])];
  }

  static async start(opts: { extraArgs?: string[]; dataDir?: string; env?: NodeJS.ProcessEnv; netns?: string } = {}): Promise<TestDaemon> {
    // Short path: unix socket paths must stay under 108 bytes.
    const database = process.env[TEST_STORE_ENV] === 'postgres' && opts.env?.ARDESIA_DATABASE === undefined ? await freshDatabase() : undefined;
    const d = new TestDaemon(opts.dataDir ?? mkdtempSync(join(tmpdir(), 'ard-')), opts.extraArgs, opts.netns, database);
    await d.spawn(opts.env);
    return d;
  }

  get socket(): string {
    return join(this.ownDir, 'ardesia.sock');
  }

  /** Starts the daemon and waits for `readyText` in its output (a standby controller logs another line). */
  async spawn(env?: NodeJS.ProcessEnv, readyText = 'ardesia daemon listening'): Promise<void> {
    rmSync(this.socket, { force: true });
    const from = this.output.length; // earlier runs' output stays readable, but does not count
    const argv = [process.execPath, CLI, ...this.globalArgs, 'serve', '--log-level', 'debug', ...this.extraArgs];
    // `ip netns exec` execs the command, so this process is the daemon itself (signals reach it).
    const [cmd, ...args] = this.netns ? ['ip', 'netns', 'exec', this.netns, ...argv] : argv;
    const proc = spawn(cmd!, args, {
      env: { ...process.env, ...(this.database === undefined ? {} : { ARDESIA_DATABASE: this.database }), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = proc;
    proc.stdout!.on('data', (d: Buffer) => (this.output += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (this.output += d.toString()));
    const deadline = Date.now() + 120_000;
    while (!this.output.slice(from).includes(readyText)) {
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`daemon exited early:\n${this.output}`);
      if (Date.now() > deadline) {
        proc.kill('SIGKILL'); // a daemon that started late must not outlive the test that gave up on it
        throw new Error(`daemon did not start in 120 s:\n${this.output}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  api(): ApiClient {
    return new ApiClient({ socketPath: this.socket, token: readFileSync(join(this.dataDir, 'root.token'), 'utf8').trim() });
  }

  cli(args: string[], opts?: Parameters<typeof runCli>[2]): Promise<CliResult> {
    return runCli(this.dataDir, this.runDir ? ['--run-dir', this.runDir, ...args] : args, opts);
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill(signal);
    });
  }

  /** Stops the daemon and force-stops every VM it knows, then removes the data folder. */
  async destroy(): Promise<void> {
    try {
      if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) {
        await this.cli(['vm', 'stop', '-a', '-f'], { timeoutMs: 30_000 }).catch(() => undefined);
      }
    } finally {
      await this.kill('SIGTERM');
      killRuntimeQemus(this.ownDir);
      // Likewise its NAT guard table (left when VMs outlived it): none may stay on the host after the test.
      const nft = this.netns ? ['ip', ['netns', 'exec', this.netns, 'nft', '-f', '-']] as const : ['nft', ['-f', '-']] as const;
      spawnSync(nft[0], [...nft[1]], { input: natGuardRemoval(natGuardTable(this.ownDir)), stdio: ['pipe', 'ignore', 'ignore'] });
      rmSync(this.dataDir, { recursive: true, force: true });
      if (this.runDir) rmSync(this.runDir, { recursive: true, force: true });
    }
  }
}

/** Safety net for tests: no QEMU of this data folder may outlive the test. */
export function killRuntimeQemus(dataDir: string): void {
  const runtime = join(dataDir, 'runtime');
  if (!existsSync(runtime)) return;
  for (const pid of qemuPidsUnder(runtime)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

export function qemuPidsUnder(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (/^(\S*\/)?qemu-system-/.test(cmd) && cmd.includes(marker)) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

/** A poll that takes long (a CLI run is a Node start, ~0.3 CPU-s) waits this many times as long before the next,
 *  so that a wait costs at most a fifth of a core; capped so that what it waits for is still seen soon after. */
const POLL_PAUSE_FACTOR = 4;
const POLL_PAUSE_MAX_MS = 2000;

/** Polls until fn returns a truthy value (tests wait for guest reactions, never for fixed times). */
export async function until<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 90_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    const began = Date.now();
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    const took = Date.now() - began;
    await new Promise((r) => setTimeout(r, Math.max(everyMs, Math.min(POLL_PAUSE_MAX_MS, POLL_PAUSE_FACTOR * took))));
  }
}
