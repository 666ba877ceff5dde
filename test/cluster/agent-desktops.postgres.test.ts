// Pool desktops on an agent's host: a real controller (PostgreSQL, HTTPS, home leases) and a real `ardesia agent`, each
// in a network namespace the test creates with a sanlock daemon of its own; the busybox guest with the guest helper under
// TCG. The spare boots under the agent, the user's session starts there with their home's sanlock lease held by that
// QEMU on the agent's host and the home plugged in by the agent, the console is typed into through the controller, the
// home keeps its file after logoff; a controller restart mid-session restarts nothing; the guest's own reboot ends the
// session; cut off from the management network, the session runs on and keeps its home until an eviction reaches
// the agent; a power loss of the agent's host re-serves the users on the controller's host once the lease expired, the
// portal (Chromium, in the controller's namespace) saying so and opening the new desktop by itself. Outcomes and their order are asserted, never timing.
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ApiClient } from '../../src/cli/client.js';
import type { HostView } from '../../src/contract/hosts.js';
import type { DesktopView, SessionInfo } from '../../src/contract/pools.js';
import type { HomeInfo } from '../../src/contract/images.js';
import type { AuditEntry } from '../../src/contract/users.js';
import { homeResource, leaseFiles } from '../../src/cluster/home-leases/layout.js';
import { SanlockClient } from '../../src/cluster/home-leases/sanlock.js';
import { diskFolder, SanlockDaemon } from '../helpers/sanlock.js';
import { NetLab } from '../netboot/lab.js';
import { killRuntimeQemus, qemuPidsUnder, runCli, TestDaemon, until } from '../helpers/daemon.js';
import { AgentProc } from '../helpers/agent-proc.js';
import { freshDatabaseForNamespaces } from '../helpers/postgres.js';
import { typeAndExpect } from '../images/support.js';
import { openDisplay } from '../gateway/harness.js';
import { rfbStart } from '../gateway/protocols.js';
import { helperImage, PASSWORD, untilDesktops, userClient } from '../pools/support.js';
import { browserLaunch, CHROMIUM, login, pageOpen } from '../web/browser.js';

const NET = '10.251.9';
const CONTROLLER = `https://${NET}.1:8443`;
/** A standby controller on its own host, sharing the data folder (its own run folder). */
const STANDBY = `https://${NET}.3:8443`;
/** The controllers' one address, held by whichever leads; browsers use it. */
const SERVICE = `https://${NET}.10:8443`;
/** Short leadership leases: the standby takes over a few seconds after the leader dies. Every controller listens on
 *  all its addresses (the service address among them when it leads). */
const LEADERSHIP = ['--controller-lease', '6s', '--controller-renew', '1s', '--listen', '0.0.0.0:8443', '--service-address', `${NET}.10/24`, '--service-interface', 'eth0'];
const POOL = 'remote';

let lab: NetLab;
let ctlNs: string;
let a1Ns: string;
let controller: TestDaemon;
let controllerArgs: string[];
let root: string;
let ctlLocks: SanlockDaemon;
let a1Locks: SanlockDaemon;
let ctl2Ns: string;
let clientNs: string;
let ctl2Locks: SanlockDaemon;
let standby: TestDaemon | undefined;
let dbUrl: string;
let agent: AgentProc;
let agentDir: string;
let alice: ApiClient;
let bob: ApiClient;
const dirs: string[] = [];
/** The first agent's start of a VM waits here until the test lets it go (failpoint agent-start-before-launch). */
let startGate: string;

const run = promisify(execFile);
const cli = (args: string[]) => runCli(controller.dataDir, args);
async function json<T>(args: string[]): Promise<T> {
  const r = await cli(['--json', ...args]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return JSON.parse(r.stdout) as T;
}
const linked = async () => (await json<HostView[]>(['host', 'list'])).find((h) => h.name === 'a1' && h.agent?.ready === true);
const desktops = (what: string, test: (ds: DesktopView[]) => boolean) => untilDesktops(controller, POOL, what, test, 300_000);
const desktopsOf = () => controller.api().request<DesktopView[]>('GET', `/v1/pools/${POOL}/desktops`);
/** The first desktop `which` picks, once there is one (untilDesktops answers the whole list). */
const desktopWhere = async (what: string, which: (d: DesktopView) => boolean) => (await desktops(what, (ds) => ds.some(which))).find(which)!;
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'ard-ad-'));
  dirs.push(d);
  return d;
}

