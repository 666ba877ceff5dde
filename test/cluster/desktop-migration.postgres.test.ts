// A persistent desktop moved live between two agents' hosts: a real controller (PostgreSQL, HTTPS, home leases) and
// two `ardesia agent`s (a third joins for the last test), each host in its own network namespace with a sanlock daemon
// of its own, the data folder on a disk every host sees. Alice's session runs on one host; a drain of that host moves her desktop to the other while
// it runs — the same guest (its shell's variable kept), her home plugged in there before the state arrived, its
// sanlock lease handed from the old QEMU to the new one — and her logoff afterwards goes through the new host. A move
// back whose destination's agent dies with the state loaded leaves the desktop running where it was, its lease taken
// back, and the destination's unresumed QEMU is killed when its agent returns. A desktop on the controller's own host
// (no agent: the controller's VM manager is the source) moves out the same way when that host is drained, and back
// when named. A controller killed (failpoint) after the destination resumed a moved desktop, before it recorded the
// move, finds the move when it is back and records it: no copy killed, none run twice; one killed after the destination
// failed, before telling the source, finds the move unfinished and the source runs on; one killed after its own host
// resumed a desktop moved there finds its QEMU running it and records the move. A move onto the controller's own host
// whose QEMU there is killed with the state loaded leaves the desktop running at its source, its lease taken back.
// When the destination's host loses power before the controller is back, the move is settled once that host is
// judged down: the source runs on if the destination never took the home's lease (sanlock's leader record), and the
// desktop is lost with that host if it did (the source's older state never resumed). Outcomes and order, never timing.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { SanlockClient } from '../../src/cluster/home-leases/sanlock.js';
import type { HostDetail, HostView } from '../../src/contract/hosts.js';
import type { HomeInfo } from '../../src/contract/images.js';
import type { DesktopView, SessionInfo } from '../../src/contract/pools.js';
import type { ApiClient } from '../../src/cli/client.js';
import { AgentProc } from '../helpers/agent-proc.js';
import { killRuntimeQemus, qemuPidsUnder, runCli, TestDaemon, until } from '../helpers/daemon.js';
import { freshDatabaseForNamespaces } from '../helpers/postgres.js';
import { diskFolder, SanlockDaemon } from '../helpers/sanlock.js';
import { typeAndExpect } from '../images/support.js';
import { NetLab } from '../netboot/lab.js';
import { helperImage, untilDesktops, userClient } from '../pools/support.js';

const NET = '10.251.15';
const CONTROLLER = `https://${NET}.1:8443`;
const POOL = 'own';
const AGENTS = ['a1', 'a2'] as const;
/** a3 joins late, for the last test. */
type AgentName = (typeof AGENTS)[number] | 'a3';

let lab: NetLab;
let root: string;
let controller: TestDaemon;
let alice: ApiClient;
const locks = new Map<string, SanlockDaemon>();
const namespaces = new Map<AgentName, string>();
const agentDirs = new Map<AgentName, string>();
const agents = new Map<AgentName, AgentProc>();
const dirs: string[] = [];

const cli = (args: string[]) => runCli(controller.dataDir, args);
async function json<T>(args: string[]): Promise<T> {
  const r = await cli(['--json', ...args]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return JSON.parse(r.stdout) as T;
}
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'ard-dm-'));
  dirs.push(d);
  return d;
}
const upAndLinked = (name: AgentName) => async () => {
  const h = (await json<HostView[]>(['host', 'list'])).find((v) => v.name === name);
  return (h?.agent?.ready === true && h.state === 'up') || undefined;
};
const linked = (name: AgentName, yes: boolean) => async () => {
  const agent = (await json<HostView[]>(['host', 'list'])).find((h) => h.name === name)?.agent;
  return (yes ? agent?.ready === true : agent?.linked !== true) || undefined;
};
const desktopWhere = async (what: string, which: (d: DesktopView) => boolean) => (await untilDesktops(controller, POOL, what, (ds) => ds.some(which), 300_000)).find(which)!;
const qemuOf = (host: AgentName, desktop: string) => qemuPidsUnder(join(agentDirs.get(host)!, 'runtime', desktop));
const other = (host: AgentName): AgentName => (host === 'a1' ? 'a2' : 'a1');
function agentStart(name: AgentName, args: string[], extraEnv: NodeJS.ProcessEnv = {}): void {
  agents.set(name, new AgentProc(namespaces.get(name)!, agentDirs.get(name)!, args, { ...locks.get(name)!.env, ...extraEnv }));
}

