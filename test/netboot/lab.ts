// A throw-away network for netboot tests: a hub namespace with a bridge, and one namespace per
// host joined to it by a veth pair. Only 10.250.x.y addresses, only inside these namespaces.
// Everything started here is killed and every namespace deleted by destroy(), even on failure.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { addTestNamespace } from '../helpers/netns.js';

const run = promisify(execFile);
export const REPO = process.env.ARDESIA_REPO_ROOT ?? process.cwd();
export const SERVE_JS = join(REPO, 'dist', 'src', 'netboot', 'serve.js');
export const TOOLS_JS = join(REPO, 'dist', 'test', 'netboot', 'tools.js');

async function ip(...args: string[]): Promise<void> {
  await run('ip', args);
}

export interface ServerHandle {
  proc: ChildProcess;
  events: Array<Record<string, unknown>>;
  waitFor(pred: (e: Record<string, unknown>) => boolean, timeoutMs?: number, what?: string): Promise<Record<string, unknown>>;
  exited: Promise<number | null>;
}

export class NetLab {
  private readonly namespaces: string[] = [];
  private readonly procs: ChildProcess[] = [];
  private links = 0;
  readonly hub: string;

  private constructor(readonly tag: string) {
    this.hub = `${tag}-hub`;
  }

  /** `tag` must be unique among concurrently running tests (keep it short: names ≤ 15 chars). */
  static async create(tag: string): Promise<NetLab> {
    const lab = new NetLab(`nb${tag}${process.pid % 1000}`);
    await lab.addNamespace(lab.hub);
    await ip('-n', lab.hub, 'link', 'add', 'br0', 'type', 'bridge');
    await ip('-n', lab.hub, 'link', 'set', 'br0', 'up');
    return lab;
  }

  ns(name: string): string {
    return `${this.tag}-${name}`;
  }

  private async addNamespace(ns: string): Promise<void> {
    await addTestNamespace(ns);
    this.namespaces.push(ns);
    await ip('-n', ns, 'link', 'set', 'lo', 'up');
  }

  /** A host namespace with interface `eth0` on the bridge; `cidr` like 10.250.1.1/24 or none. */
  async addHost(name: string, cidr?: string, mac?: string): Promise<string> {
    const ns = this.ns(name);
    await this.addNamespace(ns);
    const peer = `p${this.links++}`;
    await ip('link', 'add', 'eth0', 'netns', ns, ...(mac ? ['address', mac] : []), 'type', 'veth', 'peer', 'name', peer, 'netns', this.hub);
    await ip('-n', this.hub, 'link', 'set', peer, 'master', 'br0');
    await ip('-n', this.hub, 'link', 'set', peer, 'up');
    if (cidr) await ip('-n', ns, 'addr', 'add', cidr, 'dev', 'eth0');
    await ip('-n', ns, 'link', 'set', 'eth0', 'up');
    return ns;
  }

  /** A tap on the hub bridge, for QEMU started in the hub namespace. */
  async addTap(name: string): Promise<void> {
    await ip('-n', this.hub, 'tuntap', 'add', 'dev', name, 'mode', 'tap');
    await ip('-n', this.hub, 'link', 'set', name, 'master', 'br0');
    await ip('-n', this.hub, 'link', 'set', name, 'up');
  }

