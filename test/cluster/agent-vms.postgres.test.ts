// A VM placed on a remote agent's host runs there: a real controller (PostgreSQL, HTTPS) and a real `ardesia agent`, each
// in a network namespace the test creates, booting the busybox test guest under TCG. The agent's QEMU outlives the agent
// and the controller; nothing is started twice. Outcomes and their order are asserted, never timing.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, createReadStream, existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { WebSocket } from 'ws';
import { Writable } from 'node:stream';
import { ApiClient } from '../../src/cli/client.js';
import type { ArdesiaError } from '../../src/contract/errors.js';
import { openDisplay } from '../gateway/harness.js';
import { rfbStart } from '../gateway/protocols.js';
import type { HostDetail, HostEviction, HostView, VmMigrationView } from '../../src/contract/hosts.js';
import { hostRoutes } from '../../src/api/routes-hosts.js';
import { type OpenApiDoc, schemaProblems } from '../api/responses-support.js';
import type { AuditEntry } from '../../src/contract/users.js';
import type { VmStatus } from '../../src/contract/vm.js';
import { NetLab } from '../netboot/lab.js';
import { tcpListening } from '../helpers/netns.js';
import { killRuntimeQemus, qemuPidsUnder, runCli, TestDaemon, until } from '../helpers/daemon.js';
import { AgentProc } from '../helpers/agent-proc.js';
import { guestArtifacts } from '../helpers/guests.js';
import { SPICE_LINK_ERR_OK, SPICE_LINK_ERR_PERMISSION_DENIED } from '../gateway/protocols.js';
import { vvParse } from '../gateway/spice-client.js';
import { SPICE_RELAY_MAX_CONNECTIONS } from '../../src/cluster/remote-spice.js';
import { SPICE_SUBJECT } from '../../src/tls/certs.js';
import { freshDatabaseForNamespaces } from '../helpers/postgres.js';
import { savedStateHeaderParse, stateSealValid } from '../../src/hypervisor/saved-state/manifest.js';

const NET = '10.251.8';
const CONTROLLER = `https://${NET}.1:8443`;
const g = guestArtifacts();

let lab: NetLab;
let controller: TestDaemon;
let agent: AgentProc;
let agentDir: string;
let agent2: AgentProc | undefined;
let agent2Dir: string | undefined;
let shared: string;
let ns: string;
let ctlNs: string;
let dbUrl: string;
const dirs: string[] = [];

/** fence-agents' interface (--action=off|status; status exits 0 on, 2 off) over a host that is a network namespace. */
const FENCE_NETNS_AGENT = `#!/bin/sh
for a; do case "$a" in --netns=*) ns="\${a#--netns=}";; --action=*) action="\${a#--action=}";; esac; done
case "$action" in
  off) ip -n "$ns" link set eth0 down; pids=$(ip netns pids "$ns"); [ -n "$pids" ] && kill -9 $pids
       # As a BMC answers once the power is off: killed processes (a QEMU's memory) take a moment to go.
       i=0; while [ -n "$(ip netns pids "$ns")" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
       echo "Success: Powered OFF"; exit 0;;
  status) [ -z "$(ip netns pids "$ns")" ] && { echo "Status: OFF"; exit 2; }; echo "Status: ON"; exit 0;;
esac
exit 1
`;

const cli = (args: string[]) => runCli(controller.dataDir, args);
async function json<T>(args: string[]): Promise<T> {
  const r = await cli(['--json', ...args]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return JSON.parse(r.stdout) as T;
}
const status = (name: string) => json<VmStatus>(['vm', 'status', name]);
// Linked again means ready (heartbeating on the link): what the test starts next is placed there.
const linked = (up: boolean) => async () => (await json<HostView[]>(['host', 'list'])).find((h) => h.name === 'a1' && (up ? h.agent?.ready === true : h.agent?.linked === false));
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'ard-av-'));
  dirs.push(d);
  return d;
}
/** A line typed at v1's serial console through the controller, until its output matches. */
async function v1Type(line: string, want: RegExp): Promise<void> {
  const sh = await shell('v1');
  try {
    await sh.type(`\n${line}`, want);
  } finally {
    sh.close();
  }
}
/** How often v1 booted on a1: its boot banners in the agent's console log. */
const v1Banners = () => readFileSync(join(agentDir, 'logs', 'v1', 'console.log'), 'latin1').split(g.amd64.banner).length - 1;
/** The parent of a process, from /proc/PID/stat (the field after the parenthesised command). */
function parentOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}
const consoleSeen = () => existsSync(join(agentDir, 'logs', 'v1', 'console.log')) && readFileSync(join(agentDir, 'logs', 'v1', 'console.log'), 'latin1').includes(g.amd64.banner);

before(async () => {
  lab = await NetLab.create('av');
  ctlNs = await lab.addHost('ctl', `${NET}.1/24`);
  ns = await lab.addHost('a1', `${NET}.2/24`);
  const db = await freshDatabaseForNamespaces();
  dbUrl = db.admin;
  // a2's power (it joins in the drain test): a fence agent that cuts its namespace's processes, as a BMC's power-off would.
  const fenceDir = tempDir();
  const fenceAgent = join(fenceDir, 'fence_netns');
  writeFileSync(fenceAgent, FENCE_NETNS_AGENT, { mode: 0o755 });
  const fenceConfig = join(fenceDir, 'fence.json');
  writeFileSync(fenceConfig, JSON.stringify({ a2: [fenceAgent, `--netns=${lab.ns('a2')}`] }), { mode: 0o600 });
  // VM owners: nobody may run one VM, reading the guest's kernel, and use anything under the temporary folder (so the
  // controller's own check passes a file in the agent's data folder: the agent's host refuses it).
  const guestDir = dirname(g.amd64.kernel);
  const ownerPolicy = join(fenceDir, 'owners.json');
  writeFileSync(ownerPolicy, JSON.stringify({ users: { nobody: { roots: [realpathSync(tmpdir())], readOnlyRoots: [guestDir, realpathSync(guestDir)], maxVms: 1 } } }));
  controller = new TestDaemon(tempDir(), ['--listen', `${NET}.1:8443`, '--host-name', 'ctl', '--database', db.viaSocket, '--fence-config', fenceConfig, '--owner-policy', ownerPolicy], ctlNs);
  await controller.spawn();
  // The shared data folder: a directory both hosts see (here, the same filesystem).
  shared = tempDir();
  const disk = join(shared, 'v1.qcow2');
  assert.equal((await cli(['vm', 'create', '-b', g.amd64.rootQcow2, disk])).code, 0);
  const conf = join(shared, 'vm.conf');
  writeFileSync(conf, `vm "v1" {\n memory 160M\n boot "${g.amd64.kernel}"\n initrd "${g.amd64.initrd}"\n cmdline "console=ttyS0 root=/dev/vda rw quiet"\n disk "${disk}"\n disable\n}\nvm "bad" {\n memory 160M\n disk "${join(shared, 'missing.qcow2')}"\n disable\n}\nvm "v2" {\n memory 96M\n boot "${g.amd64.kernel}"\n initrd "${g.amd64.initrd}"\n cmdline "console=ttyS0 quiet"\n disable\n}\n`);
  assert.equal((await cli(['vm', 'load', conf])).code, 0);
  const token = (await json<{ token: string }>(['host', 'add', 'a1'])).token;
  agentDir = tempDir();
  agent = new AgentProc(ns, agentDir, ['--controller', CONTROLLER, '--join', token]);
  await until('a1 linked', linked(true));
  // The controller's own host takes nothing new: placement picks the agent's.
  assert.equal((await cli(['host', 'drain', 'ctl'])).code, 0);
});