before(async () => {
  lab = await NetLab.create('dm');
  const ctlNs = await lab.addHost('ctl', `${NET}.1/24`);
  for (const [i, name] of AGENTS.entries()) namespaces.set(name, await lab.addHost(name, `${NET}.${i + 2}/24`));
  const db = await freshDatabaseForNamespaces();
  root = diskFolder(); // sanlock reads its leases with O_DIRECT: a real disk, seen by every host at the same path
  chmodSync(root, 0o711);
  const dataDir = join(root, 'data');
  mkdirSync(dataDir);
  for (const name of ['ctl', ...AGENTS]) locks.set(name, new SanlockDaemon(name, root));
  await Promise.all([...locks.values()].map((l) => l.start()));
  controller = new TestDaemon(dataDir, ['--host-name', 'ctl', '--database', db.viaSocket, '--home-leases', 'sanlock', '--lease-io-timeout', '2', '--listen', `${NET}.1:8443`], ctlNs);
  await controller.spawn(locks.get('ctl')!.env);
  await helperImage(controller, 'bb');
  alice = await userClient(controller, 'alice');
  for (const name of AGENTS) {
    const { token } = await json<{ token: string }>(['host', 'add', name]);
    agentDirs.set(name, tempDir());
    agentStart(name, ['--controller', CONTROLLER, '--join', token]);
    await until(`${name} linked`, linked(name, true), 120_000, 500);
  }
  // The controller's own host takes nothing: the desktops live on the agents' hosts, which move VMs live.
  assert.equal((await cli(['host', 'drain', 'ctl'])).code, 0);
});