  /** Waits until `eth0` in `ns` has a usable IPv6 link-local address (duplicate address detection done). */
  async ipv6LinkLocal(ns: string, timeoutMs = 20_000): Promise<string> {
    const started = Date.now();
    for (;;) {
      const { stdout } = await run('ip', ['-n', ns, '-6', '-o', 'addr', 'show', 'dev', 'eth0', 'scope', 'link']);
      const ready = stdout.split('\n').find((l) => l.includes('inet6 fe80:') && !l.includes('tentative'));
      if (ready) return ready.split(/\s+/)[3]!.split('/')[0]!;
      if (Date.now() - started > timeoutMs) throw new Error(`no IPv6 link-local address on eth0 in ${ns}: ${stdout}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async exec(ns: string, cmd: string, args: string[], timeoutMs = 30_000): Promise<{ stdout: string; stderr: string }> {
    return run('ip', ['netns', 'exec', ns, cmd, ...args], { timeout: timeoutMs, maxBuffer: 16 << 20 });
  }

  /** Runs a subcommand of test/netboot/tools.ts in `ns`; it prints one JSON value. */
  async tool<T>(ns: string, args: string[], timeoutMs = 60_000): Promise<T> {
    const { stdout } = await this.exec(ns, process.execPath, [TOOLS_JS, ...args], timeoutMs);
    return JSON.parse(stdout) as T;
  }

  spawn(ns: string, cmd: string, args: string[]): ChildProcess {
    const proc = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.procs.push(proc);
    return proc;
  }

  /** Starts serve.js in `ns` and resolves once it logs `ready` (or rejects if it exits first). */
  async startServer(ns: string, args: string[]): Promise<ServerHandle> {
    const proc = this.spawn(ns, process.execPath, [SERVE_JS, ...args]);
    const events: Array<Record<string, unknown>> = [];
    const waiters: Array<() => void> = [];
    let buffered = '';
    proc.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) if (line.trim()) events.push(JSON.parse(line) as Record<string, unknown>);
      for (const w of waiters.splice(0)) w();
    });
    let stderr = '';
    proc.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => { for (const w of waiters.splice(0)) w(); resolve(code); }));
    const waitFor = (pred: (e: Record<string, unknown>) => boolean, timeoutMs = 20_000, what = 'event') =>
      new Promise<Record<string, unknown>>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${what} within ${timeoutMs} ms; events: ${JSON.stringify(events.slice(-20))}; stderr: ${stderr}`)), timeoutMs);
        const check = () => {
          const hit = events.find(pred);
          if (hit) { clearTimeout(timer); resolve(hit); return; }
          if (proc.exitCode !== null) { clearTimeout(timer); reject(new Error(`server exited ${proc.exitCode}: ${JSON.stringify(events)} ${stderr}`)); return; }
          waiters.push(check);
        };
        check();
      });
    const handle: ServerHandle = { proc, events, waitFor, exited };
    return handle;
  }

  async destroy(): Promise<void> {
    for (const proc of this.procs) if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    // ip netns exec children: kill whatever still runs inside our namespaces (by pid, ours only).
    for (const ns of this.namespaces) {
      const { stdout } = await run('ip', ['netns', 'pids', ns]).catch(() => ({ stdout: '' }));
      for (const pid of stdout.split(/\s+/).filter(Boolean)) {
        try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ }
      }
    }
    for (const ns of this.namespaces.reverse()) await ip('netns', 'del', ns).catch(() => {});
  }
}

/** The script udhcpc runs: prints what it got as one JSON line per event. */
export const UDHCPC_SCRIPT = `#!/bin/sh
printf '{"event":"%s","ip":"%s","mask":"%s","router":"%s","serverid":"%s","siaddr":"%s","boot_file":"%s"}\\n' "$1" "$ip" "$subnet" "$router" "$serverid" "$siaddr" "$boot_file"
[ "$1" = bound ] && ip addr add "$ip/$subnet" dev "$interface"
exit 0
`;

export interface UdhcpcEvent { event: string; ip: string; mask: string; router: string; serverid: string; siaddr: string; boot_file: string }

/** busybox udhcpc once in `ns`: the "bound" event, or throws if no lease came. */
export async function udhcpcOnce(lab: NetLab, ns: string, script: string, extra: string[] = []): Promise<UdhcpcEvent> {
  const { stdout } = await lab.exec(ns, 'busybox', ['udhcpc', '-i', 'eth0', '-n', '-q', '-f', '-t', '5', '-T', '2', '-s', script, ...extra], 60_000);
  const bound = stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as UdhcpcEvent).find((e) => e.event === 'bound');
  if (!bound) throw new Error(`udhcpc got no lease:\n${stdout}`);
  return bound;
}

/** Kills a QEMU (or any child) and resolves once it is gone: its tap device is free for the next boot only then. */
export async function killAndWait(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.kill('SIGKILL');
  await gone;
}
