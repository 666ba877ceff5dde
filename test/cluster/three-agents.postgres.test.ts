// A controller and three agents, each host in its own network namespace, on one real PostgreSQL, the data folder a
// directory every host sees: a boot pool's warm spares spread over the three agents' hosts by placement, and a
// user's desktop on the third host opened in Chromium through the controller (the page talks to the controller only;
// the display comes through the third host's agent, which listens on nothing); a restore pool's clones on an agent's host.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { HostView } from '../../src/contract/hosts.js';
import type { DesktopView } from '../../src/contract/pools.js';
import { AgentProc } from '../helpers/agent-proc.js';
import { killRuntimeQemus, qemuPidsUnder, TestDaemon, until } from '../helpers/daemon.js';
import { freshDatabaseForNamespaces } from '../helpers/postgres.js';
import { NetLab } from '../netboot/lab.js';
import { tcpListening } from '../helpers/netns.js';
import { helperImage, PASSWORD, poolShow, untilDesktops, userClient } from '../pools/support.js';
import { browserLaunch, CHROMIUM, login, pageOpen } from '../web/browser.js';

const NET = '10.251.14';
const CONTROLLER = `https://${NET}.1:8443`;
const AGENTS = ['a1', 'a2', 'a3'];

let lab: NetLab;
let ctlNs: string;
const agentNs = new Map<string, string>();
const agents = new Map<string, AgentProc>();
let controller: TestDaemon;
const dirs: string[] = [];

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'ard-3a-'));
  dirs.push(d);
  return d;
}

const RAM_UNLOADABLE = 'agent-template-ram-unloadable';
let failpoints: string;

/** The QEMU build a2 says it runs: another than the controller's, as on a host upgraded before the others. */
const A2_QEMU_VERSION = '7.2.99 (an upgraded build)';
let a2Path: string;

/** a3 without the native display hop: its displays go as WebSocket streams its agent dials (the other path); and with a
 *  failpoint a test switches on: a template's RAM that cannot be held there. a2 finds first on its PATH a
 *  qemu-system-x86_64 that says it is another build (and runs Debian's). */
function agentEnv(name: string): NodeJS.ProcessEnv | undefined {
  if (name === 'a2') return { ...process.env, PATH: `${a2Path}:${process.env.PATH ?? '/usr/bin:/bin'}` };
  return name === 'a3' ? { ...process.env, ARDESIA_DISPLAY_HOP: 'off', ARDESIA_FAILPOINTS: RAM_UNLOADABLE, ARDESIA_FAILPOINT_DIR: failpoints } : undefined;
}

before(async () => {
  failpoints = tempDir();
  a2Path = tempDir();
  chmodSync(a2Path, 0o755); // QEMU's own account runs it
  const debianQemu = execFileSync('sh', ['-c', 'command -v qemu-system-x86_64'], { encoding: 'utf8' }).trim();
  writeFileSync(join(a2Path, 'qemu-system-x86_64'), `#!/bin/sh\n[ "$1" = --version ] && { echo "QEMU emulator version ${A2_QEMU_VERSION}"; exit 0; }\nexec ${debianQemu} "$@"\n`, { mode: 0o755 });
  lab = await NetLab.create('3a');
  ctlNs = await lab.addHost('ctl', `${NET}.1/24`);
  const db = await freshDatabaseForNamespaces();
  const root = tempDir();
  chmodSync(root, 0o711); // QEMU's account passes through to the data folder
  const dataDir = join(root, 'data');
  mkdirSync(dataDir);
  controller = new TestDaemon(dataDir, ['--listen', `${NET}.1:8443`, '--host-name', 'ctl', '--database', db.viaSocket], ctlNs);
  await controller.spawn();
  await helperImage(controller, 'bb');
  await userClient(controller, 'alice');
  for (const [i, name] of AGENTS.entries()) {
    const ns = await lab.addHost(name, `${NET}.${i + 2}/24`);
    agentNs.set(name, ns);
    const added = await controller.cli(['--json', 'host', 'add', name]);
    assert.equal(added.code, 0, added.stderr);
    const { token } = JSON.parse(added.stdout) as { token: string };
    // a3 without the native display hop: its displays go as WebSocket streams its agent dials (the other path).
    agents.set(name, new AgentProc(ns, tempDir(), ['--controller', CONTROLLER, '--join', token], agentEnv(name)));
  }
  await until('three agents linked and up', async () => {
    const hosts = await controller.api().request<HostView[]>('GET', '/v1/hosts');
    return AGENTS.every((name) => hosts.some((h) => h.name === name && h.agent?.ready === true && h.state === 'up')) || undefined;
  }, 120_000, 500);
  // The controller's own host takes nothing: the pools live on the agents' hosts.
  assert.equal((await controller.cli(['host', 'drain', 'ctl'])).code, 0);
});

