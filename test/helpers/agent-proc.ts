// One `ardesia agent` process in a network namespace (`ip netns exec` execs it: this pid is the agent's), its output kept
// for the assertions.
import { type ChildProcess, spawn } from 'node:child_process';
import { CLI } from './daemon.js';

export class AgentProc {
  output = '';
  readonly proc: ChildProcess;
  readonly exited: Promise<number | null>;
  /** `hide`: a folder the agent must not see (a host that does not mount the shared data folder): an empty tmpfs over it
   *  in a mount namespace of the agent's own (unshare, then exec: the pid stays the agent's). */
  constructor(ns: string, readonly dataDir: string, args: string[], env?: NodeJS.ProcessEnv, hide?: string) {
    const agent = [process.execPath, CLI, 'agent', '--data-dir', dataDir, '--probe-timeout', '5s', ...args];
    const wrapped = hide === undefined ? agent : ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs -o size=1m,mode=0700 hidden "$0" && exec "$@"', hide, ...agent];
    this.proc = spawn('ip', ['netns', 'exec', ns, ...wrapped], { stdio: ['ignore', 'pipe', 'pipe'], ...(env ? { env } : {}) });
    this.proc.stdout!.on('data', (d: Buffer) => (this.output += d.toString()));
    this.proc.stderr!.on('data', (d: Buffer) => (this.output += d.toString()));
    this.exited = new Promise((resolve) => this.proc.on('exit', (code) => resolve(code)));
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(signal);
    await this.exited;
  }
}
