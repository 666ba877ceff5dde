// The cluster trial: three users log in and off a boot pool with homes, spread over the controller's host and two
// agents' hosts, while a seeded script (cluster-plan.ts) cuts power to a host, cuts its management link or restarts
// its agent, in the middle of those logins and logoffs, and brings it back a few steps later. Each session's guest
// writes numbered, synced lines into its user's home; once every host is back, one more login must work; then, everyone
// logged off, each home is read from its disk and checked (cluster-invariants.ts): 0 homes with two writers, 0 lost homes.
// Used by test/chaos/cluster.test.ts (a short run in npm test) and `npm run chaos:cluster` (cluster-run.ts).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ApiClient } from '../../src/cli/client.js';
import { ArdesiaError } from '../../src/contract/errors.js';
import type { HomeInfo } from '../../src/contract/images.js';
import type { DesktopView } from '../../src/contract/pools.js';
import type { AuditEntry } from '../../src/contract/users.js';
import { until } from '../helpers/daemon.js';
import { typeAndExpect } from '../images/support.js';
import { userClient } from '../pools/support.js';
import { ClusterBed, type TrialHost } from './cluster-bed.js';
import { homeLogViolations, type HomeViolation, type TrialSession } from './cluster-invariants.js';
import { type ClusterFault, type ClusterStep, type FaultKind, planClusterTrial } from './cluster-plan.js';
import { TRANSIENT_STATES } from './invariants.js';

export interface ClusterTrialOptions {
  seed: number;
  steps: number;
  faultEvery: number;
  users?: number;
  required?: readonly FaultKind[];
  /** The pool's start mode (boot unless told): restore puts template clones on the agents' hosts. */
  startMode?: 'boot' | 'restore';
  log?: (line: string) => void;
}

export interface ClusterTrialReport {
  seed: number;
  steps: number;
  logins: number;
  logoffs: number;
  /** Sessions whose guest started writing into its home. */
  sessions: number;
  faults: Record<FaultKind, number>;
  /** Desktops the controller recorded lost with their host (desktop.lost). */
  lost: number;
  /** Logins that put a user whose session was lost with its host back in session elsewhere. */
  reservedAfterLoss: number;
  /** The longest a session whose VM had gone stayed in use once a login found it dead (the controller's notice). */
  staleSessionSeconds: number;
  /** Line counts not taken before a logoff: the session's console was out of reach then. */
  probesMissed: number;
  /** Operations refused with a registry code (a home still held, a host out of reach …): expected while hosts fail. */
  refused: Record<string, number>;
  homesChecked: number;
  linesChecked: number;
  violations: HomeViolation[];
  /** INTERNAL errors, operations that never settled, a cluster that never came back. */
  findings: string[];
  /** Desktops restored as template clones on the agents' hosts (start mode restore). */
  clonesOnAgents: number;
  seconds: number;
}

const POOL = 'trial';
const SETTLE_MS = 300_000;
const LOG_FILE = 'trial.log';

interface LiveSession extends TrialSession {
  desktop: string;
  host: string;
  /** Lost with its host: not logged off, its writer died with the power. */
  lostWithHost?: boolean;
  /** Logged off, or replaced by a later session of its user on another desktop: its writer is gone. */
  ended?: boolean;
}

class ClusterTrial {
  private readonly bed = new ClusterBed();
  private users: Array<{ name: string; client: ApiClient }> = [];
  private readonly sessions: LiveSession[] = [];
  private readonly report: ClusterTrialReport;
  private readonly log: (line: string) => void;
  private serial = 0;

  constructor(private readonly opts: ClusterTrialOptions) {
    this.report = { seed: opts.seed, steps: 0, logins: 0, logoffs: 0, sessions: 0, faults: { kill: 0, 'cut-off': 0, 'agent-restart': 0 }, lost: 0, reservedAfterLoss: 0, staleSessionSeconds: 0, probesMissed: 0, refused: {}, homesChecked: 0, linesChecked: 0, violations: [], findings: [], clonesOnAgents: 0, seconds: 0 };
    this.log = opts.log ?? ((line) => console.log(line));
  }