after(async () => {
  for (const agent of agents.values()) {
    await agent.kill();
    killRuntimeQemus(agent.dataDir);
  }
  await controller?.destroy().catch(() => undefined);
  await lab?.destroy();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test("a boot pool's three warm spares are spread over the three agents' hosts, one on each, each under its host's agent", async () => {
  await controller.api().request('POST', '/v1/pools', { name: 'spread', image: 'bb', startMode: 'boot', warmSpares: 3, maxDesktops: 3, memoryMiB: 128, entitled: { users: [] } });
  const ready = await untilDesktops(controller, 'spread', 'three ready spares', (ds) => ds.filter((d) => d.state === 'ready').length === 3, 300_000);
  assert.deepEqual(ready.map((d) => d.host).sort(), AGENTS, JSON.stringify(ready));
  for (const d of ready) assert.equal(qemuPidsUnder(join(agents.get(d.host!)!.dataDir, 'runtime', d.name)).length, 1, `${d.name}'s QEMU runs under ${d.host}'s agent`);
  const hosts = await controller.api().request<HostView[]>('GET', '/v1/hosts');
  for (const name of AGENTS) assert.equal(hosts.find((h) => h.name === name)?.used.spares, 1, `host ${name} counts its spare`);
});

test("a user's desktop on the third host, opened in Chromium through the controller: the display comes through that host's agent", { timeout: 420_000 }, async () => {
  await controller.api().request('PUT', '/v1/hosts/a3/labels', { labels: ['blade3'] });
  await controller.api().request('POST', '/v1/pools', { name: 'third', image: 'bb', startMode: 'boot', warmSpares: 1, maxDesktops: 1, memoryMiB: 128, hostLabels: { require: ['blade3'], avoid: [] }, entitled: { users: ['alice'] } });
  const [spare] = await untilDesktops(controller, 'third', 'a ready spare on a3', (ds) => ds.some((d) => d.state === 'ready' && d.host === 'a3'), 300_000);
  const a3 = agentNs.get('a3')!;
  const before = await tcpListening(a3);
  const wrapper = join(tempDir(), 'chromium-in-ctl');
  writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${ctlNs} ${CHROMIUM} "$@"\n`, { mode: 0o755 });
  const browser = await browserLaunch(wrapper);
  try {
    const { page, errors } = await pageOpen(browser, { ignoreHTTPSErrors: true });
    const reached = new Set<string>();
    page.on('request', (r) => void reached.add(new URL(r.url()).host));
    page.on('websocket', (ws) => void reached.add(new URL(ws.url()).host));
    await login(page, `${CONTROLLER}/`, 'alice', PASSWORD);
    await page.getByRole('button', { name: 'Open third' }).click();
    await page.locator('[data-status="connected"]').waitFor({ timeout: 120_000 });
    assert.match((await page.locator('[data-status="connected"]').textContent()) ?? '', new RegExp(`^${spare!.name}: Connected`));
    const [inUse] = await untilDesktops(controller, 'third', 'her session', (ds) => ds.some((d: DesktopView) => d.user === 'alice' && d.state === 'in-use'));
    assert.equal(inUse!.host, 'a3');
    await until("a3's agent carries the display", () => /display stream of vm \S+ opened/.test(agents.get('a3')!.output) || undefined, 30_000, 200);
    assert.match(agents.get('a3')!.output, new RegExp(`display stream of vm ${spare!.name} opened`));
    for (const other of ['a1', 'a2']) assert.doesNotMatch(agents.get(other)!.output, /display stream of vm/, `${other} carries none`);
    assert.deepEqual(await tcpListening(a3), before, 'nothing listens on the third host for it');
    // The page reached the controller only, its display's WebSocket included.
    assert.deepEqual([...reached], [`${NET}.1:8443`]);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test("a restore pool's clones restore on an agent's host from the template the controller's host built: its RAM loaded there once from the shared folder, let go when no clone wants it; a clone whose template cannot load there boots and the template is rebuilt", { timeout: 600_000 }, async () => {
  // The template is built on the controller's host (its RAM a memfd there); the clones must go to a3.
  assert.equal((await controller.cli(['host', 'undrain', 'ctl'])).code, 0);
  const templateReady = () => until('the template ready', async () => {
    const p = await poolShow(controller, 'clones');
    assert.notEqual(p.template?.state, 'failed', `the template failed: ${p.template?.reason}`);
    return p.template?.state === 'ready' ? p.template.key! : undefined;
  }, 300_000, 500);
  const a3 = agents.get('a3')!;
  try {
    await controller.api().request('PUT', '/v1/hosts/a3/labels', { labels: ['blade3'] });
    await controller.api().request('POST', '/v1/pools', { name: 'clones', image: 'bb', startMode: 'restore', warmSpares: 0, maxDesktops: 3, memoryMiB: 128, hostLabels: { require: ['blade3'], avoid: [] }, entitled: { users: [] } });
    const key = await templateReady();
    // The first clone's template RAM cannot be held on a3: the agent says so with its code, and the pool does as on the
    // controller's host: that desktop boots and the template is rebuilt.
    writeFileSync(join(failpoints, `${RAM_UNLOADABLE}.on`), '');
    await controller.api().request('PATCH', '/v1/pools/clones', { warmSpares: 1 });
    const [booted] = await untilDesktops(controller, 'clones', 'a booted spare on a3', (ds) => ds.length === 1 && ds[0]!.state === 'ready', 300_000);
    assert.equal(booted!.host, 'a3');
    assert.doesNotMatch(a3.output, new RegExp(`vm ${booted!.name} restored from template`));
    assert.match(controller.output, /a restore failed \([^)]*did not start on host a3: start failed: template [0-9a-f]+: its RAM could not be held on this host/);
    rmSync(join(failpoints, `${RAM_UNLOADABLE}.on`));
    assert.equal(await templateReady(), key, 'rebuilt under the same key');
    await controller.api().request('PATCH', '/v1/pools/clones', { warmSpares: 3 });
    const ready = await untilDesktops(controller, 'clones', 'two more spares on a3', (ds) => ds.length === 3 && ds.every((d) => d.state === 'ready'), 300_000);
    const clones = ready.filter((d) => d.name !== booted!.name);
    for (const d of clones) {
      assert.equal(d.host, 'a3', JSON.stringify(d));
      assert.match(a3.output, new RegExp(`vm ${d.name} restored from template ${key}`), `${d.name} was restored on a3, not booted`);
      // Its QEMU maps a memfd of a3's own (the controller's is another host's), privately.
      const [pid] = qemuPidsUnder(join(a3.dataDir, 'runtime', d.name));
      assert.ok(pid, `${d.name}'s QEMU runs under a3's agent`);
      assert.match(readFileSync(`/proc/${pid}/maps`, 'utf8'), /\/memfd:ardesia-template-ram/, `${d.name} maps the template's RAM`);
    }
    assert.equal(a3.output.split(`template ${key}: its RAM is held on this host`).length - 1, 1, 'ram.bin was loaded once on a3 for both clones');
    // The restore's time as a3's agent reported it, shown with the pool's template.
    assert.equal(typeof (await poolShow(controller, 'clones')).template!.lastRestoreMs, 'number');
    // a3's agent restarted: it finds the clones again (their QEMUs keep the RAM they map).
    await a3.kill();
    const again = new AgentProc(agentNs.get('a3')!, a3.dataDir, [], agentEnv('a3'));
    agents.set('a3', again);
    // The new agent's own word first: the controller may not have seen the old link close yet.
    await until('the new agent of a3 ready', () => again.output.includes('agent ready: its host is as the controller wants') || undefined, 120_000, 200);
    await until('a3 back and ready', async () => ((await controller.api().request<HostView[]>('GET', '/v1/hosts')).find((h) => h.name === 'a3')?.agent?.ready === true) || undefined, 120_000, 500);
    assert.match(again.output, /\d+ running VM\(s\) found again/);
    // The new agent holds again the template RAM its running clones map (not ram.bin loaded a second time) for its first
    // clone, and lets it go once no clone is wanted.
    await controller.api().request('PATCH', '/v1/pools/clones', { maxDesktops: 4, warmSpares: 4 });
    const fourth = await untilDesktops(controller, 'clones', 'a fourth spare', (ds) => ds.length === 4 && ds.every((d) => d.state === 'ready'), 300_000);
    const added = fourth.find((d) => !ready.some((r) => r.name === d.name))!;
    assert.match(again.output, new RegExp(`vm ${added.name} restored from template ${key}`));
    assert.match(again.output, new RegExp(`template ${key}: its RAM is held on this host \\(held again from a running clone's QEMU, pid \\d+\\)`));
    const ramInode = (vm: string) => / (\d+) +\/memfd:ardesia-template-ram/.exec(readFileSync(`/proc/${qemuPidsUnder(join(a3.dataDir, 'runtime', vm))[0]}/maps`, 'utf8'))?.[1];
    assert.equal(ramInode(added.name), ramInode(clones[0]!.name), 'the new clone maps the memfd the clone from before the restart maps');
    await controller.api().request('DELETE', '/v1/pools/clones');
    await until("a3 lets the template's RAM go", () => /template RAM \S+ram\.bin: no VM here wants it, it is let go/.test(agents.get('a3')!.output) || undefined, 60_000, 200);
  } finally {
    rmSync(join(failpoints, `${RAM_UNLOADABLE}.on`), { force: true });
    assert.equal((await controller.cli(['host', 'drain', 'ctl'])).code, 0);
  }
});