after(async () => {
  await agent?.kill();
  await agent2?.kill();
  if (agentDir) killRuntimeQemus(agentDir);
  if (agent2Dir) killRuntimeQemus(agent2Dir);
  await controller?.destroy().catch(() => undefined);
  await lab?.destroy();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

let pid: number;
let startedAt: string | null;

test("a VM placed on the agent's host starts there, under the agent, and shows running through the controller", async () => {
  const r = await cli(['vm', 'start', 'v1']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const s = await status('v1');
  assert.equal(s.state, 'running');
  assert.equal(s.accel, 'tcg');
  pid = s.pid!;
  startedAt = s.startedAt;
  assert.ok(pid > 0 && startedAt, JSON.stringify(s));
  assert.deepEqual(qemuPidsUnder(join(agentDir, 'runtime', 'v1')), [pid], "the QEMU is the agent's, in its runtime folder");
  assert.equal(parentOf(pid), agent.proc.pid, "a child of the agent's process");
  assert.deepEqual(qemuPidsUnder(join(controller.dataDir, 'runtime')), [], 'nothing runs under the controller');
  assert.deepEqual((await json<HostDetail>(['host', 'show', 'a1'])).vms, ['v1']);
  await until('the guest banner in the agent\'s console log', consoleSeen);
  // The logs are read on its host, through its agent.
  const log = await cli(['vm', 'log', 'v1']);
  assert.equal(log.code, 0, log.stderr);
  assert.ok(log.stdout.includes(g.amd64.banner), `the console log from a1: ${log.stdout.slice(-500)}`);
  const qemuLog = await cli(['vm', 'log', 'v1', '--qemu']);
  assert.equal(qemuLog.code, 0, qemuLog.stderr);
  assert.doesNotMatch(qemuLog.stdout, /not yet reached/);
});

test("pause, unpause, reset and a screendump of a VM on the agent's host, through the controller", { timeout: 180_000 }, async () => {
  const paused = await json<VmStatus>(['vm', 'pause', 'v1']);
  assert.equal(paused.state, 'paused');
  const resumed = await json<VmStatus>(['vm', 'unpause', 'v1']);
  assert.equal(resumed.state, 'running');
  const again = await cli(['vm', 'unpause', 'v1']);
  assert.notEqual(again.code, 0, 'the agent refuses as the controller would');
  assert.match(again.stderr, /VM_BUSY|not paused/);
  const shot = join(tempDir(), 'v1.png');
  await controller.api().download('GET', '/v1/vms/v1/screendump', undefined, shot);
  const png = readFileSync(shot);
  assert.equal(png.subarray(0, 8).toString('hex'), '89504e470d0a1a0a', 'a PNG of its screen');
  const banners = () => readFileSync(join(agentDir, 'logs', 'v1', 'console.log'), 'latin1').split(g.amd64.banner).length - 1;
  const booted = banners();
  assert.equal((await cli(['vm', 'reset', 'v1'])).code, 0);
  await until('v1 booted again after the reset', () => banners() > booted, 120_000);
  assert.equal((await status('v1')).pid, pid, 'the same QEMU: a reset, not a restart');
});


/** A console WebSocket through the controller (its unix socket) with this bearer token, or none. */
function consoleSocket(vm: string, token: string | undefined, query = ''): WebSocket {
  return new ApiClient({ socketPath: controller.socket, ...(token !== undefined ? { token } : {}) }).webSocket(`/v1/vms/${vm}/console${query}`) as WebSocket;
}

/** What a console socket shows until `want` appears; rejects with its close code and reason if it closes first. */
function consoleUntil(ws: WebSocket, want: RegExp, seen: { text: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => want.test(seen.text) && (ws.off('close', onClose), resolve());
    const onClose = (code: number, reason: Buffer) => reject(new Error(`console closed (${code} ${reason.toString()}); saw: ${seen.text}`));
    ws.on('message', check);
    ws.on('close', onClose);
    check();
  });
}

/** The close of a refused console: its code and reason. */
function refusedWith(ws: WebSocket): Promise<[number, string]> {
  return new Promise((resolve) => ws.on('close', (code, reason) => resolve([code, reason.toString()])));
}

test("the serial console of a VM on the agent's host, through the controller: its prompt and a typed command's answer", { timeout: 180_000 }, async () => {
  const before = await tcpListening(ns);
  const ws = consoleSocket('v1', controller.api().endpoint.token, '?replay=65536');
  const seen = { text: '' };
  ws.on('message', (d: Buffer) => (seen.text += d.toString('latin1')));
  await new Promise<void>((resolve, reject) => (ws.once('open', () => resolve()), ws.once('error', reject)));
  await consoleUntil(ws, new RegExp(g.amd64.banner.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), seen); // the replay of its recent output
  ws.send('\n');
  await consoleUntil(ws, /ardesia:\/# /, seen);
  const from = seen.text.length;
  ws.send('echo remote-$((6*7))\n');
  await consoleUntil(ws, /remote-42/, { get text() { return seen.text.slice(from); } });
  assert.deepEqual(await tcpListening(ns), before, "no socket listens on the agent's host for the stream");
  assert.deepEqual(before, [], "nothing listens on the agent's host at all");
  assert.match(agent.output, /console stream of vm v1 opened/);
  // Closing the user's end closes the agent's.
  ws.close();
  await until("the agent's end closed too", () => /console stream of vm v1 closed/.test(agent.output));
});

test("vm stop --to-disk of a VM on the agent's host saves its state there; its start resumes it there, the same guest; --discard-state boots it afresh", { timeout: 300_000 }, async () => {
  await v1Type('echo kept-$((6*7)) > /tmp/mark; echo marked-$((2*3))', /marked-6/);
  const saved = await cli(['vm', 'stop', '--to-disk', 'v1']);
  assert.equal(saved.code, 0, saved.stderr);
  assert.match(saved.stdout, /its state was saved on host a1 \(`ardesia vm start` resumes it there\)/);
  const stopped = await status('v1');
  assert.deepEqual([stopped.state, stopped.pid, stopped.savedStateOn], ['stopped', null, 'a1']);
  assert.match((await cli(['vm', 'status', 'v1'])).stdout, /v1: its state is saved on host a1: `vm start` resumes it/);
  assert.ok(existsSync(join(agentDir, 'states', 'v1', 'manifest.json')), "the state is in the agent's data folder");
  assert.ok(!existsSync(join(controller.dataDir, 'states', 'v1')), "nothing of it on the controller's host");
  // a1 shows it holds the state, and is not removed while it does.
  assert.deepEqual((await json<HostDetail>(['host', 'show', 'a1'])).savedStates, ['v1']);
  assert.match((await cli(['host', 'show', 'a1'])).stdout, /^ {2}states {3}vm v1: stopped, saved here/m);
  const removal = await cli(['host', 'remove', 'a1']);
  assert.notEqual(removal.code, 0, 'a host holding a saved state is not removed');
  assert.match(removal.stderr, /host a1 holds the saved state of vm v1: start each \(it resumes there\) and move it, or discard it/);
  // Only a1 can resume it: drained, its start is refused, saying where the state is (nothing started elsewhere).
  assert.equal((await cli(['host', 'drain', 'a1'])).code, 0);
  const refused = await cli(['vm', 'start', 'v1']);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /vm v1's state is saved on host a1, which cannot take it now: /);
  assert.match(refused.stderr, /Start it once such a host is up and its agent linked/, 'the hint of VM_STATE_HOST_UNAVAILABLE');
  assert.equal((await status('v1')).state, 'stopped');
  assert.equal((await cli(['host', 'undrain', 'a1'])).code, 0);
  // The start goes to a1 and resumes there: the file the guest wrote to its RAM-backed /tmp is still there, no boot.
  const bootsBefore = v1Banners();
  assert.equal((await cli(['vm', 'start', 'v1'])).code, 0);
  await until('the agent resumed v1', () => /vm v1 resumed from its saved state/.test(agent.output));
  const resumed = await status('v1');
  assert.deepEqual([resumed.state, resumed.savedStateOn], ['running', null]);
  assert.deepEqual((await json<HostDetail>(['host', 'show', 'a1'])).vms, ['v1']);
  await v1Type('cat /tmp/mark', /kept-42/);
  assert.equal(v1Banners(), bootsBefore, 'resumed, not booted');
  assert.ok(!existsSync(join(agentDir, 'states', 'v1')), 'the state consumed by its start');
  assert.deepEqual((await json<HostDetail>(['host', 'show', 'a1'])).savedStates, []);
  // Saved again, then started afresh: the state on a1 is deleted and the guest boots.
  assert.equal((await cli(['vm', 'stop', '--to-disk', 'v1'])).code, 0);
  assert.ok(existsSync(join(agentDir, 'states', 'v1', 'manifest.json')));
  assert.equal((await cli(['vm', 'start', '--discard-state', 'v1'])).code, 0);
  await until('v1 booted afresh', () => v1Banners() > bootsBefore, 120_000);
  assert.ok(!existsSync(join(agentDir, 'states', 'v1')), "the state deleted on the agent's host");
  const fresh = await status('v1');
  assert.equal(fresh.state, 'running');
  // The tests after this one follow v1's QEMU of now.
  pid = fresh.pid!;
  startedAt = fresh.startedAt;
});

test("vm send of a VM on the agent's host: its state comes from there, sealed with the site's key, and is deleted there; vm receive resumes it on the agent's host, the state copied there from the controller's", { timeout: 300_000 }, async () => {
  await v1Type('echo sent-$((6*8)) > /tmp/sent; echo marked-$((3*3))', /marked-9/);
  const bootsBefore = v1Banners();
  const api = controller.api();
  // A reader gone after the first MiB: the send fails, and the state (saved on a1 first) stays there, whole.
  let got = 0;
  const cut = new Writable({ write: (chunk: Buffer, _e, done) => done((got += chunk.length) > 2 ** 20 ? new Error('the reader went away') : null) });
  await assert.rejects(api.download('POST', '/v1/vms/v1/send', undefined, cut));
  await until('a1 still holds the state', async () => (await json<HostDetail>(['host', 'show', 'a1'])).savedStates.includes('v1'));
  assert.equal((await status('v1')).savedStateOn, 'a1');
  assert.match(agent.output, /vm v1: state-send failed/);
  // Sent again, whole: from a1, where it is.
  const file = join(tempDir(), 'v1.state');
  await api.download('POST', '/v1/vms/v1/send', undefined, file);
  const stopped = await status('v1');
  assert.deepEqual([stopped.state, stopped.pid], ['stopped', null]);
  assert.ok(!existsSync(join(agentDir, 'states', 'v1')), 'the state deleted on the agent\'s host once sent');
  assert.ok(!existsSync(join(controller.dataDir, 'states', 'v1')), "nothing of it kept on the controller's host");
  const head = savedStateHeaderParse(readFileSync(file));
  assert.equal(head.kind, 'header');
  if (head.kind !== 'header') return;
  assert.equal(head.manifest.vm, 'v1');
  assert.equal(head.length + head.manifest.state.bytes, statSync(file).size, 'the whole state');
  assert.ok(stateSealValid(head.manifest, readFileSync(join(controller.dataDir, 'tls', 'state-seal.key'))), "sealed with the site's key: a VM owner may receive it");
  await until('a1 reports v1 without a state', async () => (await json<HostDetail>(['host', 'show', 'a1'])).savedStates.length === 0);

  // Received on the controller (checked into its states/), placed on a1 (the controller's host is drained): the state goes
  // there first, and the agent resumes it.
  const received = await api.upload<VmStatus>('POST', '/v1/vms/v1/receive', createReadStream(file));
  assert.equal(received.state, 'running');
  assert.deepEqual((await json<HostDetail>(['host', 'show', 'a1'])).vms, ['v1']);
  assert.match(agent.output, /vm v1: a state saved on the controller's host stored here/);
  await until('the agent resumed v1', () => (agent.output.match(/vm v1 resumed from its saved state/g) ?? []).length >= 2);
  await v1Type('cat /tmp/sent', /sent-48/);
  assert.equal(v1Banners(), bootsBefore, 'resumed, not booted');
  assert.ok(!existsSync(join(controller.dataDir, 'states', 'v1')), "the controller's copy deleted once on a1");
  assert.ok(!existsSync(join(agentDir, 'states', 'v1')), 'consumed by its start on a1');
  const now = await status('v1');
  pid = now.pid!;
  startedAt = now.startedAt;
});

test("an ad hoc VM on the agent's host: neither saved to disk nor sent (its state would belong to no VM once forgotten), and it runs on", async () => {
  const started = await cli(['vm', 'start', 't1', '-m', '96M', '-b', g.amd64.kernel, '--initrd', g.amd64.initrd, '--append', 'console=ttyS0 quiet']);
  assert.equal(started.code, 0, started.stderr);
  assert.ok((await json<HostDetail>(['host', 'show', 'a1'])).vms.includes('t1'), "placed on the agent's host");
  for (const args of [['vm', 'stop', '--to-disk', 't1'], ['vm', 'send', 't1']]) {
    const refused = await cli(args);
    assert.notEqual(refused.code, 0, args.join(' '));
    assert.match(refused.stderr, /vm t1 was started ad hoc and is forgotten when it stops: define it/, args.join(' '));
  }
  assert.equal((await status('t1')).state, 'running');
  assert.ok(!existsSync(join(agentDir, 'states', 't1')), 'nothing saved on its host');
  // Stopped by force (its QEMU reported `stopping` on the way, with no start time): forgotten, as on the controller's host.
  assert.equal((await cli(['vm', 'stop', '-f', '-w', 't1'])).code, 0);
  await until('t1 forgotten', async () => (await cli(['vm', 'status', 't1'])).code !== 0);
});

test("a VM owner's start goes to the agent's host and its files are checked there by the owner's rules: a file in the agent's own data folder is refused there; the owner's cap counts VMs on every host; it does not move live", { timeout: 180_000 }, async () => {
  const conf = join(shared, 'owned.conf');
  const vm = (name: string, extra = '') => `vm "${name}" {\n memory 96M\n boot "${g.amd64.kernel}"\n initrd "${g.amd64.initrd}"\n cmdline "console=ttyS0 quiet"\n${extra} owner nobody\n disable\n}\n`;
  // The attack: a VM whose CD-ROM is the agent's credential file (its guest would read it).
  writeFileSync(conf, vm('owned') + vm('owned2') + vm('peek', ` cdrom "${join(agentDir, 'agent.json')}"\n`));
  assert.equal((await cli(['vm', 'load', conf])).code, 0);
  const owner = new ApiClient({ socketPath: controller.socket, token: readFileSync(join(controller.dataDir, 'tokens', 'nobody.token'), 'utf8').trim() });

  await assert.rejects(owner.request('POST', '/v1/vms/peek/start', {}), (err: ArdesiaError) => {
    assert.equal(err.code, 'OWNER_PATH_FORBIDDEN', err.message);
    assert.match(err.message, /vm peek did not start on host a1: start failed: vm peek: .*agent\.json is inside \/\S+, which no VM owner may use/);
    return true;
  });
  assert.equal((await status('peek')).state, 'stopped');
  assert.deepEqual(qemuPidsUnder(join(agentDir, 'runtime', 'peek')), [], 'no QEMU of it on a1');

  const started = await owner.request<VmStatus>('POST', '/v1/vms/owned/start', {});
  assert.equal(started.state, 'running');
  assert.ok((await json<HostDetail>(['host', 'show', 'a1'])).vms.includes('owned'), 'on the agent\'s host');
  assert.deepEqual(qemuPidsUnder(join(agentDir, 'runtime', 'owned')), [started.pid]);
  assert.match(agent.output, /vm owned: start/);
  // Its one VM runs on a1: a second is refused by the cap, counted across hosts.
  await assert.rejects(owner.request('POST', '/v1/vms/owned2/start', {}), (err: ArdesiaError) => err.code === 'OWNER_QUOTA_EXCEEDED' && /nobody already runs 1 VM\(s\), the most allowed is 1/.test(err.message));
  const migrate = await cli(['vm', 'migrate', 'owned', '--to', 'ctl']);
  assert.notEqual(migrate.code, 0);
  assert.match(migrate.stderr, /vm owned was started by nobody under the owner rules, its files checked for that user on host a1/);
  await owner.request('POST', '/v1/vms/owned/stop', { force: true, waitMs: 30_000 });
  assert.equal((await status('owned')).state, 'stopped');
  for (const name of ['owned', 'owned2', 'peek']) await controller.api().request('DELETE', `/v1/vms/${name}`);
});

/** v1's display opened through the controller as the root user, its RFB greeting and a first framebuffer update read. */
async function v1DisplayThroughController(): Promise<ReturnType<typeof openDisplay>> {
  const api = controller.api();
  const { ticket } = await api.request<{ ticket: string }>('POST', '/v1/desktops/v1/display');
  const c = openDisplay(`ws+unix://${controller.socket}:`, ticket, api.endpoint.token);
  await c.opened;
  const rfb = await rfbStart(c);
  assert.equal(rfb.version, 'RFB 003.008\n');
  assert.ok(rfb.width > 0 && rfb.height > 0, JSON.stringify(rfb));
  assert.equal(rfb.firstMessageType, 0, 'FramebufferUpdate');
  assert.ok(rfb.rectangles >= 1);
  return c;
}

test("the display of a VM on the agent's host, through the controller's display WebSocket: RFB, then a framebuffer update", { timeout: 180_000 }, async () => {
  const before = await tcpListening(ns);
  const c = await v1DisplayThroughController();
  assert.deepEqual(await tcpListening(ns), before, "no socket listens on the agent's host for the stream");
  // The native hop on both ends (native/display-hop.c): the agent dialled the controller's end, which listened.
  assert.match(agent.output, /display hop of vm v1 opened/);
  // Closing the browser's end closes the agent's.
  c.ws.close();
  await c.closed;
  await until("the agent's end closed too", () => /display hop of vm v1 closed/.test(agent.output));
});

test("a network that lets the agent's link through but not the display hop's port: the display opens all the same, as the agent's WebSocket stream, and the controller says why", { timeout: 180_000 }, async () => {
  // Only the --listen port of the controller is reachable from the agent's host (a firewall as sites have them).
  const rules = `table inet hopblock {\n chain out {\n  type filter hook output priority 0;\n  ip daddr ${NET}.1 tcp dport != 8443 reject with tcp reset\n }\n}\n`;
  execFileSync('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: rules });
  try {
    const c = await v1DisplayThroughController();
    assert.match(agent.output, /display stream of vm v1 opened/);
    assert.match(controller.output, /host a1's agent cannot reach this controller's display hop: its displays go as WebSocket streams/);
    assert.match(controller.output, /DISPLAY_HOP_UNREACHABLE|the controller's display hop at \S+ port \d+ did not answer/);
    c.ws.close();
    await c.closed;
    await until("the agent's stream closed too", () => /display stream of vm v1 closed/.test(agent.output));
  } finally {
    execFileSync('ip', ['netns', 'exec', ns, 'nft', 'delete', 'table', 'inet', 'hopblock']);
  }
});

test("the remote console's and display's authorization is as on the controller's host: anonymous, a user, an administrator, root", { timeout: 180_000 }, async () => {
  const api = controller.api();
  const userToken = async (name: string, roles: string[]) => {
    await api.request('POST', '/v1/users', { name, password: 'a long enough password 1', roles });
    return (await api.request<{ token: string }>('POST', '/v1/auth/tokens', { user: name, password: 'a long enough password 1' })).token;
  };
  const cases: Array<[string, string | undefined, number | 'open']> = [
    ['anonymous', undefined, 4401],
    ['a user (not the owner)', await userToken('rd-user', ['user']), 4403],
    ['an administrator', await userToken('rd-admin', ['admin']), 'open'],
    ['root', api.endpoint.token, 'open'],
  ];
  // The display: its ticket is refused, or opens the display.
  const ticketRefusals = ['UNAUTHENTICATED', 'FORBIDDEN', 'opened', 'opened'];
  for (const [i, [who, token]] of cases.entries()) {
    const client = new ApiClient({ socketPath: controller.socket, ...(token !== undefined ? { token } : {}) });
    const got = await client.request<{ ticket: string }>('POST', '/v1/desktops/v1/display').then(
      async ({ ticket }) => {
        const c = openDisplay(`ws+unix://${controller.socket}:`, ticket, token);
        await c.opened;
        assert.equal((await rfbStart(c)).version, 'RFB 003.008\n', who);
        c.ws.close();
        await c.closed;
        return 'opened';
      },
      (err: { code?: string }) => err.code,
    );
    assert.equal(got, ticketRefusals[i], who);
  }
  for (const [who, token, want] of cases) {
    const ws = consoleSocket('v1', token);
    if (want === 'open') {
      const seen = { text: '' };
      ws.on('message', (d: Buffer) => (seen.text += d.toString('latin1')));
      await new Promise<void>((resolve, reject) => (ws.once('open', () => resolve()), ws.once('error', reject)));
      const tag = who.length;
      ws.send(`echo who-$((${tag}*2))\n`);
      await consoleUntil(ws, new RegExp(`who-${tag * 2}`), seen);
      ws.close();
    } else assert.equal((await refusedWith(ws))[0], want, who);
  }
});

test('a stream dial with an unknown id or a wrong secret is refused by the controller', async () => {
  const { credential } = JSON.parse(readFileSync(join(agentDir, 'agent.json'), 'utf8')) as { credential: string };
  const dial = (header: string) =>
    new WebSocket(`ws+unix://${controller.socket}:/v1/agent/stream`, { headers: { authorization: `Bearer ${credential}`, 'x-ardesia-stream': header } });
  const [code, reason] = await refusedWith(dial(`${'A'.repeat(16)}.${'s'.repeat(43)}`));
  assert.deepEqual([code, reason], [4401, 'AGENT_STREAM_REFUSED no such stream is waiting (never asked for, or already used)']);
  assert.match((await refusedWith(dial('not-a-header')))[1], /header is missing or malformed/);
});

test("a start that fails on the agent's host is refused with the agent's reason", async () => {
  const r = await cli(['vm', 'start', 'bad']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /vm bad did not start on host a1: .*missing\.qcow2/);
  const s = await status('bad');
  assert.equal(s.state, 'stopped');
  assert.match(s.lastStopReason ?? '', /missing\.qcow2/);
  assert.deepEqual(qemuPidsUnder(join(agentDir, 'runtime', 'bad')), []);
});

test("an image version a VM rests on is checked by sha256 on the agent's host before its first use there, once; a copy that no longer matches is refused there", { timeout: 180_000 }, async () => {
  const api = controller.api();
  assert.equal((await cli(['image', 'create', 'img1', '--from', g.amd64.rootQcow2])).code, 0);
  const version = join(controller.dataDir, 'images', 'img1', '1.qcow2');
  const overlay = join(shared, 'v4.qcow2');
  assert.equal((await cli(['vm', 'create', '-b', version, overlay])).code, 0);
  await api.request('POST', '/v1/vms', { spec: { name: 'v4', memoryMiB: 96, boot: { kernel: g.amd64.kernel, initrd: g.amd64.initrd, cmdline: 'console=ttyS0 quiet' }, disks: [{ path: overlay }] } });
  const checkedLines = () => agent.output.split('\n').filter((l) => l.includes(`image file ${version} checked on host a1`)).length;
  const startStop = async () => {
    const r = await cli(['vm', 'start', 'v4']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal((await cli(['vm', 'stop', 'v4', '--force'])).code, 0);
    await until('v4 stopped', async () => (await status('v4')).state === 'stopped');
  };
  await startStop();
  assert.equal(checkedLines(), 1, 'read once before its first use on a1');
  const checked = JSON.parse(readFileSync(join(agentDir, 'image-checks.json'), 'utf8')) as Record<string, { sha256: string }>;
  const published = (await api.request<{ versions: { version: number; sha256: string }[] }>('GET', '/v1/images/img1')).versions[0]!.sha256;
  assert.equal(checked[version]?.sha256, published, "the agent's record names the published sum");
  await startStop();
  assert.equal(checkedLines(), 1, 'an unchanged file is not read again');
  // The host's view of the shared file changes (a bad cache, a bad copy): one byte flipped, the size kept.
  const original = readFileSync(version);
  const flipped = Buffer.from(original);
  flipped.writeUInt8(flipped.readUInt8(flipped.length - 1) ^ 0xff, flipped.length - 1);
  chmodSync(version, 0o644);
  writeFileSync(version, flipped);
  try {
    const r = await cli(['vm', 'start', 'v4']);
    assert.notEqual(r.code, 0, 'a changed image file is refused');
    assert.match(r.stderr, /did not start on host a1: .*does not match its published checksum/);
    assert.equal((await status('v4')).state, 'stopped');
    assert.deepEqual(qemuPidsUnder(join(agentDir, 'runtime', 'v4')), [], 'no QEMU opened it');
  } finally {
    writeFileSync(version, original);
    chmodSync(version, 0o444);
  }
  // Put back (a new modification time): read again, and used.
  await startStop();
  assert.equal(checkedLines(), 2);
  await api.request('DELETE', '/v1/vms/v4');
});

test("SPICE to a VM on the agent's host goes through the controller: the .vv names its relay, QEMU's one-time password links from another machine, a wrong one is refused, a flood is cut at the relay's limit", { timeout: 180_000 }, async () => {
  const api = controller.api();
  await api.request('POST', '/v1/vms', { spec: { name: 'v5', memoryMiB: 96, boot: { kernel: g.amd64.kernel, initrd: g.amd64.initrd, cmdline: 'console=ttyS0 quiet' }, display: { spice: { listen: '0.0.0.0' } } } });
  const r = await cli(['vm', 'start', 'v5']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  // The user's PC: another machine on the network, which reaches the controller only.
  const pc = await lab.addHost('pc', `${NET}.9/24`);
  const client = async <T>(args: string[]) => JSON.parse((await lab.exec(pc, process.execPath, [join(import.meta.dirname, '..', 'gateway', 'spice-client.js'), ...args], 60_000)).stdout) as T;
  const vvFile = join(tempDir(), 'v5.vv');
  await api.download('GET', '/v1/desktops/v5/spice.vv', undefined, vvFile);
  const vv = vvParse(readFileSync(vvFile, 'utf8'));
  assert.equal(vv.host, `${NET}.1`, "the controller's address, not the agent's host");
  assert.ok(Number(vv['tls-port']) > 0 && vv.port === undefined, 'TLS only');
  assert.equal(vv['host-subject'], SPICE_SUBJECT);
  assert.deepEqual((await tcpListening(ns)).filter((l) => !l.startsWith('0100007F:')), [], "on the agent's host QEMU's SPICE listens on loopback only, whatever the spec says");
  assert.equal(await client<number>(['link', vvFile, 'not-the-password']), SPICE_LINK_ERR_PERMISSION_DENIED);
  assert.equal(await client<number>(['link', vvFile]), SPICE_LINK_ERR_OK, 'the password of the .vv links through the relay and the agent');
  await until('the password expired after its use', async () => (await client<number>(['link', vvFile])) === SPICE_LINK_ERR_PERMISSION_DENIED);
  const flood = await client<{ open: number; refused: number }>(['flood', vvFile, String(SPICE_RELAY_MAX_CONNECTIONS + 8)]);
  assert.ok(flood.open <= SPICE_RELAY_MAX_CONNECTIONS && flood.refused >= 8, JSON.stringify(flood));
  // A new .vv works again (a new password; the same relay), and the relay goes with the VM.
  await api.download('GET', '/v1/desktops/v5/spice.vv', undefined, vvFile);
  assert.equal(vvParse(readFileSync(vvFile, 'utf8'))['tls-port'], vv['tls-port']);
  assert.equal(await client<number>(['link', vvFile]), SPICE_LINK_ERR_OK);
  assert.equal((await cli(['vm', 'stop', 'v5', '--force'])).code, 0);
  const port = Number(vv['tls-port']).toString(16).toUpperCase().padStart(4, '0');
  await until('the relay closed with the VM', async () => !(await tcpListening(ctlNs)).some((l) => l.endsWith(`:${port}`)));
  await api.request('DELETE', '/v1/vms/v5');
});

test('the agent killed (SIGKILL) and restarted finds the running VM again: same QEMU, never restarted', async () => {
  await agent.kill('SIGKILL');
  assert.ok(existsSync(`/proc/${pid}`), 'QEMU outlives its agent');
  await until('a1 unlinked', linked(false));
  agent = new AgentProc(ns, agentDir, []);
  await until('a1 linked again', linked(true));
  await until('the agent found its VM again', () => /1 running VM\(s\) found again/.test(agent.output));
  const s = await status('v1');
  assert.deepEqual([s.state, s.pid, s.startedAt], ['running', pid, startedAt]);
  assert.deepEqual(qemuPidsUnder(join(agentDir, 'runtime', 'v1')), [pid], 'one QEMU, the same');
  assert.doesNotMatch(agent.output, /vm v1: start/, 'the agent started nothing');
  // A second agent on the same data folder would adopt (and could kill) the same QEMUs: refused.
  const second = new AgentProc(ns, agentDir, []);
  assert.equal(await second.exited, 2);
  assert.match(second.output, /DATA_DIR_IN_USE: .*in use by ardesia agent \(pid \d+\)/);
  assert.deepEqual((await status('v1')).pid, pid);
});

test('the controller restarted: the agent reconnects and nothing restarts', async () => {
  await controller.kill('SIGTERM');
  await controller.spawn();
  await until('a1 linked to the new controller', linked(true));
  await until('the agent reconnected', () => (agent.output.match(/agent linked to/g) ?? []).length >= 2);
  const s = await status('v1');
  assert.deepEqual([s.state, s.pid, s.startedAt], ['running', pid, startedAt]);
  assert.deepEqual(qemuPidsUnder(join(agentDir, 'runtime', 'v1')), [pid]);
  assert.doesNotMatch(agent.output, /vm v1: start/);
  assert.deepEqual((await json<HostDetail>(['host', 'show', 'a1'])).vms, ['v1'], 'still desired running there: the new controller did not take it for dead');
});

test('vm stop reaches the agent: the guest powers off and the controller records why', async () => {
  const r = await cli(['vm', 'stop', '-w', 'v1']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /the guest powered off/, r.stderr);
  const s = await status('v1');
  assert.deepEqual([s.state, s.pid], ['stopped', null]);
  assert.match(s.lastStopReason ?? '', /the guest powered off/);
  // An adopted QEMU is init's child once its agent restarted: gone once init reaps it.
  await until('the QEMU gone', () => !existsSync(`/proc/${pid}`));
  assert.deepEqual((await json<HostDetail>(['host', 'show', 'a1'])).vms, []);
});

test('a QEMU that dies on the agent\'s host is recorded stopped with its reason, and is not started again by itself', async () => {
  assert.equal((await cli(['vm', 'start', 'v1'])).code, 0);
  const again = await status('v1');
  assert.equal(again.state, 'running');
  assert.notEqual(again.pid, pid, 'a new start is a new QEMU');
  const waiting = cli(['vm', 'wait', 'v1']);
  process.kill(again.pid!, 'SIGTERM');
  const waited = await waiting;
  assert.equal(waited.code, 0, waited.stderr);
  assert.match(waited.stdout, /vm v1 stopped: QEMU was killed by a signal/);
  const s = await until('the death reported', async () => {
    const v = await status('v1');
    return v.state === 'stopped' && v.lastStopReason ? v : undefined;
  });
  assert.match(s.lastStopReason!, /killed by a signal/);
  assert.deepEqual((await json<HostDetail>(['host', 'show', 'a1'])).vms, [], 'recorded stopped');
  assert.equal(agent.output.match(/vm v1: start/g)?.length, 1, 'one start on this agent: the death was not answered with another');
  assert.deepEqual(qemuPidsUnder(join(agentDir, 'runtime', 'v1')), []);
});

test("with the agent's link down, a start placed there is refused with the registry error, and nothing starts here", async () => {
  await agent.kill('SIGKILL');
  await until('a1 unlinked', linked(false));
  const r = await cli(['vm', 'start', 'v1']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /AGENT_NOT_LINKED|agent is not connected/);
  assert.match(r.stderr, /ardesia agent/, 'the hint says what to do');
  assert.equal((await status('v1')).state, 'stopped');
  assert.deepEqual(qemuPidsUnder(controller.dataDir), []);
  assert.deepEqual(qemuPidsUnder(agentDir), []);
});

test('a VM removed on the controller is forgotten on its host by the agent', async () => {
  agent = new AgentProc(ns, agentDir, []);
  await until('a1 linked again', linked(true));
  await controller.api().request('DELETE', '/v1/vms/v1');
  await until('the agent removed its definition', () => /vm v1: remove/.test(agent.output));
  assert.equal((await cli(['vm', 'status', 'v1'])).code === 0, false, 'gone on the controller');
});

/** One QEMU's life as /proc sees it (a zombie not yet reaped by its agent counts as gone). */
const qemuLives = (pid: number) => existsSync(`/proc/${pid}`) && !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));

test('an agent back after its VM was given away kills it before its first heartbeat: the controller never sees the host alive while it runs', async () => {
  assert.equal((await cli(['vm', 'start', 'v2'])).code, 0);
  const pid2 = (await status('v2')).pid!;
  assert.ok(pid2 > 0);
  const db = new pg.Client({ connectionString: dbUrl });
  await db.connect();
  try {
    // The agent frozen (its host cut off, or stalled): the controller closes the silent link.
    agent.proc.kill('SIGSTOP');
    await until('a1 unlinked', linked(false));
    // Meanwhile the cluster gave v2 away (as a restart on host loss does): recorded on another host, its report gone.
    await db.query(`update vms set host = 'ctl', desired = 'stopped', observed = null where name = 'v2'`);
    const beatBefore = (await db.query<{ heartbeat_at: string }>(`select heartbeat_at from hosts where name = 'a1'`)).rows[0]!.heartbeat_at;
    // Its QEMU held stopped for a moment: the agent's kill of it waits, which would show a heartbeat taken before it.
    process.kill(pid2, 'SIGSTOP');
    agent.proc.kill('SIGCONT');
    let qemuResumed = false;
    let violation: string | undefined;
    const seen = await until('a1 heartbeating again', async () => {
      const row = (await db.query<{ heartbeat_at: string; agent_linked_at: string | null }>(`select heartbeat_at, agent_linked_at from hosts where name = 'a1'`)).rows[0]!;
      // Read after the row: a heartbeat newer than the freeze while v2's QEMU still lives breaks "rejoin empty".
      const lives = qemuLives(pid2);
      if (row.heartbeat_at !== beatBefore && lives) violation ??= `host a1 heartbeat at ${row.heartbeat_at} while the QEMU of v2 given away still ran (pid ${pid2})`;
      if (row.agent_linked_at !== null && !qemuResumed) {
        qemuResumed = true;
        setTimeout(() => process.kill(pid2, 'SIGCONT'), 2_000).unref();
      }
      return row.heartbeat_at !== beatBefore ? row : undefined;
    }, 60_000, 50).catch((err: Error) => assert.fail(`${err.message}; the agent said:\n${agent.output.slice(-3000)}`));
    assert.equal(violation, undefined);
    assert.ok(seen.agent_linked_at !== null);
    assert.equal(qemuLives(pid2), false, 'v2 killed on a1');
    const killAt = agent.output.indexOf('vm v2: kill');
    assert.ok(killAt >= 0, 'the agent killed v2');
    assert.ok(agent.output.indexOf('agent ready', killAt) > killAt, 'ready only after the kill');
    await until('a1 up again', async () => (await json<HostView[]>(['host', 'list'])).find((h) => h.name === 'a1' && h.state === 'up'));
    assert.deepEqual((await json<HostDetail>(['host', 'show', 'a1'])).vms, []);
    assert.deepEqual(qemuPidsUnder(join(agentDir, 'runtime', 'v2')), []);
  } finally {
    try {
      process.kill(pid2, 'SIGCONT');
    } catch {
      // gone
    }
    await db.end();
  }
});

test('host evict: the host drained and its VMs stopped through its agent, by force once the grace is over', async () => {
  assert.equal((await cli(['vm', 'start', 'v2'])).code, 0);
  const pid = (await status('v2')).pid!;
  assert.deepEqual((await json<HostDetail>(['host', 'show', 'a1'])).vms, ['v2']);
  // No grace: the power button is pressed, and the force follows at once (the guest has no time to power off).
  const r = await json<HostEviction>(['host', 'evict', 'a1', '--grace', '0']);
  assert.deepEqual([r.host, r.graceSeconds, r.vms.map((v) => [v.name, v.outcome])], ['a1', 0, [['v2', 'forced']]]);
  assert.equal((await status('v2')).state, 'stopped');
  await until('the QEMU of v2 gone', () => !qemuLives(pid));
  const a1 = await json<HostDetail>(['host', 'show', 'a1']);
  assert.deepEqual([a1.state, a1.vms], ['maintenance', []], 'drained, and with nothing left, in maintenance');
  const audit = await controller.api().request<AuditEntry[]>('GET', '/v1/audit?action=host.evict');
  assert.deepEqual(audit.map((e) => [e.target, (e.detail as HostEviction).vms.map((v) => v.outcome)]), [['a1', ['forced']]]);
  // The CLI's own words, and nothing is placed there now.
  const again = await cli(['host', 'evict', 'a1']);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /^ardesia: host a1 drained; 0 VM\(s\):$/m);
  const refused = await cli(['vm', 'start', 'v2']);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /a1 is maintenance/);
  assert.equal((await cli(['host', 'evict', 'ctl'])).code === 0, false, "the controller's own host is drained, not evicted");
});

test('ardesia agent --fence-after: with no controller that long, the agent stops its VMs by itself, and the controller records why once back', async () => {
  assert.equal((await cli(['host', 'undrain', 'a1'])).code, 0);
  await agent.kill('SIGKILL');
  await until('a1 unlinked', linked(false));
  agent = new AgentProc(ns, agentDir, ['--fence-after', '3']);
  await until('a1 linked again', linked(true));
  assert.equal((await cli(['vm', 'start', 'v2'])).code, 0);
  const pid = (await status('v2')).pid!;
  await controller.kill('SIGTERM');
  await until('the agent stopped v2 by itself', () => !qemuLives(pid), 60_000);
  // Its log line is written before the kill, but may still wait in the pipe when /proc says QEMU is gone.
  await until('the agent says why', () => /no controller for 3 s: the agent stops every VM of its host \(--fence-after\)/.test(agent.output) || undefined, 10_000, 100);
  await controller.spawn();
  const s = await until('v2 recorded stopped with the reason', async () => {
    const v = await status('v2');
    return v.state === 'stopped' && v.lastStopReason ? v : undefined;
  });
  assert.equal(s.lastStopReason, "stopped by its host's agent: no controller for 3 s (ardesia agent --fence-after)");
  assert.equal(agent.output.match(/vm v2: start/g)?.length, 1, 'not started again when the controller came back');
  assert.deepEqual((await json<HostDetail>(['host', 'show', 'a1'])).vms, []);
});

/** A console through the controller, opened, its output gathered; `type` sends a line and waits for `want` after it. */
async function shell(vm: string): Promise<{ type(line: string, want: RegExp): Promise<void>; close(): void }> {
  const ws = consoleSocket(vm, controller.api().endpoint.token);
  const seen = { text: '' };
  ws.on('message', (d: Buffer) => (seen.text += d.toString('latin1')));
  await new Promise<void>((resolve, reject) => (ws.once('open', () => resolve()), ws.once('error', reject)));
  return {
    async type(line, want) {
      const from = seen.text.length;
      ws.send(`${line}\n`);
      await consoleUntil(ws, want, { get text() { return seen.text.slice(from); } });
    },
    close: () => ws.close(),
  };
}

test("drain: a running VM moves live to another agent's host (the same guest, its shell's variable kept), and the drained host ends in maintenance", { timeout: 300_000 }, async () => {
  const disk = join(shared, 'v3.qcow2');
  assert.equal((await cli(['vm', 'create', '-b', g.amd64.rootQcow2, disk])).code, 0);
  const conf = join(shared, 'v3.conf');
  writeFileSync(conf, `vm "v3" {\n memory 160M\n boot "${g.amd64.kernel}"\n initrd "${g.amd64.initrd}"\n cmdline "console=ttyS0 root=/dev/vda rw quiet"\n disk "${disk}"\n disable\n}\n`);
  assert.equal((await cli(['vm', 'load', conf])).code, 0);
  assert.equal((await cli(['vm', 'start', 'v3'])).code, 0);
  assert.deepEqual((await json<HostDetail>(['host', 'show', 'a1'])).vms, ['v3']);
  const before = await status('v3');
  await until("v3's shell", () => existsSync(join(agentDir, 'logs', 'v3', 'console.log')) && readFileSync(join(agentDir, 'logs', 'v3', 'console.log'), 'latin1').includes(g.amd64.banner), 120_000);
  const first = await shell('v3');
  await first.type('', /ardesia:\/# /);
  await first.type('MARK=moved-$((6*7)); echo set-$MARK', /set-moved-42/);
  first.close();
  // No other agent's host yet: the drain leaves it running there and says why.
  assert.equal((await cli(['host', 'drain', 'a1'])).code, 0);
  await until('the drain says v3 stays', () => /drain of host a1: vm v3 stays there: /.test(controller.output));
  assert.deepEqual([(await status('v3')).pid, (await json<HostDetail>(['host', 'show', 'a1'])).vms], [before.pid, ['v3']]);
  assert.equal((await cli(['host', 'undrain', 'a1'])).code, 0);
  // A second agent's host, to go to.
  const ns2 = await lab.addHost('a2', `${NET}.3/24`);
  const token = (await json<{ token: string }>(['host', 'add', 'a2'])).token;
  agent2Dir = tempDir();
  agent2 = new AgentProc(ns2, agent2Dir, ['--controller', CONTROLLER, '--join', token]);
  await until('a2 linked', async () => (await json<HostView[]>(['host', 'list'])).find((h) => h.name === 'a2' && h.agent?.ready && h.state === 'up'));
  // The source's agent dies with the state half sent: the VM runs on at the source (its QEMU outlives the agent), the
  // destination keeps nothing, and the drain says so.
  await agent.kill('SIGKILL');
  await until('a1 unlinked', linked(false));
  agent = new AgentProc(ns, agentDir, [], { ...process.env, ARDESIA_FAILPOINTS: 'migrate-out-sending' });
  await until('a1 linked with the failpoint', linked(true));
  const drainsBefore = controller.output.match(/drain of host a1: vm v3 stays there/g)?.length ?? 0;
  assert.equal((await cli(['host', 'drain', 'a1'])).code, 0);
  const said = await until('the failed migration said', () => controller.output.match(/drain of host a1: vm v3 stays there: [^"]*/g)?.[drainsBefore], 120_000);
  assert.ok(agent.proc.exitCode !== null || agent.proc.signalCode !== null, `a1's agent died at the failpoint (the drain said: ${said}; the agent: ${agent.output.slice(-3000)})`);
  assert.ok(qemuLives(before.pid!), "v3's QEMU on a1 runs on");
  await until("a2's arriving QEMU gone", () => qemuPidsUnder(join(agent2Dir!, 'runtime', 'v3')).length === 0);
  agent = new AgentProc(ns, agentDir, []);
  await until('a1 linked again', linked(true));
  const still = await shell('v3');
  await still.type('echo still-$MARK', /still-moved-42/);
  still.close();
  assert.equal((await status('v3')).pid, before.pid, 'the same QEMU, on a1');
  // Again, with nothing in the way.
  assert.equal((await cli(['host', 'drain', 'a1'])).code, 0);
  const moved = await until('v3 running on a2', async () => {
    const a2 = await json<HostDetail>(['host', 'show', 'a2']);
    const v = await status('v3');
    return a2.vms.includes('v3') && v.state === 'running' ? v : undefined;
  }, 180_000).catch((err: Error) => {
    throw new Error(`${err.message}; the controller said: ${controller.output.match(/"msg":"[^"]*v3[^"]*"/g)?.slice(-8).join('\n')}; a2's agent: ${agent2!.output.match(/"msg":"[^"]*"/g)?.slice(-10).join('\n')}`);
  });
  const pids2 = qemuPidsUnder(join(agent2Dir, 'runtime', 'v3'));
  assert.deepEqual(pids2, [moved.pid], "the QEMU is a2's agent's now");
  assert.equal(parentOf(moved.pid!), agent2.proc.pid);
  await until("a1's QEMU of v3 gone", () => !qemuLives(before.pid!));
  assert.deepEqual(qemuPidsUnder(join(agentDir, 'runtime', 'v3')), []);
  const figures = /vm v3 migrated to host a2 in (\d+) ms \((\d+) bytes, the guest stopped (\d+) ms\)/.exec(agent.output);
  assert.ok(figures, 'the source says how long, how much, and how long the guest was stopped');
  console.log(`migration figures: 160 MiB guest, ${figures[1]} ms, ${(Number(figures[2]) / 2 ** 20).toFixed(1)} MiB sent, downtime ${figures[3]} ms`);
  assert.match(agent2.output, /vm v3 arrived by live migration/);
  // The same guest, never rebooted: the variable set before the move is still in its shell.
  const after = await shell('v3');
  await after.type('echo got-$MARK', /got-moved-42/);
  after.close();
  assert.doesNotMatch(readFileSync(join(agent2Dir, 'logs', 'v3', 'console.log'), 'latin1'), new RegExp(g.amd64.banner.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), 'no boot on a2');
  const a1 = await until('a1 in maintenance', async () => {
    const h = await json<HostDetail>(['host', 'show', 'a1']);
    return h.state === 'maintenance' ? h : undefined;
  });
  assert.deepEqual(a1.vms, []);
  const audit = await controller.api().request<AuditEntry[]>('GET', '/v1/audit?action=vm.migrate');
  assert.deepEqual(audit.map((e) => [e.target, (e.detail as { from: string; to: string }).from, (e.detail as { to: string }).to]), [['v3', 'a1', 'a2']]);
  // Not started again on a1 by its agent's next passes, nor by a restart of its agent.
  await agent.kill('SIGKILL');
  agent = new AgentProc(ns, agentDir, []);
  await until('a1 linked again', linked(true));
  assert.deepEqual(qemuPidsUnder(join(agentDir, 'runtime', 'v3')), []);
  assert.equal((await status('v3')).pid, moved.pid);
  // By hand, back to a1 once it takes VMs again: refused while it is in maintenance, to a host it is on, to no host.
  const refused = await cli(['vm', 'migrate', 'v3', '--to', 'a1']);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /a1 is maintenance/);
  assert.match((await cli(['vm', 'migrate', 'v3', '--to', 'a2'])).stderr, /already runs on host a2/);
  assert.match((await cli(['vm', 'migrate', 'v3', '--to', 'nosuch'])).stderr, /nosuch/);
  assert.equal((await cli(['host', 'undrain', 'a1'])).code, 0);
  const back = await cli(['vm', 'migrate', 'v3', '--to', 'a1']);
  assert.equal(back.code, 0, back.stderr);
  assert.match(back.stdout, /^ardesia: vm v3 moved from host a2 to host a1 in \d+\.\d s, running throughout$/m);
  // Once more, through the API: its reply as the OpenAPI document and the route's own schema say.
  const api = controller.api();
  const doc = await api.request<OpenApiDoc>('GET', '/v1/openapi.json');
  const reply = await api.request<VmMigrationView>('POST', '/v1/vms/v3/migrate', { host: 'a2' });
  const schema = doc.paths['/v1/vms/{name}/migrate']?.post?.responses['200']?.content?.['application/json']?.schema;
  assert.ok(schema, 'POST /v1/vms/:name/migrate is documented');
  assert.deepEqual(schemaProblems(schema, reply), []);
  assert.ok(hostRoutes.find((r) => r.method === 'POST' && r.url === '/v1/vms/:name/migrate')!.response!.safeParse(reply).success);
  assert.deepEqual([reply.vm, reply.from, reply.to], ['v3', 'a1', 'a2']);
  assert.equal((await cli(['vm', 'migrate', 'v3'])).code, 0, 'and back, where placement puts it (a1: a2 is where it is)');
  const home = await status('v3');
  assert.deepEqual(qemuPidsUnder(join(agentDir, 'runtime', 'v3')), [home.pid]);
  await until("a2's QEMU of v3 gone", () => !qemuLives(moved.pid!));
  const last = await shell('v3');
  await last.type('echo back-$MARK', /back-moved-42/);
  last.close();
});

test("power fencing (serve --fence-config): a host gone silent without a storage lease to judge by is powered off through its fence device, then down, and its VM recorded lost", { timeout: 300_000 }, async () => {
  assert.equal((await cli(['vm', 'migrate', 'v3', '--to', 'a2'])).code, 0);
  const pid = (await status('v3')).pid!;
  // Its management link goes: without home leases nothing else can tell a dead host from a cut-off one.
  await lab.exec(lab.ns('a2'), 'ip', ['link', 'set', 'eth0', 'down']);
  await until('a2 suspect', async () => (await json<HostView[]>(['host', 'list'])).find((h) => h.name === 'a2')?.state === 'suspect', 120_000);
  const down = await until('a2 down by its fence', async () => {
    const a2 = (await json<HostView[]>(['host', 'list'])).find((h) => h.name === 'a2');
    return a2?.state === 'down' ? a2 : undefined;
  }, 120_000);
  assert.match(down.stateReason ?? '', /its fence device confirmed it powered off: nothing of it runs/);
  assert.ok(!existsSync(`/proc/${pid}`), "the device's power-off ended a2's QEMU");
  const audit = await controller.api().request<AuditEntry[]>('GET', '/v1/audit?action=host.fence');
  assert.deepEqual(audit.map((e) => [e.target, (e.detail as { outcome: string }).outcome]), [['a2', 'off']]);
  const v3 = await until('v3 recorded lost', async () => {
    const s = await status('v3');
    return s.state === 'stopped' && s.lastStopReason ? s : undefined;
  });
  assert.match(v3.lastStopReason ?? '', /host a2 is down/);
});