  async run(): Promise<ClusterTrialReport> {
    const started = Date.now();
    const userCount = this.opts.users ?? 3;
    const steps = planClusterTrial({ seed: this.opts.seed, steps: this.opts.steps, users: userCount, hosts: 2, faultEvery: this.opts.faultEvery, maxFaultDelayMs: 4000, ...(this.opts.required ? { required: this.opts.required } : {}) });
    try {
      await this.bed.start(2);
      const c = this.bed.controller;
      for (let i = 0; i < userCount; i++) this.users.push({ name: `u${i}`, client: await userClient(c, `u${i}`) });
      await c.api().request('POST', '/v1/pools', {
        name: POOL, image: 'bb', startMode: this.opts.startMode ?? 'boot', warmSpares: 1, maxDesktops: userCount + 1, memoryMiB: 160, homeSizeBytes: 64 * 2 ** 20, entitled: { users: this.users.map((u) => u.name) },
      });
      await until('a ready spare', async () => (await this.desktops()).some((d) => d.state === 'ready') || undefined, SETTLE_MS, 1000);
      for (const [i, step] of steps.entries()) {
        await this.step(i, step);
        this.report.steps++;
      }
      await this.finish();
    } catch (err) {
      this.report.findings.push(`the trial stopped: ${err instanceof Error ? err.message : String(err)}`);
      for (const line of this.report.findings.at(-1)!.split('\n')) this.log(`  ${line}`);
    } finally {
      this.report.clonesOnAgents = (this.bed.controller?.output.match(/: a clone of template [0-9a-f]+ on host /g) ?? []).length;
      await this.bed.destroy();
      this.report.seconds = Math.round((Date.now() - started) / 1000);
    }
    return this.report;
  }

  private desktops(): Promise<DesktopView[]> {
    return this.bed.controller.api().request<DesktopView[]>('GET', `/v1/pools/${POOL}/desktops`);
  }

  private hostOf(name: string): TrialHost | undefined {
    return this.bed.hosts.find((h) => h.name === name);
  }

  private async step(i: number, step: ClusterStep): Promise<void> {
    for (const h of this.bed.hosts) {
      if (h.fault && h.backAtStep === i) {
        this.log(`step ${i}: host ${h.name} back (${h.fault})`);
        await h.back();
      }
    }
    const user = this.users[step.user]!;
    this.log(`step ${i}: ${step.op} ${user.name}${step.fault ? ` + ${step.fault.kind} of ${this.bed.hosts[step.fault.host]!.name} after ${step.fault.afterMs} ms` : ''}`);
    if (step.fault) await this.probeHost(this.bed.hosts[step.fault.host]!);
    const op = step.op === 'login' ? this.login(user) : this.logoff(user);
    const fault = step.fault ? this.fault(i, step.fault) : Promise.resolve();
    const [opDone, faultDone] = await Promise.allSettled([op, fault]);
    if (opDone.status === 'rejected') this.outcome(`${step.op} ${user.name}`, opDone.reason);
    if (faultDone.status === 'rejected') this.report.findings.push(`step ${i}: the fault failed: ${String(faultDone.reason)}`);
  }

