// One `ardesia agent` process in a network namespace (`ip netns exec` execs it: this pid is the agent's), its output kept
// for the assertions.
import { type ChildProcess, spawn } from 'node:child_process';
import { CLI } from './daemon.js';

export class AgentProc {
  output = '';
  readonly proc: ChildProcess;
  readonly exited: Promise<number | null>;
  constructor(ns: string, readonly dataDir: string, args: string[], env?: NodeJS.ProcessEnv) {
    this.proc = spawn('ip', ['netns', 'exec', ns, process.execPath, CLI, 'agent', '--data-dir', dataDir, '--probe-timeout', '5s', ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...(env ? { env } : {}) });
    this.proc.stdout!.on('data', (d: Buffer) => (this.output += d.toString()));
    this.proc.stderr!.on('data', (d: Buffer) => (this.output += d.toString()));
    this.exited = new Promise((resolve) => this.proc.on('exit', (code) => resolve(code)));
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(signal);
    await this.exited;
  }
}
