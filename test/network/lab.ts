// A throw-away network for the desktop-network tests: one namespace holding the daemon, a bridge br0 at
// 10.77.0.1/24 (the "office link"), an HTTP server on it and, when asked, an office DHCP server (busybox
// udhcpd), and, when asked, an "outside" namespace behind it (10.78.0.2, routed: what NAT guests may reach,
// since the daemon's NAT guard keeps them off the daemon's own addresses). Only 10.77.x, 10.78.x and
// 100.64.x addresses, only inside the namespaces; destroy() removes it all.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { until } from '../helpers/daemon.js';
import { addTestNamespace } from '../helpers/netns.js';

const run = promisify(execFile);

export const LAB_HOST = '10.77.0.1';
export const LAB_HTTP_PORT = 8080;
export const LAB_BODY = 'hello-from-the-lab';
export const LAB_URL = `http://${LAB_HOST}:${LAB_HTTP_PORT}/`;
/** The HTTP server "outside" (startOutside): not an address of the daemon's namespace, reached through it. */
export const OUTSIDE_HOST = '10.78.0.2';
export const OUTSIDE_URL = `http://${OUTSIDE_HOST}:${LAB_HTTP_PORT}/`;

const HTTP_SERVER = `require('node:http').createServer((q, s) => s.end(${JSON.stringify(LAB_BODY)})).listen(${LAB_HTTP_PORT}, '0.0.0.0', () => console.log('listening'))`;

export class NetworkLab {
  private readonly procs: ChildProcess[] = [];
  private outside: string | undefined;

  private constructor(readonly ns: string) {}

  /** `tag` keeps concurrently running test files apart (namespace names stay short). */
  static async create(tag: string): Promise<NetworkLab> {
    const lab = new NetworkLab(`an${tag}${process.pid % 10000}`);
    await addTestNamespace(lab.ns);
    await lab.ip('link', 'set', 'lo', 'up');
    await lab.ip('link', 'add', 'br0', 'type', 'bridge');
    await lab.ip('address', 'add', `${LAB_HOST}/24`, 'dev', 'br0');
    await lab.ip('link', 'set', 'br0', 'up');
    return lab;
  }

  async ip(...args: string[]): Promise<string> {
    return (await run('ip', ['-n', this.ns, ...args])).stdout;
  }

  async exec(cmd: string, args: string[]): Promise<string> {
    return (await run('ip', ['netns', 'exec', this.ns, cmd, ...args], { timeout: 30_000 })).stdout;
  }

  private spawn(cmd: string, args: string[], ns = this.ns): ChildProcess {
    const proc = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.procs.push(proc);
    return proc;
  }

  /** The HTTP server guests fetch from, on every address of the namespace (or of the outside one). */
  async startHttp(ns = this.ns): Promise<void> {
    const proc = this.spawn(process.execPath, ['-e', HTTP_SERVER], ns);
    await new Promise<void>((resolve, reject) => {
      proc.stdout!.once('data', () => resolve());
      proc.once('exit', (code) => reject(new Error(`the lab's HTTP server exited (${code})`)));
    });
  }

  /**
   * A namespace beyond this one, as the Internet is beyond a host: a veth out0 (10.78.0.1) to its eth0
   * (10.78.0.2, with the same HTTP server), the daemon's namespace forwarding for bridged guests.
   */
  async startOutside(): Promise<void> {
    const out = `${this.ns}o`;
    await addTestNamespace(out);
    this.outside = out;
    await this.ip('link', 'add', 'out0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', out);
    await this.ip('address', 'add', '10.78.0.1/24', 'dev', 'out0');
    await this.ip('link', 'set', 'out0', 'up');
    await this.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    for (const args of [['link', 'set', 'lo', 'up'], ['address', 'add', `${OUTSIDE_HOST}/24`, 'dev', 'eth0'], ['link', 'set', 'eth0', 'up'], ['route', 'add', '10.77.0.0/24', 'via', '10.78.0.1']]) {
      await run('ip', ['-n', out, ...args]);
    }
    await this.startHttp(out);
  }