  private async fault(i: number, f: ClusterFault): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, f.afterMs));
    const host = this.bed.hosts[f.host]!;
    this.report.faults[f.kind]++;
    if (f.kind === 'agent-restart') return host.restartAgent();
    if (f.kind === 'kill') {
      for (const s of this.liveOn(host.name)) s.lostWithHost = true;
      await host.powerOff();
    } else {
      await host.cutOff();
    }
    host.backAtStep = i + f.backAfterSteps;
  }

  /** Counts a refusal (a registry code) or records a finding (anything else: INTERNAL, a timeout). */
  private outcome(what: string, err: unknown): void {
    if (err instanceof ArdesiaError && err.code !== 'INTERNAL' && err.code !== 'DAEMON_UNREACHABLE') {
      this.report.refused[err.code] = (this.report.refused[err.code] ?? 0) + 1;
      this.log(`  ${what}: refused ${err.code}: ${err.message}`);
      return;
    }
    this.report.findings.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
    this.log(`  ${what}: FINDING ${err instanceof Error ? err.message : String(err)}`);
  }

  /** A session whose writer still runs, as far as the trial knows. */
  private writing(s: LiveSession): boolean {
    return !s.lostWithHost && !s.ended;
  }

  private liveOn(host: string): LiveSession[] {
    return this.sessions.filter((s) => s.host === host && this.writing(s));
  }

  /** The line count each live session's guest sees in its home, taken before its host's fault. */
  private async probeHost(host: TrialHost): Promise<void> {
    if (host.fault) return;
    for (const s of this.liveOn(host.name)) await this.probe(s).catch(() => undefined);
  }

  private async probe(s: LiveSession): Promise<void> {
    // The marker's digits come from the shell, so the typed line's echo never matches it.
    const seen = await typeAndExpect(this.bed.controller, s.desktop, `echo n-$(grep -c "^${s.sid} " /home/${s.user}/${LOG_FILE})-$((1+1))m`, '-2m', 30_000);
    const n = /n-(\d+)-2m/.exec(seen)?.[1];
    if (n !== undefined) s.seenLines = Math.max(s.seenLines ?? 0, Number(n));
  }

  private async login(user: { name: string; client: ApiClient }): Promise<void> {
    this.report.logins++;
    const { desktop } = await user.client.request<{ desktop: DesktopView }>('POST', `/v1/pools/${POOL}/connect`, {});
    const inUse = await until(`${user.name} in session`, async () => (await this.desktops()).find((d) => d.name === desktop.name && d.user === user.name && d.state === 'in-use'), SETTLE_MS, 1000);
    const host = inUse.host ?? 'ctl';
    if (this.hostOf(host)?.fault) {
      this.outcome(`login ${user.name}`, new ArdesiaError('AGENT_NOT_LINKED', `the session is on host ${host}, which is out of reach`));
      return;
    }
    if (this.sessions.some((s) => s.desktop === inUse.name && s.user === user.name && this.writing(s))) return; // writing already
    // The user has one desktop at a time: a session of theirs elsewhere is over (its desktop was reset under it).
    for (const s of this.sessions) if (s.user === user.name && s.desktop !== inUse.name) s.ended = true;
    const sid = `${user.name}s${++this.serial}`;
    const writer = `(i=0; while :; do i=$((i+1)); echo "${sid} $i" >> /home/${user.name}/${LOG_FILE}; sync; sleep 1; done) >/dev/null 2>&1 & echo w-${sid}-$((40+2))`;
    try {
      await typeAndExpect(this.bed.controller, inUse.name, writer, `w-${sid}-42`, 60_000);
    } catch (err) {
      // Its VM went with a host that lost power and came back before it was judged down: the controller must notice
      // (the host's agent, back, no longer has it) and end the session, within a bound.
      // Unless the host went out of reach meanwhile (cut off after it came back, before its agent said what runs there):
      // the controller cannot know the VM is gone until the host is back (the finish checks the session ended then).
      const since = Date.now();
      const ended = async () => !(await this.desktops()).some((d) => d.name === inUse.name && d.user === user.name && d.state === 'in-use');
      await until(`the session of ${user.name} on ${inUse.name}, whose VM does not answer, ended`, async () => ((await ended()) ? 'ended' : this.hostOf(host)?.fault ? 'away' : undefined), SETTLE_MS, 1000);
      if (!(await ended())) {
        this.outcome(`login ${user.name}`, new ArdesiaError('AGENT_NOT_LINKED', `the session's VM on host ${host} did not answer and the host went out of reach before its agent reported`));
        return;
      }
      this.report.staleSessionSeconds = Math.max(this.report.staleSessionSeconds, Math.round((Date.now() - since) / 1000));
      throw new ArdesiaError('VM_NOT_RUNNING', `the session's VM did not answer (${(err as Error).message.slice(0, 80)}…); the controller ended the session`);
    }
    if (this.sessions.some((s) => s.user === user.name && s.lostWithHost)) this.report.reservedAfterLoss++;
    this.sessions.push({ sid, user: user.name, desktop: inUse.name, host });
    this.report.sessions++;
    this.log(`  ${user.name} writes as ${sid} on ${inUse.name} (host ${host})`);
  }

  private async logoff(user: { name: string; client: ApiClient }): Promise<void> {
    const mine = (await this.desktops()).find((d) => d.user === user.name && (d.state === 'in-use' || d.state === 'disconnected'));
    if (!mine) return;
    this.report.logoffs++;
    const session = this.sessions.find((s) => s.desktop === mine.name && s.user === user.name && this.writing(s));
    // A console out of reach for a moment (the host's agent restarting, relinking) leaves this session unprobed.
    if (session && !this.hostOf(mine.host ?? 'ctl')?.fault) await this.probe(session).catch(() => void this.report.probesMissed++);
    await user.client.request('POST', `/v1/sessions/${mine.name}/logoff`);
    if (session) session.ended = true;
    // On a host out of reach the logoff ends only once the host is back or judged down (the VM may still write the
    // home): the finish checks that it did.
    const away = this.hostOf(mine.host ?? 'ctl')?.fault;
    if (away) return this.log(`  logoff ${user.name}: pending until host ${mine.host} is back (${away})`);
    await until(`${user.name} logged off ${mine.name}`, async () => !(await this.desktops()).some((d) => d.name === mine.name && d.user === user.name) || undefined, SETTLE_MS, 1000);
  }

  /** The desktops still between states, each with what the controller logged of it last (a finding's evidence). */
  private async stuckDesktops(): Promise<string> {
    const stuck = (await this.desktops()).filter((d) => TRANSIENT_STATES.has(d.state));
    const lines = this.bed.controller.output.split('\n');
    return stuck.map((d) => {
      const agent = this.bed.hosts.find((h) => h.name === d.host)?.agent.output.split('\n') ?? [];
      return [
        `${d.name} ${d.state} on ${d.host ?? 'no host'} since ${d.since}; the controller's last lines of it:`,
        ...lines.filter((l) => l.includes(d.name)).slice(-12),
        `the controller's last lines of host ${d.host}'s link:`,
        ...lines.filter((l) => l.includes(`host ${d.host}`) || l.includes(`"host":"${d.host}"`)).slice(-12),
        `its agent's last lines of it, then its last lines:`,
        ...agent.filter((l) => l.includes(d.name)).slice(-12),
        ...agent.slice(-15),
      ].join('\n');
    }).join('\n');
  }

  /** With every host back and the pool settled, a login must work again: refused is a finding now. It also gives the
   *  home check a writer when the script's faults met every earlier login (a host lost or cut off under each one). */
  private async loginAfterRecovery(): Promise<void> {
    const user = [...this.users].sort((a, b) => this.sessions.filter((s) => s.user === a.name).length - this.sessions.filter((s) => s.user === b.name).length)[0]!;
    this.log(`finish: login ${user.name} on the whole cluster`);
    const before = this.report.sessions;
    try {
      await this.login(user);
    } catch (err) {
      this.report.findings.push(`a login of ${user.name} once every host was back: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    if (this.report.sessions === before && !this.sessions.some((s) => s.user === user.name && this.writing(s))) this.report.findings.push(`a login of ${user.name} once every host was back started no writer`);
  }

  /** Every host back, the pool settled, everyone logged off, every home released; then each home read from its disk. */
  private async finish(): Promise<void> {
    for (const h of this.bed.hosts) if (h.fault) await h.back();
    this.log('finish: every host back');
    await this.bed.hostsUp();
    await until('no desktop between states', async () => (await this.desktops()).every((d) => !TRANSIENT_STATES.has(d.state)) || undefined, SETTLE_MS, 1000)
      .catch(async (err: Error) => {
        throw new Error(`${err.message}: ${await this.stuckDesktops()}`);
      });
    await this.loginAfterRecovery();
    for (const user of this.users) await this.logoff(user).catch((err: unknown) => this.outcome(`final logoff ${user.name}`, err));
    const api = this.bed.controller.api();
    const homes = await until('every home released', async () => {
      const all = await Promise.all(this.users.map((u) => api.request<HomeInfo & { path: string }>('GET', `/v1/homes/${u.name}`).catch(() => undefined)));
      return all.every((h) => h === undefined || h.leasedTo === null) ? all : undefined;
    }, SETTLE_MS, 1000);
    this.report.lost = (await api.request<AuditEntry[]>('GET', '/v1/audit?action=desktop.lost&limit=10000')).length;
    const dir = mkdtempSync(join(tmpdir(), 'ard-ct-homes-'));
    try {
      for (const [i, user] of this.users.entries()) {
        const home = homes[i];
        const wrote = this.sessions.filter((s) => s.user === user.name);
        if (!home || !existsSync(home.path)) {
          if (wrote.length > 0) this.report.violations.push({ user: user.name, kind: 'lost-writes', detail: `the home of ${user.name} is gone (${wrote.length} sessions wrote into it)` });
          continue;
        }
        this.report.homesChecked++;
        const raw = join(dir, `${user.name}.raw`);
        execFileSync('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', home.path, raw]);
        try {
          execFileSync('e2fsck', ['-fn', raw], { stdio: 'pipe' });
        } catch (err) {
          const out = (err as { stdout?: Buffer }).stdout?.toString() ?? '';
          this.report.violations.push({ user: user.name, kind: 'file-system', detail: `e2fsck -fn: ${out.split('\n').slice(-4).join(' ').trim()}` });
        }
        const text = wrote.length === 0 ? '' : execFileSync('debugfs', ['-R', `cat /${LOG_FILE}`, raw], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
        this.report.linesChecked += text.split('\n').filter(Boolean).length;
        this.report.violations.push(...homeLogViolations(user.name, text, wrote));
        rmSync(raw, { force: true });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

export function runClusterTrial(opts: ClusterTrialOptions): Promise<ClusterTrialReport> {
  return new ClusterTrial(opts).run();
}