before(async () => {
  lab = await NetLab.create('ad');
  ctlNs = await lab.addHost('ctl', `${NET}.1/24`);
  const ns = await lab.addHost('a1', `${NET}.2/24`);
  a1Ns = ns;
  ctl2Ns = await lab.addHost('ctl2', `${NET}.3/24`);
  clientNs = await lab.addHost('cl', `${NET}.4/24`);
  const db = await freshDatabaseForNamespaces();
  dbUrl = db.viaSocket;
  // The controller's data folder is the shared one: the agent's host sees the same path (here, the same filesystem, on a
  // disk: sanlock's leases are read with O_DIRECT).
  root = diskFolder();
  chmodSync(root, 0o711); // QEMU's account passes through to the data folder
  const dataDir = join(root, 'data');
  mkdirSync(dataDir);
  ctlLocks = new SanlockDaemon('ctl', root);
  a1Locks = new SanlockDaemon('a1', root);
  ctl2Locks = new SanlockDaemon('ctl2', root);
  await Promise.all([ctlLocks.start(), a1Locks.start(), ctl2Locks.start()]);
  controllerArgs = ['--host-name', 'ctl', '--database', db.viaSocket, '--home-leases', 'sanlock', '--lease-io-timeout', '2', ...LEADERSHIP];
  controller = new TestDaemon(dataDir, controllerArgs, ctlNs);
  await controller.spawn(ctlLocks.env);
  await helperImage(controller, 'bb');
  alice = await userClient(controller, 'alice');
  bob = await userClient(controller, 'bob');
  const token = (await json<{ token: string }>(['host', 'add', 'a1'])).token;
  agentDir = tempDir();
  // Given both controllers: it follows whichever leads.
  startGate = tempDir();
  agent = new AgentProc(ns, agentDir, ['--controller', CONTROLLER, '--controller', STANDBY, '--join', token], { ...a1Locks.env, ARDESIA_FAILPOINTS: 'agent-start-before-launch', ARDESIA_FAILPOINT_DIR: startGate });
  await until('a1 linked', linked);
  // The controller's own host takes nothing new: placement picks the agent's.
  assert.equal((await cli(['host', 'drain', 'ctl'])).code, 0);
});