after(async () => {
  if (process.env.ARDESIA_TEST_LOG) writeFileSync(process.env.ARDESIA_TEST_LOG, `${controller?.output ?? ''}\n${[...agents].map(([n, a]) => `--- ${n} ---\n${a.output}`).join('\n')}`);
  for (const [name, agent] of agents) {
    await agent.kill();
    killRuntimeQemus(agentDirs.get(name)!);
  }
  await controller?.destroy().catch(() => undefined);
  for (const l of locks.values()) l.kill();
  await lab?.destroy();
  if (root) rmSync(root, { recursive: true, force: true });
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** `vm migrate` of the desktop by a controller restarted to die at `failpoint`: refused, the controller dead. */
async function migrateAsControllerDies(failpoint: string, onto: string): Promise<void> {
  await controller.kill();
  await controller.spawn({ ...locks.get('ctl')!.env, ARDESIA_FAILPOINTS: failpoint });
  // The move's two sides (the controller's own host has no agent).
  for (const name of [from, onto].filter((h): h is AgentName => h !== 'ctl')) await until(`${name} linked and up again`, upAndLinked(name), 120_000, 500);
  const died = controller.proc!;
  const dead = () => died.exitCode !== null || died.signalCode !== null || undefined;
  // Just back, the controller may refuse the move until its agents' first heartbeats and reports are in (a host not up
  // yet, the desktop not seen running): asked again. A move that began ends with the controller's death at the failpoint.
  for (let tries = 1; ; tries++) {
    const r = await cli(['vm', 'migrate', desktop, '--to', onto]);
    assert.notEqual(r.code, 0, r.stdout);
    if (await until(`the controller died at ${failpoint}`, dead, 10_000, 200).then(() => true, () => false)) return;
    assert.ok(tries < 30 && !/VM_MIGRATION_FAILED| from host \S+ to host /.test(r.stderr), `vm migrate ended without reaching ${failpoint}: ${r.stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

/** After a failed move alice's desktop runs on at `host` where it was: in use, the same QEMU and guest (`probe` echoes
 *  a shell variable set before the move), its home's lease held by that QEMU again. */
async function runsOnAt(host: AgentName, pid: number, probe: { type: string; until: string; kept: RegExp }): Promise<void> {
  const still = await desktopWhere(`${desktop} in use on ${host}`, (d) => d.name === desktop && d.host === host && d.state === 'in-use');
  assert.equal(still.user, 'alice');
  assert.deepEqual(qemuOf(host, desktop), [pid], 'the same QEMU runs on');
  const seen = await typeAndExpect(controller, desktop, probe.type, probe.until);
  assert.match(seen, probe.kept, 'the same guest');
  const held = await new SanlockClient(locks.get(host)!.env).inquire(pid);
  assert.ok(held.some((res) => res.name.endsWith('-alice')), `the lease is taken back on ${host}: ${JSON.stringify(held)}`);
  const lease = await json<HomeInfo>(['home', 'show', 'alice']);
  assert.deepEqual([lease.leasedTo, lease.siteLease?.host, lease.siteLease?.pid], [desktop, host, pid]);
}

let desktop: string;
let from: AgentName;
let to: AgentName;
let movedPid: number;
/** Where the controller's paused failpoint says it is reached, and is told to go on. */
let failpointDir: string;

test("a drain moves a persistent desktop in use live: the same guest and session, the home plugged in on the new host, its lease held by the new QEMU", { timeout: 600_000 }, async () => {
  await controller.api().request('POST', '/v1/pools', {
    name: POOL, image: 'bb', startMode: 'boot', persistent: true, warmSpares: 1, maxDesktops: 2, memoryMiB: 192, homeSizeBytes: 64 * 2 ** 20, entitled: { users: ['alice'] },
  });
  await desktopWhere('a ready spare', (d) => d.state === 'ready' && d.user === null);
  const { desktop: got } = await alice.request<{ desktop: DesktopView; session: SessionInfo }>('POST', `/v1/pools/${POOL}/connect`, {});
  desktop = got.name;
  const inUse = await desktopWhere('her session', (d) => d.name === desktop && d.state === 'in-use');
  from = inUse.host as AgentName;
  to = other(from);
  const [oldPid] = qemuOf(from, desktop);
  assert.ok(oldPid, `${desktop}'s QEMU runs under ${from}'s agent`);
  await typeAndExpect(controller, desktop, 'MOVED=kept-$((6*7)); echo before > /home/alice/moved.txt; sync; echo w-$((40+2))', 'w-42');
  const leased = await json<HomeInfo>(['home', 'show', 'alice']);
  assert.deepEqual([leased.leasedTo, leased.siteLease?.host, leased.siteLease?.pid], [desktop, from, oldPid]);

  assert.equal((await cli(['host', 'drain', from])).code, 0);
  const moved = await desktopWhere(`${desktop} in use on ${to}`, (d) => d.name === desktop && d.host === to && d.state === 'in-use');
  assert.equal(moved.user, 'alice');
  await until('the move followed', () => new RegExp(`desktop ${desktop} moved live to host ${to} with the home of alice`).test(controller.output) || undefined, 60_000, 200);
  const [newPid] = qemuOf(to, desktop);
  assert.ok(newPid, `${desktop}'s QEMU runs under ${to}'s agent`);
  movedPid = newPid;
  await until(`the QEMU on ${from} quit`, () => qemuOf(from, desktop).length === 0 || undefined, 60_000, 200);
  // The same guest: the shell's variable set before the move is still there, and the home is still mounted and written.
  const seen = await typeAndExpect(controller, desktop, 'echo var-$MOVED; echo after >> /home/alice/moved.txt; sync; grep -c " /home/alice " /proc/mounts; echo w-$((40+3))', 'w-43');
  assert.match(seen, /var-kept-42/, 'the guest kept running through the move');
  // The lease moved with it: the store says the new QEMU on the new host, and that host's sanlock daemon agrees.
  const lease = await json<HomeInfo>(['home', 'show', 'alice']);
  assert.deepEqual([lease.leasedTo, lease.siteLease?.host, lease.siteLease?.pid], [desktop, to, newPid]);
  const held = await new SanlockClient(locks.get(to)!.env).inquire(newPid);
  assert.ok(held.some((r) => r.name.endsWith('-alice')), `${to}'s sanlock: ${JSON.stringify(held)}`);
  // The drained host ends with nothing on it.
  const drained = await until(`${from} empty`, async () => {
    const h = await json<HostDetail>(['host', 'show', from]);
    return h.vms.length === 0 ? h : undefined;
  }, 300_000, 1000);
  assert.deepEqual(drained.vms, []);
});

test("a move back whose destination's agent dies with the state loaded: the desktop runs on where it was, its lease taken back; the unresumed QEMU is killed at the agent's return", { timeout: 600_000 }, async () => {
  assert.equal((await cli(['host', 'undrain', from])).code, 0);
  // The destination's agent, restarted with a failpoint that kills it once the state is in, before the guest resumes.
  await agents.get(from)!.kill();
  await until(`${from} unlinked`, linked(from, false), 60_000, 200);
  agentStart(from, [], { ARDESIA_FAILPOINTS: 'migrate-in-loaded' });
  await until(`${from} linked with the failpoint`, linked(from, true), 120_000, 500);
  const r = await cli(['vm', 'migrate', desktop, '--to', from]);
  assert.notEqual(r.code, 0, r.stdout);
  assert.match(r.stderr, new RegExp(`vm ${desktop} from host ${to} to host ${from}: host ${from}'s link was lost before its agent answered`), r.stderr);
  const dead = agents.get(from)!.proc;
  assert.ok(dead.exitCode !== null || dead.signalCode !== null, `${from}'s agent died at the failpoint: ${agents.get(from)!.output.slice(-2000)}`);
  assert.equal(qemuOf(from, desktop).length, 1, 'its unresumed QEMU outlived the agent');
  // Still on the host it was on: the same QEMU runs on, the guest with it, and that QEMU holds the home's lease again.
  await until('the source resumed it', () => new RegExp(`vm ${desktop}: its migration failed at the destination; it runs on here`).test(agents.get(to)!.output) || undefined, 60_000, 200);
  await runsOnAt(to, movedPid, { type: 'echo var-$MOVED; echo w-$((40+4))', until: 'w-44', kept: /var-kept-42/ });
  // Back without the failpoint: the QEMU the cluster never gave it is killed, never resumed.
  agentStart(from, []);
  await until(`${from} linked again`, linked(from, true), 120_000, 500);
  await until(`the unresumed QEMU on ${from} is gone`, () => qemuOf(from, desktop).length === 0 || undefined, 120_000, 500);
  assert.deepEqual(qemuOf(to, desktop), [movedPid]);
});

test('the logoff after the moves goes through the new host: the home is released with both lines on it, the desktop kept for its owner', { timeout: 300_000 }, async () => {
  await alice.request('POST', `/v1/sessions/${desktop}/logoff`);
  const kept = await desktopWhere('kept after logoff', (d) => d.name === desktop && d.state !== 'in-use' && d.state !== 'logging-off');
  assert.equal(kept.user, 'alice', 'a persistent desktop keeps its owner');
  // The desktop is ready again as its home's release begins (lifecycle.ts: ready, then release-home): wait for it.
  const released = await until('the home of alice released', async () => {
    const home = await json<HomeInfo & { path: string }>(['home', 'show', 'alice']);
    return home.leasedTo === null ? home : undefined;
  }, 60_000, 200);
  assert.equal(released.siteLease?.host ?? null, null);
  const raw = join(tempDir(), 'home.raw');
  execFileSync('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', released.path, raw]);
  assert.ok(existsSync(raw));
  const file = execFileSync('debugfs', ['-R', 'cat /moved.txt', raw], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  assert.equal(file, 'before\nafter\n', 'written before and after the move, on the one home');
});

test("the controller's own host drained: a persistent desktop in session there moves live to an agent's host with its home and lease, its QEMU there quit without recording a stop", { timeout: 600_000 }, async () => {
  const bob = await userClient(controller, 'bob');
  assert.equal((await cli(['host', 'label', 'ctl', 'blue'])).code, 0);
  assert.equal((await cli(['host', 'undrain', 'ctl'])).code, 0);
  await controller.api().request('POST', '/v1/pools', {
    name: 'here', image: 'bb', startMode: 'boot', persistent: true, warmSpares: 1, maxDesktops: 1, memoryMiB: 192, homeSizeBytes: 64 * 2 ** 20,
    hostLabels: { require: ['blue'], avoid: [] }, entitled: { users: ['bob'] },
  });
  await untilDesktops(controller, 'here', 'a ready spare on ctl', (ds) => ds.some((d) => d.state === 'ready' && d.host === 'ctl'), 300_000);
  const { desktop: got } = await bob.request<{ desktop: DesktopView }>('POST', '/v1/pools/here/connect', {});
  const name = got.name;
  const local = () => qemuPidsUnder(join(controller.dataDir, 'runtime', name));
  assert.equal(local().length, 1, "its QEMU runs under the controller's own VM manager");
  await typeAndExpect(controller, name, 'HERE=ctl-$((6*7)); echo before > /home/bob/here.txt; sync; echo w-$((50+1))', 'w-51');
  // One agent's host may take it too; the controller's own host drained, the desktop goes there while it runs.
  assert.equal((await cli(['host', 'label', to, 'blue'])).code, 0);
  assert.equal((await cli(['host', 'drain', 'ctl'])).code, 0);
  const [moved] = await untilDesktops(controller, 'here', `${name} in use on ${to}`, (ds) => ds.some((d) => d.name === name && d.host === to && d.state === 'in-use'), 300_000);
  assert.equal(moved!.user, 'bob');
  await until('the move followed', () => new RegExp(`desktop ${name} moved live to host ${to} with the home of bob`).test(controller.output) || undefined, 60_000, 200);
  await until("the controller's QEMU quit", () => local().length === 0 || undefined, 60_000, 200);
  const [pid] = qemuOf(to, name);
  assert.ok(pid, `${name}'s QEMU runs under ${to}'s agent`);
  const status = await json<{ state: string; pid: number | null; lastStopReason: string | null }>(['vm', 'status', name]);
  assert.deepEqual([status.state, status.pid, status.lastStopReason], ['running', pid, null], 'the hand-off is not recorded as a stop');
  const seen = await typeAndExpect(controller, name, 'echo var-$HERE; echo after >> /home/bob/here.txt; sync; echo w-$((50+2))', 'w-52');
  assert.match(seen, /var-ctl-42/, 'the same guest');
  const lease = await json<HomeInfo>(['home', 'show', 'bob']);
  assert.deepEqual([lease.leasedTo, lease.siteLease?.host, lease.siteLease?.pid], [name, to, pid]);
  const held = await new SanlockClient(locks.get(to)!.env).inquire(pid);
  assert.ok(held.some((r) => r.name.endsWith('-bob')), `${to}'s sanlock: ${JSON.stringify(held)}`);
  // Back onto the controller's own host, named: placement alone never sends it there.
  const refused = await cli(['vm', 'migrate', name]);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, new RegExp(`no host can run .*${other(to)} lacks label blue`), refused.stderr);
  assert.equal((await cli(['host', 'undrain', 'ctl'])).code, 0);
  const back = await json<{ vm: string; from: string; to: string }>(['vm', 'migrate', name, '--to', 'ctl']);
  assert.deepEqual([back.from, back.to], [to, 'ctl']);
  const [here] = await untilDesktops(controller, 'here', `${name} in use on ctl`, (ds) => ds.some((d) => d.name === name && d.host === 'ctl' && d.state === 'in-use'), 120_000);
  assert.equal(here!.user, 'bob');
  await until(`the QEMU on ${to} quit`, () => qemuOf(to, name).length === 0 || undefined, 60_000, 200);
  const [homePid] = local();
  assert.ok(homePid, "its QEMU runs under the controller's own VM manager again");
  const seenHome = await typeAndExpect(controller, name, 'echo var-$HERE; echo w-$((50+3))', 'w-53');
  assert.match(seenHome, /var-ctl-42/, 'the same guest, back');
  const leaseHome = await json<HomeInfo>(['home', 'show', 'bob']);
  assert.deepEqual([leaseHome.siteLease?.host, leaseHome.siteLease?.pid], ['ctl', homePid]);
  await bob.request('POST', `/v1/sessions/${name}/logoff`);
  await untilDesktops(controller, 'here', 'kept after logoff', (ds) => ds.some((d) => d.name === name && d.state === 'ready' && d.user === 'bob'), 120_000);
  const released = await until('the home of bob released', async () => {
    const home = await json<HomeInfo & { path: string }>(['home', 'show', 'bob']);
    return home.leasedTo === null ? home : undefined;
  }, 60_000, 200);
  const raw = join(tempDir(), 'bob.raw');
  execFileSync('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', released.path, raw]);
  assert.equal(execFileSync('debugfs', ['-R', 'cat /here.txt', raw], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }), 'before\nafter\n');
});

