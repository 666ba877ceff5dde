// sanlock daemons for tests: one per simulated host, each with its own run folder (SANLOCK_RUN_DIR) and mount and
// network namespaces, no watchdog (-w 0: these machines never load softdog nor touch /dev/watchdog).
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { until } from './daemon.js';

/** A disk folder for the shared storage: /tmp may be a tmpfs, where sanlock's O_DIRECT fails. */
export function diskFolder(): string {
  const fs = execFileSync('stat', ['-f', '-c', '%T', '/tmp'], { encoding: 'utf8' }).trim();
  return mkdtempSync(fs === 'tmpfs' ? '/var/tmp/ardl-' : '/tmp/ardl-');
}

/** Waits until the sanlock daemon of `env`'s run folder answers a client: its socket file exists from its bind(), before it
 *  listens, and a join asked in between is refused (ECONNREFUSED), which a loaded machine made happen. */
export async function sanlockAnswers(name: string, env: NodeJS.ProcessEnv): Promise<void> {
  await until(`${name}'s sanlock daemon`, () => spawnSync('sanlock', ['client', 'status'], { env, stdio: 'ignore' }).status === 0 || undefined, 30_000, 100);
}

export class SanlockDaemon {
  readonly runDir: string;
  process: ChildProcess | undefined;
  /** Resolves once the daemon last killed has exited. */
  private gone: Promise<void> = Promise.resolve();

  constructor(readonly name: string, root: string) {
    this.runDir = join(root, `run-${name}`);
    mkdirSync(this.runDir, { recursive: true });
    const [, , uid, gid] = execFileSync('getent', ['passwd', 'sanlock'], { encoding: 'utf8' }).split(':');
    chownSync(this.runDir, Number(uid), Number(gid));
  }

  /** The environment of this host's sanlock clients (the daemon, the agent, the helper). */
  get env(): NodeJS.ProcessEnv {
    return { ...process.env, SANLOCK_RUN_DIR: this.runDir, SANLOCK_PRIVILEGED: '0' };
  }

  async start(): Promise<void> {
    // A daemon killed just before still holds its pid file's lock for a moment: the new one would refuse to start.
    await this.gone;
    // A daemon killed before leaves its socket: it must not count as the new one's.
    rmSync(join(this.runDir, 'sanlock.sock'), { force: true });
    // unshare execs sanlock: the daemon's pid is this child's, and its namespaces are the host's.
    this.process = spawn('unshare', ['--mount', '--net', '--propagation', 'private', '--', 'sanlock', 'daemon', '-D', '-w', '0', '-L', '-1', '-U', 'sanlock', '-G', 'sanlock'], { env: this.env, stdio: 'ignore', detached: true });
    await sanlockAnswers(this.name, this.env);
  }

  /** Gone at once, its clients' leases left on the disk to expire (a power loss, as its host sees it). */
  kill(): void {
    if (this.process?.pid === undefined) return;
    const child = this.process;
    this.gone = child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()));
    try {
      process.kill(-this.process.pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
}