after(async () => {
  if (process.env.ARDESIA_TEST_LOG) writeFileSync(process.env.ARDESIA_TEST_LOG, `${controller?.output ?? ''}\n--- standby ---\n${standby?.output ?? ''}\n--- agent ---\n${agent?.output ?? ''}`);
  await agent?.kill();
  if (agentDir) killRuntimeQemus(agentDir);
  await standby?.kill();
  if (standby?.runDir) killRuntimeQemus(standby.runDir);
  await controller?.destroy().catch(() => undefined);
  ctlLocks?.kill();
  ctl2Locks?.kill();
  a1Locks?.kill();
  await lab?.destroy();
  if (root) rmSync(root, { recursive: true, force: true });
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

let desktop: string;

test("a boot pool's warm spare is placed on the agent's host and boots there, under the agent", async () => {
  await controller.api().request('POST', '/v1/pools', {
    name: POOL, image: 'bb', startMode: 'boot', warmSpares: 1, maxDesktops: 1, memoryMiB: 192, homeSizeBytes: 64 * 2 ** 20, entitled: { users: ['alice'] },
  });
  // Its agent's start held past the controller's wait for the start's report (60 s), as on a host slow to start it:
  // once it runs, the controller follows its guest, and the spare becomes ready (not left booting for the watchdog).
  await until('the spare\'s start held on a1', () => existsSync(join(startGate, 'agent-start-before-launch.reached')) || undefined, 120_000, 200);
  await until('the controller done waiting for its report', () => /has not reported vm \S+ within 60 s/.test(controller.output) || undefined, 120_000, 500);
  writeFileSync(join(startGate, 'agent-start-before-launch.continue'), '');
  const spare = await desktopWhere('a ready spare', (d) => d.state === 'ready');
  assert.equal(spare!.host, 'a1', JSON.stringify(spare));
  desktop = spare!.name;
  assert.match(controller.output, new RegExp(`desktop ${desktop}: its VM reported running after its start's wait`));
  assert.equal(qemuPidsUnder(join(agentDir, 'runtime', desktop)).length, 1, "its QEMU is the agent's, in the agent's runtime folder");
  assert.deepEqual(qemuPidsUnder(join(controller.dataDir, 'runtime')), [], 'nothing runs under the controller');
});

test("a user's session starts on the agent's host with their home, reached through the controller; the file stays after logoff", async () => {
  const { desktop: got } = await alice.request<{ desktop: DesktopView; session: SessionInfo }>('POST', `/v1/pools/${POOL}/connect`, {});
  assert.equal(got.name, desktop, 'the warm spare is the one handed out');
  await desktops('the session', (ds) => ds.some((d) => d.name === desktop && d.state === 'in-use' && d.user === 'alice'));
  const home = await json<HomeInfo & { path: string }>(['home', 'show', 'alice']);
  assert.equal(home.leasedTo, desktop);
  // The home's sanlock lease is held by the desktop's QEMU, on the agent's host's sanlock daemon.
  const [qemu] = qemuPidsUnder(join(agentDir, 'runtime', desktop));
  assert.equal(home.siteLease?.host, 'a1', JSON.stringify(home.siteLease));
  assert.equal(home.siteLease?.pid, qemu);
  const a1Sanlock = new SanlockClient(a1Locks.env);
  const held = await a1Sanlock.inquire(qemu!);
  assert.ok(held.some((r) => r.name.endsWith('-alice')), `a1's sanlock: ${JSON.stringify(held)}`);
  // A second writer elsewhere is refused by sanlock itself, whatever the store says: a process registered on the
  // controller's host asks for the same resource.
  const ctlSanlock = new SanlockClient(ctlLocks.env);
  const [cmd, ...args] = [...ctlSanlock.registerPrefix(), 'sleep', '120'];
  const intruder = spawn(cmd!, args, { env: ctlLocks.env, stdio: 'ignore' });
  try {
    const name = held.find((r) => r.name.endsWith('-alice'))!.name;
    const slot = Number(/^home(\d+)-/.exec(name)![1]);
    await until('the intruder registered', async () => (await ctlSanlock.inquire(intruder.pid!).then(() => true, () => false)) || undefined, 10_000, 100);
    assert.notEqual(await ctlSanlock.acquire(intruder.pid!, homeResource(leaseFiles(controller.dataDir), slot, 'alice')), 0, 'a second writer on another host is refused');
  } finally {
    intruder.kill('SIGKILL');
  }
  // Typed on the serial console through the controller and the agent's stream: the home is mounted where the helper put it.
  await typeAndExpect(controller, desktop, 'echo remote-2026 > /home/alice/report.txt; sync; grep -c " /home/alice " /proc/mounts; echo w-$((40+2))', 'w-42');
  // A backup with homes while the session runs: the plugged home is copied by QEMU on a1, through its agent.
  const dir = tempDir();
  const site = join(dir, 'site.tar');
  const backup = await cli(['backup', site, '--with-homes']);
  assert.equal(backup.code, 0, backup.stderr);
  const manifest = JSON.parse(execFileSync('tar', ['-xOf', site, 'manifest.json'], { encoding: 'utf8' })) as { homes: Array<{ user: string; inUseBy: string | null; included: boolean }> };
  const entry = manifest.homes.find((h) => h.user === 'alice');
  assert.equal(entry?.inUseBy, desktop, 'the home was in use during the backup');
  assert.equal(entry?.included, true);
  execFileSync('tar', ['-xf', site, '-C', dir, 'homes/alice/home.qcow2']);
  const readHome = (qcow2: string): string => {
    const raw = join(dir, `${Math.random().toString(36).slice(2)}.raw`);
    execFileSync('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', qcow2, raw]);
    return execFileSync('debugfs', ['-R', 'cat /report.txt', raw], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  };
  assert.equal(readHome(join(dir, 'homes', 'alice', 'home.qcow2')), 'remote-2026\n', 'the backup holds the file written in the remote guest');
  assert.ok((await alice.request<SessionInfo[]>('GET', '/v1/sessions')).some((s) => s.desktop === desktop), 'the session ran on through the backup');
  await alice.request('POST', `/v1/sessions/${desktop}/logoff`);
  await desktops('the desktop released after logoff', (ds) => !ds.some((d) => d.user === 'alice'));
  const released = await json<HomeInfo>(['home', 'show', 'alice']);
  assert.equal(released.leasedTo, null, 'the home is released');
  assert.equal(released.siteLease?.host, null, 'and its sanlock lease');
  assert.equal(readHome(home.path), 'remote-2026\n', 'the file written in the remote guest is on the home after logoff');
});

test('the non-persistent desktop comes back as a fresh spare on the same host', async () => {
  const spare = await desktopWhere('a ready spare again', (d) => d.state === 'ready');
  assert.equal(spare!.host, 'a1');
  const seen = await typeAndExpect(controller, spare!.name, 'test -e /home/alice/report.txt || echo no-home-$((1+1))', 'no-home-2');
  assert.match(seen, /no-home-2/, 'no home is plugged into a spare');
});

test("a controller restart mid-session restarts nothing, and the logoff after it goes through the agent as before", async () => {
  await alice.request('POST', `/v1/pools/${POOL}/connect`, {});
  const inUse = await desktopWhere('the second session', (d) => d.state === 'in-use' && d.user === 'alice');
  const pids = qemuPidsUnder(join(agentDir, 'runtime', inUse!.name));
  await controller.kill('SIGTERM');
  controller = new TestDaemon(controller.dataDir, controllerArgs, ctlNs);
  await controller.spawn(ctlLocks.env);
  await until('a1 linked again', linked);
  const after = await desktopWhere('the session still in use', (d) => d.name === inUse!.name && d.state === 'in-use');
  assert.equal(after!.user, 'alice');
  assert.deepEqual(qemuPidsUnder(join(agentDir, 'runtime', inUse!.name)), pids, 'the same QEMU runs on');
  await typeAndExpect(controller, inUse!.name, 'echo still-$((2+3))', 'still-5');
  // The logoff is the guest helper's (over the guest channel the restarted controller dialled again), then the home's unplug.
  await alice.request('POST', `/v1/sessions/${inUse!.name}/logoff`);
  await desktops('the desktop released after the logoff', (ds) => !ds.some((d) => d.user === 'alice'));
  assert.equal((await json<{ leasedTo: string | null }>(['home', 'show', 'alice'])).leasedTo, null, 'the home is released');
});

test("the guest's own reboot on the agent's host ends the session (QMP's RESET forwarded by the agent)", async () => {
  await desktops('a ready spare', (ds) => ds.some((d) => d.state === 'ready'));
  await alice.request('POST', `/v1/pools/${POOL}/connect`, {});
  const inUse = await desktopWhere('the third session', (d) => d.state === 'in-use' && d.user === 'alice');
  await typeAndExpect(controller, inUse!.name, 'sync; echo rebooting-now; reboot -f', 'rebooting-now');
  await desktops('the session ended by the reboot', (ds) => !ds.some((d) => d.user === 'alice'));
  assert.equal((await json<{ leasedTo: string | null }>(['home', 'show', 'alice'])).leasedTo, null, 'the home is released');
  assert.match(controller.output, /vm [a-z0-9-]+ on host a1: guest-reset/);
});

test("the agent killed and restarted mid-session: the desktop runs on, is found again, and its logoff goes through the new agent", async () => {
  await desktops('a ready spare on a1', (ds) => ds.some((d) => d.state === 'ready' && d.host === 'a1'));
  await alice.request('POST', `/v1/pools/${POOL}/connect`, {});
  const inUse = await desktopWhere('a session on a1', (d) => d.state === 'in-use' && d.user === 'alice' && d.host === 'a1');
  const pids = qemuPidsUnder(join(agentDir, 'runtime', inUse!.name));
  await agent.kill();
  agent = new AgentProc(a1Ns, agentDir, [], a1Locks.env);
  await until('a1 linked again', linked);
  await until('the restarted agent found the desktop', () => /1 running VM\(s\) found again/.test(agent.output) || undefined);
  assert.deepEqual(qemuPidsUnder(join(agentDir, 'runtime', inUse!.name)), pids, 'the same QEMU runs on');
  await typeAndExpect(controller, inUse!.name, 'echo after-agent-$((6+1))', 'after-agent-7');
  await alice.request('POST', `/v1/sessions/${inUse!.name}/logoff`);
  await desktops('the desktop released after the logoff', (ds) => !ds.some((d) => d.user === 'alice'));
  assert.equal((await json<HomeInfo>(['home', 'show', 'alice'])).siteLease?.host, null, 'its lease given back by the new agent');
});

test("a quick power cycle of the agent's host mid-session, back before it was missed: its agent tells what died there at once, while it waits to join the lockspace; the session ends and the home is let go", { timeout: 300_000 }, async () => {
  await desktops('a ready spare on a1', (ds) => ds.some((d) => d.state === 'ready' && d.host === 'a1'));
  await alice.request('POST', `/v1/pools/${POOL}/connect`, {});
  const inUse = await desktopWhere('a session on a1', (d) => d.state === 'in-use' && d.user === 'alice' && d.host === 'a1');
  // Power off: the agent frozen, the sanlock daemon gone before the QEMUs (so it gives no lease back); then power on at
  // once: a new sanlock daemon and agent. sanlock lets the host id join again only host_dead_seconds after its last renewal.
  agent.proc.kill('SIGSTOP');
  a1Locks.kill();
  killRuntimeQemus(agentDir);
  await agent.kill();
  await a1Locks.start();
  agent = new AgentProc(a1Ns, agentDir, [], a1Locks.env);
  await desktops('the session on a1 ended', (ds) => !ds.some((d) => d.name === inUse.name && d.user === 'alice'));
  assert.doesNotMatch(agent.output, /this host joined the sanlock lockspace/, 'the session ended before the host joined the lockspace');
  assert.equal((await json<HostView[]>(['host', 'list'])).find((h) => h.name === 'a1')?.agent?.ready, false, 'a1 not ready yet');
  assert.equal((await json<{ leasedTo: string | null }>(['home', 'show', 'alice'])).leasedTo, null, "the home is free in the store (sanlock's own lease frees with the old host id's generation)");
  assert.match(controller.output, new RegExp(`vm ${inUse.name} on host a1 stopped`));
  await until('a1 ready again', linked, 240_000, 1000);
});

test("the leader's host lost mid-session: the standby on the same data folder leads and takes the service address; the portal's display comes back by itself through it, the session and its home untouched", { timeout: 300_000 }, async () => {
  await desktops('a ready spare on a1', (ds) => ds.some((d) => d.state === 'ready' && d.host === 'a1'));
  await alice.request('POST', `/v1/pools/${POOL}/connect`, {});
  const inUse = await desktopWhere('a session on a1', (d) => d.state === 'in-use' && d.user === 'alice' && d.host === 'a1');
  const desktop = inUse!.name;
  const pids = qemuPidsUnder(join(agentDir, 'runtime', desktop));
  const leaseBefore = (await json<HomeInfo>(['home', 'show', 'alice'])).siteLease;
  // Another host, the same data folder (images, desktops, homes, leases), its own run folder; the same certificate,
  // which the agent pinned when it joined.
  const tls = join(controller.dataDir, 'tls');
  standby = new TestDaemon(controller.dataDir, ['--host-name', 'ctl2', '--database', dbUrl, '--home-leases', 'sanlock', '--lease-io-timeout', '2', '--tls-cert', join(tls, 'server.crt'), '--tls-key', join(tls, 'server.key'), ...LEADERSHIP], ctl2Ns, undefined, tempDir());
  await standby.spawn(ctl2Locks.env, 'standby controller: ctl leads');
  // Her portal, on another machine, through the service address the leader holds.
  const wrapper = join(tempDir(), 'chromium-in-client');
  writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${clientNs} ${CHROMIUM} "$@"\n`, { mode: 0o755 });
  const browser = await browserLaunch(wrapper);
  try {
    const { page } = await pageOpen(browser, { ignoreHTTPSErrors: true });
    await login(page, `${SERVICE}/`, 'alice', PASSWORD);
    await page.getByRole('button', { name: `Resume ${POOL}` }).click();
    await page.locator('[data-status="connected"]').waitFor({ timeout: 120_000 });
    const streams = () => agent.output.split(`display hop of vm ${desktop} opened`).length - 1; // the native hop (display-hop.c)
    const before = streams();
    // The leader's host is lost: its network first (no FIN, and it no longer answers for the service address), then
    // the process. Its sanlock daemon lives on the disk side, as the host's would until its watchdog fired.
    await run('ip', ['-n', ctlNs, 'link', 'set', 'eth0', 'down']);
    await controller.kill('SIGKILL');
    await until('the standby leads', () => standby!.output.includes('ardesia daemon listening') || undefined, 120_000, 200);
    assert.match(standby.output, /this controller leads \(term \d+\)/);
    assert.match(standby.output, new RegExp(`service address ${NET}\\.10 taken on eth0`));
    const viaStandby = async () => JSON.parse((await standby!.cli(['--json', 'host', 'list'])).stdout) as HostView[];
    await until('a1 linked to the new leader', async () => (await viaStandby()).find((h) => h.name === 'a1' && h.agent?.ready === true), 120_000, 500);
    // The page saw the new leader behind the same address and opened the display again through it, by itself.
    await until('a new display hop through the new leader', () => streams() > before || undefined, 120_000, 500);
    await page.locator('[data-status="connected"]').waitFor({ timeout: 60_000 });
    assert.match((await page.locator('[data-status="connected"]').textContent()) ?? '', new RegExp(`^${desktop}: Connected`));
    const still = (await untilDesktops(standby, POOL, 'her session, seen by the new leader', (ds) => ds.some((d) => d.name === desktop && d.state === 'in-use' && d.user === 'alice'))).find((d) => d.name === desktop && d.state === 'in-use' && d.user === 'alice')!;
    assert.equal(still!.host, 'a1');
    assert.deepEqual(qemuPidsUnder(join(agentDir, 'runtime', desktop)), pids, 'the same QEMU runs on');
    const home = JSON.parse((await standby.cli(['--json', 'home', 'show', 'alice'])).stdout) as HomeInfo;
    assert.equal(home.leasedTo, desktop);
    assert.deepEqual(home.siteLease, leaseBefore, 'the same holder keeps the home: no second writer');
  } finally {
    await browser.close();
  }
  // The standby's own host takes nothing new: the session's next spare stays on a1, as the later tests want.
  assert.equal((await standby.cli(['host', 'drain', 'ctl2'])).code, 0);
  await typeAndExpect(standby, desktop, 'echo led-by-$((1+1))', 'led-by-2');
  const aliceThere = new ApiClient({ socketPath: standby.socket, token: alice.endpoint.token! });
  await aliceThere.request('POST', `/v1/sessions/${desktop}/logoff`);
  await untilDesktops(standby, POOL, 'the desktop released after the logoff', (ds) => !ds.some((d) => d.user === 'alice'));
  // The guest ended the session itself: the new leader's guest channel reached it (the dead leader's stream, hanging
  // without a FIN, was replaced), rather than a logoff timeout forcing the VM off.
  assert.match(standby.output, new RegExp(`"desktop":"${desktop}","from":"logging-off","to":"resetting","event":"session-ended"`));
  assert.equal((JSON.parse((await standby.cli(['--json', 'home', 'show', 'alice'])).stdout) as HomeInfo).leasedTo, null, 'the home is released');
  // Back as the other tests want it: the first controller's host returns (its controller drops the service address it
  // died with before standing by) and leads again once the standby stops, handing over at once.
  await run('ip', ['-n', ctlNs, 'link', 'set', 'eth0', 'up']);
  controller = new TestDaemon(controller.dataDir, controllerArgs, ctlNs);
  const leadsAgain = controller.spawn(ctlLocks.env);
  await until('the first controller stands by', () => controller.output.includes('standby controller:') || undefined, 60_000, 200);
  await standby.kill('SIGTERM');
  await leadsAgain;
  await until('a1 linked to the first controller again', linked);
});

test("drain of the agent's host: its spare stops there and one comes up on the controller's host; undrain brings it back", async () => {
  await desktops('a ready spare on a1', (ds) => ds.some((d) => d.state === 'ready' && d.host === 'a1'));
  assert.equal((await cli(['host', 'undrain', 'ctl'])).code, 0);
  assert.equal((await cli(['host', 'drain', 'a1'])).code, 0);
  await desktops('the spare moved to ctl', (ds) => ds.some((d) => d.state === 'ready' && d.host === 'ctl') && !ds.some((d) => d.host === 'a1' && d.state !== 'stopped'));
  await until('a1 in maintenance: drained, with nothing left', async () => (await json<HostView[]>(['host', 'list'])).find((h) => h.name === 'a1' && h.state === 'maintenance'));
  // Back as the other tests want it: desktops on a1 only.
  assert.equal((await cli(['host', 'undrain', 'a1'])).code, 0);
  assert.equal((await cli(['host', 'drain', 'ctl'])).code, 0);
  await desktops('a ready spare on a1 again', (ds) => ds.some((d) => d.state === 'ready' && d.host === 'a1'));
});

test("cut off from the management network only: the session runs on and keeps its home, no other desktop gets it; a login handed the host's spare just before the cut gets a desktop elsewhere; eviction then ends the session at the agent's return", { timeout: 600_000 }, async () => {
  // Room for a spare beside alice's session, and for the desktop bob is served elsewhere while one is given up on a1.
  await controller.api().request('PATCH', `/v1/pools/${POOL}`, { maxDesktops: 3, entitled: { users: ['alice', 'bob'] } });
  await desktops('a ready spare on a1', (ds) => ds.some((d) => d.state === 'ready' && d.host === 'a1'));
  await alice.request('POST', `/v1/pools/${POOL}/connect`, {});
  const inUse = await desktopWhere('a session on a1', (d) => d.state === 'in-use' && d.user === 'alice' && d.host === 'a1');
  const desktop = inUse!.name;
  await desktops('a spare on a1 beside her session', (ds) => ds.some((d) => d.state === 'ready' && d.user === null && d.host === 'a1'));
  // The guest writes a line a second into the home, each on the disk (sync), for as long as it runs.
  await typeAndExpect(controller, desktop, '(i=0; while :; do i=$((i+1)); echo $i >> /home/alice/alive.txt; sync; sleep 1; done) >/dev/null 2>&1 & echo writer-$((5+5))', 'writer-10');
  const atCut = Number(/lines-(\d+)/.exec(await typeAndExpect(controller, desktop, 'echo lines-$(wc -l < /home/alice/alive.txt)', 'lines-'))?.[1] ?? 0);
  const [qemu] = qemuPidsUnder(join(agentDir, 'runtime', desktop));
  // Her display, through the controller and the agent's stream.
  const { ticket } = await alice.request<{ ticket: string }>('POST', `/v1/desktops/${desktop}/display`);
  const display = openDisplay(`ws+unix://${controller.socket}:`, ticket, alice.endpoint.token);
  await display.opened;
  await rfbStart(display);
  await run('ip', ['-n', a1Ns, 'link', 'set', 'eth0', 'down']);
  try {
    // Bob logs in a moment after the cut, before the controller can know of it: he is handed a1's spare, whose assign
    // then hangs on the silent link. Once the link is declared silent, his connect gives that spare up and is served
    // on the controller's host, instead of waiting out its whole wait.
    assert.equal((await cli(['host', 'undrain', 'ctl'])).code, 0);
    const bobsConnect = bob.request<{ desktop: DesktopView }>('POST', `/v1/pools/${POOL}/connect`, {});
    // Silent, but renewing its storage lease: suspect, never down; its desktop is not given away.
    const suspect = await until('a1 suspect', async () => (await json<HostView[]>(['host', 'list'])).find((h) => h.name === 'a1' && h.state === 'suspect'), 180_000, 1000);
    assert.match(suspect.stateReason ?? '', /still renews its storage lease/);
    const { desktop: bobs } = await bobsConnect;
    assert.equal(bobs.host, 'ctl', JSON.stringify(bobs));
    assert.equal(bobs.state, 'in-use');
    const givenUp = /desktop (\S+) is on host a1, which stopped answering the controller before your session started there: brokering another desktop for bob/.exec(controller.output)?.[1];
    assert.ok(givenUp && givenUp !== bobs.name && givenUp !== desktop, `the spare on a1 given up for bob: ${givenUp}`);
    // The spare he was handed let him go at once; its reset waits for its VM, which a1 may still run.
    const left = (await desktopsOf()).find((d) => d.name === givenUp);
    assert.equal(left?.state, 'resetting', JSON.stringify(left));
    assert.equal(left?.user, null);
    assert.equal((await json<HomeInfo>(['home', 'show', 'bob'])).leasedTo, bobs.name, "bob's home is plugged where he is served");
    // No FIN comes from a host cut off: the display is closed when the link is declared silent, saying why (the portal
    // tells her the session is safe and reconnects), instead of hanging on a frozen screen.
    const closed = await display.closed;
    assert.equal(closed.code, 4503, closed.reason);
    assert.match(closed.reason, /^AGENT_NOT_LINKED host a1 cannot be reached from the controller now/);
    const { desktop: again } = await alice.request<{ desktop: DesktopView }>('POST', `/v1/pools/${POOL}/connect`, {});
    assert.equal(again.name, desktop, 'her connect is her session on the cut-off host: no second desktop with her home');
    const home = await json<HomeInfo>(['home', 'show', 'alice']);
    assert.equal(home.leasedTo, desktop);
    assert.equal(home.siteLease?.host, 'a1');
    assert.ok(existsSync(`/proc/${qemu}`), 'the desktop runs on');
    const eviction = await json<{ vms: Array<{ name: string; outcome: string }> }>(['host', 'evict', 'a1', '--grace', '5']);
    assert.deepEqual(eviction.vms.map((v) => [v.name, v.outcome]), [[desktop, 'ordered']]);
    assert.ok(existsSync(`/proc/${qemu}`), 'still running: the order waits for the agent');
  } finally {
    await run('ip', ['-n', a1Ns, 'link', 'set', 'eth0', 'up']);
  }
  // Back on the network: the agent relinks, carries out the eviction, and the session ends with the VM; the spare
  // given up is stopped there too, and its reset goes on.
  await desktops('the evicted session ended', (ds) => !ds.some((d) => d.user === 'alice'));
  await desktops('the reset of the spare given up went on once a1 was back', (ds) => !ds.some((d) => d.state === 'resetting'));
  const bobs = (await desktopsOf()).find((d) => d.user === 'bob');
  await bob.request('POST', `/v1/sessions/${bobs!.name}/logoff`);
  await desktops("bob's desktop released after his logoff", (ds) => !ds.some((d) => d.user === 'bob'));
  assert.equal((await cli(['host', 'drain', 'ctl'])).code, 0);
  assert.equal((await json<HomeInfo>(['home', 'show', 'alice'])).leasedTo, null, 'the home is released');
  const raw = join(tempDir(), 'home.raw');
  execFileSync('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', (await json<{ path: string }>(['home', 'show', 'alice'])).path, raw]);
  const lines = execFileSync('debugfs', ['-R', 'cat /alive.txt', raw], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().split('\n');
  assert.ok(lines.length >= atCut + 10, `the guest kept writing its home while cut off (${atCut} lines at the cut, ${lines.length} at the end)`);
  assert.equal((await cli(['host', 'undrain', 'a1'])).code, 0);
});

test("power loss of the agent's host mid-session: the portal in Chromium says so and opens a desktop on another host with the user's files, once the host's storage lease expired", { timeout: 480_000 }, async () => {
  // Two sessions on a1: alice's in a real portal, bob's whose display dropped before the loss (no portal).
  await controller.api().request('PATCH', `/v1/pools/${POOL}`, { maxDesktops: 2, entitled: { users: ['alice', 'bob'] } });
  await desktops('a ready spare on a1', (ds) => ds.some((d) => d.state === 'ready' && d.host === 'a1'));
  const wrapper = join(tempDir(), 'chromium-in-ctl');
  writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${ctlNs} ${CHROMIUM} "$@"\n`, { mode: 0o755 });
  const browser = await browserLaunch(wrapper);
  try {
    const { page } = await pageOpen(browser, { ignoreHTTPSErrors: true });
    await login(page, `${CONTROLLER}/`, 'alice', PASSWORD);
    await page.getByRole('button', { name: `Open ${POOL}` }).click();
    await page.locator('[data-status="connected"]').waitFor({ timeout: 120_000 });
    const inUse = await desktopWhere('alice on a1', (d) => d.state === 'in-use' && d.user === 'alice' && d.host === 'a1');
    const lostDesktop = inUse!.name;
    // On the home's disk before the power goes (sync: a power loss takes the page cache with it).
    await typeAndExpect(controller, lostDesktop, 'echo before-loss > /home/alice/loss.txt; sync; echo synced-$((3+4))', 'synced-7');
    await desktops('a second spare on a1', (ds) => ds.some((d) => d.state === 'ready' && d.host === 'a1'));
    const { desktop: bobs } = await bob.request<{ desktop: DesktopView }>('POST', `/v1/pools/${POOL}/connect`, {});
    assert.equal(bobs.host, 'a1');
    // The controller's host may take the desktops once a1 is gone.
    assert.equal((await cli(['host', 'undrain', 'ctl'])).code, 0);
    // Power loss: nothing of a1 says goodbye. Its agent is frozen (its sockets stay open, silent: no FIN), its sanlock
    // daemon dies before its QEMUs (so it cannot give the leases back), then the QEMUs; the agent is killed at the end.
    agent.proc.kill('SIGSTOP');
    a1Locks.kill();
    killRuntimeQemus(agentDir);
    const lostOf = async (desktop: string) => (await controller.api().request<AuditEntry[]>('GET', '/v1/audit?action=desktop.lost&limit=100')).find((e) => e.target === desktop);
    const lost = await until('the desktops recorded lost', async () => ((await lostOf(lostDesktop)) && (await lostOf(bobs.name))) || undefined, 300_000, 1000);
    assert.equal((lost.detail as { host: string }).host, 'a1');
    assert.match((lost.detail as { reason: string }).reason, /^host a1 is down \(no heartbeat for \d+ s and its storage lease has expired/);
    assert.equal(((await lostOf(lostDesktop))!.detail as { user: string }).user, 'alice');
    assert.equal((await json<HostView[]>(['host', 'list'])).find((h) => h.name === 'a1')?.state, 'down');
    await agent.kill(); // a frozen host is never resumed once its leases were taken
    // The portal was told (close 4904) and opens the pool again by itself; the new desktop's screen says why it is new.
    const served = await until('alice served again on ctl', async () => (await desktopsOf()).find((d) => d.user === 'alice' && d.state === 'in-use' && d.host === 'ctl'), 300_000, 1000);
    await page.locator('[data-status="connected"]').waitFor({ timeout: 120_000 });
    assert.match((await page.locator('[data-status="connected"]').textContent()) ?? '', new RegExp(`^${served.name}: Connected`));
    assert.match((await page.getByTestId('after-host-loss').textContent()) ?? '', /Your previous desktop's server stopped/);
    await typeAndExpect(controller, served.name, 'cat /home/alice/loss.txt', 'before-loss');
    const home = await json<HomeInfo>(['home', 'show', 'alice']);
    assert.equal(home.siteLease?.host, 'ctl', 'the lease is held on the host that serves her now');
    // Bob's portal, had its display dropped before the loss, is told by its next ticket, and opens the pool again too.
    await assert.rejects(bob.request('POST', `/v1/desktops/${bobs.name}/display`), (e: Error & { code?: string }) => e.code === 'DESKTOP_HOST_LOST');
  } finally {
    await browser.close();
  }
});

test("power back on the lost host: its agent, before its sanlock daemon is up, backs off; then it waits while sanlock keeps its host id out, on one link the controller holds open, and the host comes back up empty", { timeout: 300_000 }, async () => {
  // Its agent first, its sanlock daemon not started yet: each link is dropped at the failed join, and the agent backs off.
  agent = new AgentProc(a1Ns, agentDir, [], a1Locks.env);
  // Each failed join is followed by the link's close, then the reconnect's line: the third of those is waited for.
  await until('three failed joins, each followed by a reconnect', () => (agent.output.match(/joining the sanlock lockspace failed/g)?.length ?? 0) >= 3 && (agent.output.match(/agent reconnecting in/g)?.length ?? 0) >= 3 || undefined, 60_000, 200);
  const attempts = [...agent.output.matchAll(/"attempt":(\d+).*agent reconnecting in/g)].map((m) => Number(m[1]));
  assert.deepEqual(attempts.slice(0, 3), [1, 2, 3], `the backoff grows while every link is dropped at once:\n${agent.output.slice(-3000)}`);
  // The host id's last holder died uncleanly: sanlock lets it join again only host_dead_seconds after its last renewal.
  await a1Locks.start();
  // While it joins, its link lives but it is not ready: placement gives it nothing (a start would wait for the join).
  let joiningSeen = false;
  const back = await until('a1 up and linked again', async () => {
    const h = (await json<HostView[]>(['host', 'list'])).find((v) => v.name === 'a1');
    if (h?.agent?.linked === true && h.agent.ready === false) joiningSeen = true;
    return h?.state === 'up' && h.agent?.ready === true && /heartbeats begin/.test(agent.output) ? h : undefined;
  }, 240_000, 1000);
  assert.equal(back.state, 'up');
  assert.ok(joiningSeen, 'a1 listed linked and not ready while its agent joined the lockspace');
  const lastFailure = agent.output.lastIndexOf('joining the sanlock lockspace failed');
  const afterFailures = agent.output.slice(lastFailure);
  const joined = /"joinMs":(\d+).*this host joined the sanlock lockspace/.exec(afterFailures);
  assert.ok(joined, agent.output.slice(-3000));
  assert.ok(Number(joined[1]) > 30_000, `the join waited for sanlock (${joined[1]} ms)`);
  assert.equal(afterFailures.match(/agent linked to /g)?.length, 1, `one link through the wait, never closed as silent:\n${afterFailures.slice(-3000)}`);
  // The agent said it was joining (every heartbeat interval), so the controller kept the link past its 24 s of silence.
  assert.match(`${controller.output}${standby?.output ?? ''}`, /agent of host a1 is joining the home leases' lockspace as host id \d+/);
  assert.deepEqual(readdirSync(join(agentDir, 'runtime')).flatMap((vm) => qemuPidsUnder(join(agentDir, 'runtime', vm))), [], 'nothing of the lost desktops runs there');
});