test("the controller dies between the destination's resume and the move's record: back, it finds the move by the destination's report and records it; the running QEMU is never killed, the source's paused one is quit, the lease recorded with the new QEMU", { timeout: 600_000 }, async () => {
  const { desktop: again } = await alice.request<{ desktop: DesktopView }>('POST', `/v1/pools/${POOL}/connect`, {});
  assert.equal(again.name, desktop, 'her persistent desktop');
  await desktopWhere(`${desktop} in use on ${to}`, (d) => d.name === desktop && d.host === to && d.state === 'in-use');
  const [sourcePid] = qemuOf(to, desktop);
  assert.ok(sourcePid);
  await typeAndExpect(controller, desktop, 'LATE=kept-$((7*7)); echo w-$((60+1))', 'w-61');
  // The controller dies once both sides answered, before it records the move.
  const fromLogBefore = agents.get(from)!.output.length;
  await migrateAsControllerDies('migration-before-record', from);
  const [arrivedPid] = qemuOf(from, desktop);
  assert.ok(arrivedPid, `${desktop}'s QEMU runs under ${from}'s agent`);
  assert.deepEqual(qemuOf(to, desktop), [sourcePid], 'the source waits paused');

  await controller.spawn(locks.get('ctl')!.env);
  await until('the move found and recorded', () => new RegExp(`vm ${desktop}: its live migration from host ${to} to host ${from} had finished, unrecorded, when this controller stopped: recorded there now`).test(controller.output) || undefined, 120_000, 200);
  const moved = await desktopWhere(`${desktop} in use on ${from}`, (d) => d.name === desktop && d.host === from && d.state === 'in-use');
  assert.equal(moved.user, 'alice');
  await until(`the paused QEMU on ${to} quit`, () => qemuOf(to, desktop).length === 0 || undefined, 60_000, 200);
  assert.deepEqual(qemuOf(from, desktop), [arrivedPid], 'the QEMU that had the VM was never killed or restarted');
  assert.doesNotMatch(agents.get(from)!.output.slice(fromLogBefore), new RegExp(`vm ${desktop}: kill`), `${from}'s agent never took it for a stranger`);
  const seen = await typeAndExpect(controller, desktop, 'echo var-$LATE; echo w-$((60+2))', 'w-62');
  assert.match(seen, /var-kept-49/, 'the same guest');
  const status = await json<{ state: string; pid: number | null }>(['vm', 'status', desktop]);
  assert.deepEqual([status.state, status.pid], ['running', arrivedPid]);
  const lease = await json<HomeInfo>(['home', 'show', 'alice']);
  assert.deepEqual([lease.leasedTo, lease.siteLease?.host, lease.siteLease?.pid], [desktop, from, arrivedPid]);
  const held = await new SanlockClient(locks.get(from)!.env).inquire(arrivedPid);
  assert.ok(held.some((res) => res.name.endsWith('-alice')), `${from}'s sanlock: ${JSON.stringify(held)}`);
});