  /** The "office" DHCP server on br0: 10.77.0.100-150, router 10.77.0.1. */
  async startOfficeDhcp(dir: string): Promise<void> {
    const conf = join(dir, 'udhcpd.conf');
    writeFileSync(conf, [
      'start 10.77.0.100', 'end 10.77.0.150', 'interface br0', `lease_file ${join(dir, 'udhcpd.leases')}`,
      `pidfile ${join(dir, 'udhcpd.pid')}`, 'option subnet 255.255.255.0', `option router ${LAB_HOST}`, 'option lease 3600', '',
    ].join('\n'));
    this.spawn('busybox', ['udhcpd', '-f', conf]);
    await until('udhcpd is running', () => existsSync(join(dir, 'udhcpd.pid')), 10_000);
  }

  /**
   * VM `vm`'s QEMU runs in this namespace, and the namespace has no way out (only its own links and no
   * default route): so whatever QEMU connects to — slirp's NAT, a restricted NAT's forwarder — is inside it.
   */
  async assertQemuConfined(dataDir: string, vm: string): Promise<void> {
    const pid = readFileSync(join(dataDir, 'runtime', vm, 'qemu.pid'), 'utf8').trim();
    const [qemuNs, labNs] = await Promise.all([run('stat', ['-L', '-c', '%i', `/proc/${pid}/ns/net`]), run('stat', ['-L', '-c', '%i', `/run/netns/${this.ns}`])]);
    if (qemuNs.stdout.trim() !== labNs.stdout.trim()) throw new Error(`vm ${vm}'s QEMU (pid ${pid}) is not in the test's namespace ${this.ns}`);
    const routes = await this.ip('-4', 'route', 'show', 'table', 'all');
    if (/^default /m.test(routes)) throw new Error(`the test's namespace ${this.ns} has a default route:\n${routes}`);
    const links = (await this.ip('-o', 'link', 'show')).split('\n').filter(Boolean).map((l) => l.split(': ')[1]!.split('@')[0]!);
    const outward = links.filter((l) => l !== 'lo' && l !== 'br0' && l !== 'out0' && !l.startsWith('ard-') && !l.startsWith('tc0'));
    if (outward.length > 0) throw new Error(`the test's namespace ${this.ns} has links other than its own: ${outward.join(', ')}`);
  }

  async destroy(): Promise<void> {
    for (const proc of this.procs) if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    const { stdout } = await run('ip', ['netns', 'pids', this.ns]).catch(() => ({ stdout: '' }));
    for (const pid of stdout.split(/\s+/).filter(Boolean)) {
      try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ }
    }
    await run('ip', ['netns', 'del', this.ns]).catch(() => undefined);
    if (this.outside) await run('ip', ['netns', 'del', this.outside]).catch(() => undefined);
  }
}

/** What the test guest's ardesia-net printed on VM `vm`'s console: its lease and its fetch, once both are in. */
export async function guestNetReport(dataDir: string, vm: string, timeoutMs = 240_000): Promise<{ bound: string | null; fetched: string | null }> {
  const log = join(dataDir, 'logs', vm, 'console.log');
  const tail = () => (existsSync(log) ? readFileSync(log, 'utf8').slice(-1500) : '(no console log)');
  return until(`vm ${vm} reports its network on the console`, () => {
    const text = existsSync(log) ? readFileSync(log, 'utf8') : '';
    const lease = /ARDESIA-NET (bound (\S+)|no-lease)/.exec(text);
    const fetch = /ARDESIA-FETCH (ok (\S+)|failed)/.exec(text);
    if (!lease || !fetch) return undefined;
    return { bound: lease[2] ?? null, fetched: fetch[2] ?? null };
  }, timeoutMs, 500).catch((err: Error) => {
    throw new Error(`${err.message}; its console ends with:\n${tail()}`);
  });
}