test("a restore pool's clone placed on a host whose QEMU is another build than the template's boots there; the template is kept, not rebuilt", { timeout: 600_000 }, async () => {
  // The template is built on the controller's host; the pool may only use a2, whose QEMU says it is another build.
  assert.equal((await controller.cli(['host', 'undrain', 'ctl'])).code, 0);
  try {
    await controller.api().request('PUT', '/v1/hosts/a2/labels', { labels: ['blade2'] });
    await controller.api().request('POST', '/v1/pools', { name: 'unfit', image: 'bb', startMode: 'restore', warmSpares: 0, maxDesktops: 1, memoryMiB: 128, hostLabels: { require: ['blade2'], avoid: [] }, entitled: { users: [] } });
    const key = await until('the template ready', async () => {
      const p = await poolShow(controller, 'unfit');
      assert.notEqual(p.template?.state, 'failed', `the template failed: ${p.template?.reason}`);
      return p.template?.state === 'ready' ? p.template.key! : undefined;
    }, 300_000, 500);
    const hosts = await controller.api().request<HostView[]>('GET', '/v1/hosts');
    assert.equal(hosts.find((h) => h.name === 'a2')?.agent?.qemuVersion, A2_QEMU_VERSION);
    // The hosts' list flags a2 against the controller's own QEMU (its host check), and only a2.
    const ownQemu = hosts.find((h) => h.controller)!.qemu!.version!;
    assert.deepEqual(hosts.map((h) => [h.name, h.qemuMismatch !== null]).sort(), [['a1', false], ['a2', true], ['a3', false], ['ctl', false]]);
    const shown = await controller.cli(['host', 'show', 'a2']);
    assert.ok(shown.stdout.includes(`  QEMU     differs from the controller's host: it runs QEMU ${A2_QEMU_VERSION} (the controller's: ${ownQemu}): restore templates cannot load here`), shown.stdout);
    assert.match((await controller.cli(['host', 'list'])).stdout, /^a2 .*, QEMU differs/m);
    await controller.api().request('PATCH', '/v1/pools/unfit', { warmSpares: 1 });
    const [spare] = await untilDesktops(controller, 'unfit', 'a booted spare on a2', (ds) => ds.length === 1 && ds[0]!.state === 'ready', 300_000);
    assert.equal(spare!.host, 'a2');
    assert.match(controller.output, new RegExp(`desktop ${spare!.name}: ${spare!.name} was placed on host a2, where restore template ${key} cannot load: host a2 runs QEMU 7\\.2\\.99 \\(an upgraded build\\) \\(the template's: [^)]+\\)\\); it boots afresh there, the template is kept`));
    // Nothing was sent to a2 as a clone: it booted the VM, from a fresh clone of the gold version.
    assert.doesNotMatch(agents.get('a2')!.output, new RegExp(`vm ${spare!.name} restored from template`));
    assert.equal(qemuPidsUnder(join(agents.get('a2')!.dataDir, 'runtime', spare!.name)).length, 1, `${spare!.name}'s QEMU runs under a2's agent`);
    const pool = await poolShow(controller, 'unfit');
    assert.equal(pool.template?.state, 'ready');
    assert.equal(pool.template?.key, key);
    assert.doesNotMatch(controller.output, /pool unfit: template building: a restore failed/);
    await controller.api().request('DELETE', '/v1/pools/unfit');
  } finally {
    assert.equal((await controller.cli(['host', 'drain', 'ctl'])).code, 0);
  }
});