test("the controller dies after the destination failed, before it told the source: back, it finds the move unfinished by the destination's report and the source runs the desktop on, its lease taken back", { timeout: 600_000 }, async () => {
  // From the last test: alice's desktop in session on `from`. It is moved to `to` now, whose agent dies with the state
  // loaded (failpoint), and the controller dies before telling the source to resume (failpoint).
  const [sourcePid] = qemuOf(from, desktop);
  assert.ok(sourcePid);
  await typeAndExpect(controller, desktop, 'CUT=kept-$((8*8)); echo w-$((70+1))', 'w-71');
  await agents.get(to)!.kill();
  await until(`${to} unlinked`, linked(to, false), 60_000, 200);
  agentStart(to, [], { ARDESIA_FAILPOINTS: 'migrate-in-loaded' });
  const sourceLogBefore = agents.get(from)!.output.length;
  await migrateAsControllerDies('migration-before-resume', to);
  const dead = agents.get(to)!.proc;
  // Said with what both sides logged of the move: a destination that failed before its state was in lives on.
  const moveLines = (log: string) => log.split('\n').filter((l) => l.includes(desktop) && /migrat|lease|start|failed/i.test(l)).slice(-12).join('\n');
  assert.ok(dead.exitCode !== null || dead.signalCode !== null, `${to}'s agent died at its failpoint; its log:\n${moveLines(agents.get(to)!.output)}\nthe controller's:\n${moveLines(controller.output)}`);
  assert.deepEqual(qemuOf(from, desktop), [sourcePid], 'the source waits paused');
  assert.equal(qemuOf(to, desktop).length, 1, "the destination's unresumed QEMU outlived its agent");

  await controller.spawn(locks.get('ctl')!.env);
  agentStart(to, []);
  await until('the move found unfinished', () => new RegExp(`vm ${desktop}: its live migration from host ${from} to host ${to} was cut short when this controller stopped; it runs on at host ${from}`).test(controller.output) || undefined, 180_000, 200);
  assert.match(agents.get(from)!.output.slice(sourceLogBefore), new RegExp(`vm ${desktop}: its migration failed at the destination; it runs on here`));
  await until(`the unresumed QEMU on ${to} is gone`, () => qemuOf(to, desktop).length === 0 || undefined, 120_000, 500);
  await runsOnAt(from, sourcePid, { type: 'echo var-$CUT; echo w-$((70+2))', until: 'w-72', kept: /var-kept-64/ });
});

