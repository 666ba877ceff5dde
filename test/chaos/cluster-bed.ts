// The cluster trial's bed: a controller and two agents on one real PostgreSQL, each host in its own network namespace
// with its own sanlock daemon (no watchdog) on the shared data folder, and the faults done to an agent's host: power
// loss, a cut management link, an agent restart, and each one's return.
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { HostView } from '../../src/contract/hosts.js';
import type { FaultKind } from './cluster-plan.js';
import { AgentProc } from '../helpers/agent-proc.js';
import { killRuntimeQemus, runCli, TestDaemon, until } from '../helpers/daemon.js';
import { freshDatabaseForNamespaces } from '../helpers/postgres.js';
import { diskFolder, SanlockDaemon } from '../helpers/sanlock.js';
import { NetLab } from '../netboot/lab.js';
import { helperImage } from '../pools/support.js';

const run = promisify(execFile);
const NET = '10.251.13';
const CONTROLLER = `https://${NET}.1:8443`;

/** An agent's host: what the faults do to it and undo. */
export class TrialHost {
  agent!: AgentProc;
  /** What was done to it and not yet undone. */
  fault: Exclude<FaultKind, 'agent-restart'> | undefined;
  /** The step at which it comes back. */
  backAtStep = -1;

  private boots = 1;

  constructor(readonly name: string, readonly ns: string, readonly agentDir: string, public locks: SanlockDaemon, private readonly root: string) {}

  startAgent(args: string[] = []): void {
    this.agent = new AgentProc(this.ns, this.agentDir, args, this.locks.env);
  }

  async link(up: boolean): Promise<void> {
    await run('ip', ['-n', this.ns, 'link', 'set', 'eth0', up ? 'up' : 'down']);
  }

  /** Power loss: nothing of the host says goodbye. Its link goes first (no FIN), its sanlock daemon before its QEMUs
   *  (so that it cannot give their leases back), the agent last. */
  async powerOff(): Promise<void> {
    await this.link(false);
    this.agent.proc.kill('SIGSTOP');
    this.locks.kill();
    killRuntimeQemus(this.agentDir);
    await this.agent.kill();
    this.fault = 'kill';
  }

  async cutOff(): Promise<void> {
    await this.link(false);
    this.fault = 'cut-off';
  }

  async restartAgent(): Promise<void> {
    await this.agent.kill();
    this.startAgent();
  }

  /** Back: power (a fresh sanlock daemon and agent, which rejoin empty) or link. */
  async back(): Promise<void> {
    if (this.fault === 'kill') {
      // A power loss wipes the host's /run (a tmpfs): its sanlock daemon starts afresh, in a new run folder.
      this.locks = new SanlockDaemon(`${this.name}-boot${++this.boots}`, this.root);
      await this.locks.start();
      await this.link(true);
      this.startAgent();
    } else if (this.fault === 'cut-off') {
      await this.link(true);
    }
    this.fault = undefined;
  }
}

export class ClusterBed {
  private readonly dirs: string[] = [];
  private lab!: NetLab;
  private root!: string;
  private ctlLocks!: SanlockDaemon;
  controller!: TestDaemon;
  hosts: TrialHost[] = [];

  async start(agentHosts: number): Promise<void> {
    this.lab = await NetLab.create('ct');
    const ctlNs = await this.lab.addHost('ctl', `${NET}.1/24`);
    const db = await freshDatabaseForNamespaces();
    this.root = diskFolder();
    chmodSync(this.root, 0o711); // QEMU's account passes through to the data folder
    const dataDir = join(this.root, 'data');
    mkdirSync(dataDir);
    this.ctlLocks = new SanlockDaemon('ctl', this.root);
    await this.ctlLocks.start();
    this.controller = new TestDaemon(dataDir, ['--listen', `${NET}.1:8443`, '--host-name', 'ctl', '--database', db.viaSocket, '--home-leases', 'sanlock', '--lease-io-timeout', '2'], ctlNs);
    await this.controller.spawn(this.ctlLocks.env);
    await helperImage(this.controller, 'bb');
    for (let i = 0; i < agentHosts; i++) {
      const name = `a${i + 1}`;
      const ns = await this.lab.addHost(name, `${NET}.${i + 2}/24`);
      const locks = new SanlockDaemon(name, this.root);
      await locks.start();
      const agentDir = mkdtempSync(join(tmpdir(), 'ard-ct-'));
      this.dirs.push(agentDir);
      const host = new TrialHost(name, ns, agentDir, locks, this.root);
      const added = await runCli(dataDir, ['--json', 'host', 'add', name]);
      if (added.code !== 0) throw new Error(`host add ${name}: ${added.stderr}`);
      const { token } = JSON.parse(added.stdout) as { token: string };
      host.startAgent(['--controller', CONTROLLER, '--join', token]);
      this.hosts.push(host);
    }
    await this.hostsUp();
  }

  async hostList(): Promise<HostView[]> {
    return this.controller.api().request<HostView[]>('GET', '/v1/hosts');
  }

  /** Every agent's host linked and up (after a power loss: once it rejoined its lockspace, empty). */
  async hostsUp(timeoutMs = 600_000): Promise<void> {
    const names = new Set(this.hosts.map((h) => h.name));
    await until('every host linked and up', async () => {
      const hosts = (await this.hostList()).filter((h) => names.has(h.name));
      return hosts.length === names.size && hosts.every((h) => h.agent?.ready === true && h.state === 'up') ? true : undefined;
    }, timeoutMs, 1000);
  }

  async destroy(): Promise<void> {
    for (const h of this.hosts) {
      await h.agent?.kill();
      killRuntimeQemus(h.agentDir);
    }
    await this.controller?.destroy().catch(() => undefined);
    this.ctlLocks?.kill();
    for (const h of this.hosts) h.locks.kill();
    await this.lab?.destroy();
    if (this.root) rmSync(this.root, { recursive: true, force: true });
    for (const d of this.dirs) rmSync(d, { recursive: true, force: true });
  }
}
