// Network namespaces for tests. Each name carries its test file's tag and the process id, and a test file runs
// once at a time, so a namespace already holding the name was left by an interrupted earlier run: it is emptied
// and replaced instead of failing this run ("File exists") or leaking its old processes into it.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

function killAll(pids: string): void {
  for (const pid of pids.split(/\s+/).filter(Boolean)) {
    try { process.kill(Number(pid), 'SIGKILL'); } catch { /* already gone */ }
  }
}

export async function addTestNamespace(name: string): Promise<void> {
  if (existsSync(`/run/netns/${name}`)) {
    killAll((await run('ip', ['netns', 'pids', name]).catch(() => ({ stdout: '' }))).stdout);
    await run('ip', ['netns', 'del', name]);
  }
  await run('ip', ['netns', 'add', name]);
}

export function addTestNamespaceSync(name: string): void {
  if (existsSync(`/run/netns/${name}`)) {
    try { killAll(execFileSync('ip', ['netns', 'pids', name], { encoding: 'utf8' })); } catch { /* none */ }
    execFileSync('ip', ['netns', 'del', name]);
  }
  execFileSync('ip', ['netns', 'add', name]);
}

/** TCP sockets listening in a namespace (/proc/net/tcp and tcp6, state 0A), as their local address:port in hex. */
export async function tcpListening(netns: string): Promise<string[]> {
  const out: string[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const { stdout } = await run('ip', ['netns', 'exec', netns, 'cat', file]);
    for (const line of stdout.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[3] === '0A') out.push(f[1]!);
    }
  }
  return out.sort();
}