test("the controller dies between its own host's resume of a moved desktop and the move's record: back, it finds its own QEMU running the desktop and records the move; the source's paused QEMU is quit", { timeout: 600_000 }, async () => {
  // From the last test: alice's desktop in session on `from`; the controller's own host takes VMs again (test 4).
  const [sourcePid] = qemuOf(from, desktop);
  assert.ok(sourcePid);
  await typeAndExpect(controller, desktop, 'ATCTL=kept-$((5*5)); echo w-$((90+1))', 'w-91');
  await migrateAsControllerDies('migration-before-record', 'ctl');
  const local = () => qemuPidsUnder(join(controller.dataDir, 'runtime', desktop));
  const [arrivedPid] = local();
  assert.ok(arrivedPid, "the desktop runs on the controller's own host, the controller dead");
  assert.deepEqual(qemuOf(from, desktop), [sourcePid], 'the source waits paused');

  // Started with the next test's pause armed (a move onto this host stops there with the state loaded; the moves of
  // this test leave this host): one restart of the controller fewer.
  failpointDir = tempDir();
  await controller.spawn({ ...locks.get('ctl')!.env, ARDESIA_FAILPOINTS: 'migrate-in-before-resume', ARDESIA_FAILPOINT_DIR: failpointDir });
  await until('the move found and recorded', () => new RegExp(`vm ${desktop}: its live migration from host ${from} to host ctl had finished, unrecorded, when this controller stopped: recorded there now`).test(controller.output) || undefined, 120_000, 200);
  await until(`the paused QEMU on ${from} quit`, () => qemuOf(from, desktop).length === 0 || undefined, 60_000, 200);
  const here = await desktopWhere(`${desktop} in use on ctl`, (d) => d.name === desktop && d.host === 'ctl' && d.state === 'in-use');
  assert.equal(here.user, 'alice');
  assert.deepEqual(local(), [arrivedPid], 'the same QEMU runs on');
  const seen = await typeAndExpect(controller, desktop, 'echo var-$ATCTL; echo w-$((90+2))', 'w-92');
  assert.match(seen, /var-kept-25/, 'the same guest');
  const lease = await json<HomeInfo>(['home', 'show', 'alice']);
  assert.deepEqual([lease.leasedTo, lease.siteLease?.host, lease.siteLease?.pid], [desktop, 'ctl', arrivedPid]);
  const held = await new SanlockClient(locks.get('ctl')!.env).inquire(arrivedPid);
  assert.ok(held.some((res) => res.name.endsWith('-alice')), `ctl's sanlock: ${JSON.stringify(held)}`);
  // Back on `from`, where the next test takes it from.
  const back = await json<{ from: string; to: string }>(['vm', 'migrate', desktop, '--to', from]);
  assert.deepEqual([back.from, back.to], ['ctl', from]);
  await desktopWhere(`${desktop} in use on ${from}`, (d) => d.name === desktop && d.host === from && d.state === 'in-use');
  await until("the controller's QEMU quit", () => local().length === 0 || undefined, 60_000, 200);
});

test("a move onto the controller's own host whose QEMU there is killed with the state loaded (the OOM killer, say): the source runs the desktop on, its lease taken back, and nothing of it stays on the controller's host", { timeout: 600_000 }, async () => {
  // From the last test: alice's desktop in session on `from`; the controller pauses a move onto its host (armed there).
  const [sourcePid] = qemuOf(from, desktop);
  assert.ok(sourcePid);
  await typeAndExpect(controller, desktop, 'OOM=kept-$((6*6)); echo w-$((30+1))', 'w-31');
  const sourceLogBefore = agents.get(from)!.output.length;
  const moving = cli(['vm', 'migrate', desktop, '--to', 'ctl']);
  await until("the state loaded on the controller's host", () => existsSync(join(failpointDir, 'migrate-in-before-resume.reached')) || undefined, 120_000, 200);
  const local = qemuPidsUnder(join(controller.dataDir, 'runtime', desktop));
  assert.equal(local.length, 1, "one QEMU on the controller's host, holding the state");
  process.kill(local[0]!, 'SIGKILL');
  writeFileSync(join(failpointDir, 'migrate-in-before-resume.continue'), '');
  const r = await moving;
  assert.notEqual(r.code, 0, r.stdout);
  assert.match(r.stderr, new RegExp(`vm ${desktop} from host ${from} to host ctl: [^]*The live migration did not complete`));
  await until('the source resumed', () => agents.get(from)!.output.slice(sourceLogBefore).includes(`vm ${desktop}: its migration failed at the destination; it runs on here`) || undefined, 60_000, 200);
  await runsOnAt(from, sourcePid, { type: 'echo var-$OOM; echo w-$((30+2))', until: 'w-32', kept: /var-kept-36/ });
  assert.deepEqual(qemuPidsUnder(join(controller.dataDir, 'runtime', desktop)), [], "nothing of it on the controller's host");
  assert.equal(existsSync(join(controller.dataDir, 'runtime', desktop)), false, 'its runtime folder there removed');
});

test("the controller dies after the destination failed, and the destination's host dies before it is back: once that host is judged down, the source, its state gone and its lease not taken since, runs the desktop on with the lease taken back", { timeout: 600_000 }, async () => {
  // From the last test: alice's desktop in session on `from`. Moved to `to` again as before (its agent dies with the
  // state loaded, before it takes the lease; the controller dies before telling the source), then `to` loses power.
  const [sourcePid] = qemuOf(from, desktop);
  assert.ok(sourcePid);
  await typeAndExpect(controller, desktop, 'DOWN=kept-$((9*9)); echo w-$((80+1))', 'w-81');
  await agents.get(to)!.kill();
  await until(`${to} unlinked`, linked(to, false), 60_000, 200);
  agentStart(to, [], { ARDESIA_FAILPOINTS: 'migrate-in-loaded' });
  const sourceLogBefore = agents.get(from)!.output.length;
  await migrateAsControllerDies('migration-before-resume', to);
  assert.deepEqual(qemuOf(from, desktop), [sourcePid], 'the source waits paused');
  // Power loss of `to`: its unresumed QEMU and its sanlock daemon gone at once; its storage lease expires on the disk.
  for (const pid of qemuOf(to, desktop)) process.kill(pid, 'SIGKILL');
  locks.get(to)!.kill();

  await controller.spawn(locks.get('ctl')!.env);
  await until(`${to} judged down`, async () => (await json<HostView[]>(['host', 'list'])).find((h) => h.name === to)?.state === 'down' || undefined, 300_000, 1000);
  await until('the move settled', () => new RegExp(`vm ${desktop}: its live migration from host ${from} to host ${to} was cut short when this controller stopped, and host ${to} is down; it runs on at host ${from}`).test(controller.output) || undefined, 120_000, 200);
  // The source's state had left (QEMU in postmigrate): it was asked first whether it still ran, then resumed.
  const sourceLog = agents.get(from)!.output.slice(sourceLogBefore);
  assert.match(sourceLog, new RegExp(`vm ${desktop}: its state left for a host that is down now and may have run it; it stays paused here`));
  assert.match(sourceLog, new RegExp(`vm ${desktop}: its migration failed at the destination; it runs on here`));
  const audit = await controller.api().request<Array<{ target: string; detail: { outcome?: string; to?: string } }>>('GET', '/v1/audit?action=vm.migrate.failed&limit=10000');
  assert.ok(audit.some((e) => e.target === desktop && e.detail.outcome === 'resume-at-source' && e.detail.to === to), JSON.stringify(audit.slice(-3)));
  await runsOnAt(from, sourcePid, { type: 'echo var-$DOWN; echo w-$((80+2))', until: 'w-82', kept: /var-kept-81/ });
});

test("the controller dies after the destination resumed the desktop, and the destination's host dies before it is back: the source's older state is never resumed; the desktop is lost with that host, its home released", { timeout: 600_000 }, async () => {
  // A third host joins (the last test's destination lost power: sanlock would keep its host id out for host_dead_seconds
  // more), and alice's desktop moves there: the destination resumes it, holding her lease, and the controller dies
  // before recording the move. Then that host loses power: the guest ran there, writing to disks the source's paused
  // state knows nothing of.
  to = 'a3';
  namespaces.set(to, await lab.addHost(to, `${NET}.4/24`));
  locks.set(to, new SanlockDaemon(to, root));
  await locks.get(to)!.start();
  const { token } = await json<{ token: string }>(['host', 'add', to]);
  agentDirs.set(to, tempDir());
  agentStart(to, ['--controller', CONTROLLER, '--join', token]);
  await until(`${to} up`, upAndLinked(to), 120_000, 500);
  const [sourcePid] = qemuOf(from, desktop);
  assert.ok(sourcePid);
  await migrateAsControllerDies('migration-before-record', to);
  const [destinationPid] = qemuOf(to, desktop);
  assert.ok(destinationPid, `the destination runs ${desktop}`);
  assert.deepEqual(qemuOf(from, desktop), [sourcePid], 'the source waits paused');
  await agents.get(to)!.kill();
  process.kill(destinationPid, 'SIGKILL');
  locks.get(to)!.kill();

  await controller.spawn(locks.get('ctl')!.env);
  await until('the move settled', () => new RegExp(`vm ${desktop}: its live migration from host ${from} to host ${to} was cut short when this controller stopped, and host ${to} is down: its state had left host ${from}, and host ${to} may have run it, so it is not resumed at host ${from} but dealt with as lost with host ${to}`).test(controller.output) || undefined, 300_000, 500);
  await until(`the paused QEMU on ${from} quit`, () => qemuOf(from, desktop).length === 0 || undefined, 60_000, 200);
  const api = controller.api();
  const audit = async (action: string) => (await api.request<Array<{ target: string; detail: Record<string, unknown> }>>('GET', `/v1/audit?action=${action}&limit=10000`)).filter((e) => e.target === desktop);
  assert.ok((await audit('vm.migrate')).some((e) => e.detail.outcome === 'lost-with-destination' && e.detail.to === to));
  const lost = await until('the desktop recorded lost with its host', async () => (await audit('desktop.lost')).find((e) => e.detail.host === to), 60_000, 500);
  assert.equal(lost.detail.user, 'alice');
  // Her lease was recorded as the dead host's (its QEMU's pid unknown), then released with the session's end.
  assert.ok((await api.request<Array<{ target: string; detail: Record<string, unknown> }>>('GET', '/v1/audit?action=home.lease&limit=10000')).some((e) => e.target === 'alice' && e.detail.host === to && e.detail.pid === null));
  const stopped = await desktopWhere(`${desktop} stopped`, (d) => d.name === desktop && d.state === 'stopped');
  assert.equal(stopped.host, to);
  const home = await until('her home released', async () => {
    const h = await json<HomeInfo>(['home', 'show', 'alice']);
    return h.leasedTo === null ? h : undefined;
  }, 60_000, 500);
  assert.equal(home.siteLease?.host ?? null, null);
  assert.deepEqual(qemuOf(from, desktop), [], 'nothing of the desktop runs on the source');
});
