// A host without shared storage: a real controller (PostgreSQL, HTTPS) and a real `ardesia agent --storage local` in
// network namespaces the test creates, the agent in a mount namespace of its own where the controller's data folder is an
// empty tmpfs (it cannot read images/, desktops/ or homes/). A pool with home volumes refuses that host and says why; a
// pool with scratch homes runs there: the image version and the image's kernel and initrd are copied over the agent's
// link (the agent killed mid-copy goes on from the bytes it holds once restarted), sha256-checked, the desktop's disks made on the
// host; a user's session writes to the scratch home, which is gone after logoff (the desktop reset); the copies stay
// while a desktop there rests on them and are removed once none does. Outcomes, never timing.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { ApiClient } from '../../src/cli/client.js';
import type { HostView } from '../../src/contract/hosts.js';
import type { DesktopView, PoolView, SessionInfo } from '../../src/contract/pools.js';
import { AgentProc } from '../helpers/agent-proc.js';
import { killRuntimeQemus, qemuPidsUnder, runCli, TestDaemon, until } from '../helpers/daemon.js';
import { freshDatabaseForNamespaces } from '../helpers/postgres.js';
import { cliJson, typeAndExpect } from '../images/support.js';
import { NetLab } from '../netboot/lab.js';
import { helperImage, poolShow, untilDesktops, userClient } from '../pools/support.js';

const NET = '10.251.17';
const CONTROLLER = `https://${NET}.1:8443`;
const HOST = 'l1';

let lab: NetLab;
let controller: TestDaemon;
let agent: AgentProc;
let agentDir: string;
let agentNs: string;
let alice: ApiClient;
const dirs: string[] = [];

const cli = (args: string[]) => runCli(controller.dataDir, args);
const json = <T>(args: string[]) => cliJson<T>(controller, args);
function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}
const copyOf = (path: string) => join(agentDir, 'image-copies', path);
const copiesOnHost = () => filesUnder(join(agentDir, 'image-copies'));
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true, recursive: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

before(async () => {
  lab = await NetLab.create('ls');
  const ctlNs = await lab.addHost('ctl', `${NET}.1/24`);
  const ns = await lab.addHost(HOST, `${NET}.2/24`);
  const db = await freshDatabaseForNamespaces();
  const top = tempDir('ard-ls-');
  chmodSync(top, 0o711); // QEMU's account passes through to the data folder on the controller's own host
  const dataDir = join(top, 'data');
  mkdirSync(dataDir);
  controller = new TestDaemon(dataDir, ['--host-name', 'ctl', '--database', db.viaSocket, '--listen', `${NET}.1:8443`], ctlNs);
  await controller.spawn();
  await helperImage(controller, 'bb');
  alice = await userClient(controller, 'alice');
  agentDir = tempDir('ard-ls-agent-');
  agentNs = ns;
  const { token } = await json<{ token: string }>(['host', 'add', HOST]);
  // Killed (SIGKILL) once the first bytes of its first copy are on its disk: the test restarts it.
  agent = new AgentProc(ns, agentDir, ['--controller', CONTROLLER, '--join', token, '--storage', 'local'], { ...process.env, ARDESIA_FAILPOINTS: 'image-copy-written' }, dataDir);
  await until(`${HOST} linked`, async () => ((await json<HostView[]>(['host', 'list'])).find((h) => h.name === HOST)?.agent?.ready ? true : undefined), 120_000, 500);
  // The controller's own host takes nothing: every desktop goes to the host without shared storage.
  assert.equal((await cli(['host', 'drain', 'ctl'])).code, 0);
});

after(async () => {
  if (process.env.ARDESIA_TEST_LOG) writeFileSync(process.env.ARDESIA_TEST_LOG, `${controller?.output ?? ''}\n--- ${HOST} ---\n${agent?.output ?? ''}`);
  await agent?.kill();
  if (agentDir) killRuntimeQemus(agentDir);
  await controller?.destroy().catch(() => undefined);
  await lab?.destroy();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('the host says it keeps its own storage, and its agent does not see the shared data folder', async () => {
  const host = (await json<HostView[]>(['host', 'list'])).find((h) => h.name === HOST)!;
  assert.equal(host.storage, 'local');
  assert.equal((await json<HostView[]>(['host', 'list'])).find((h) => h.name === 'ctl')!.storage, 'shared');
  const shown = await cli(['host', 'show', HOST]);
  assert.match(shown.stdout, /storage\s+its own \(agent --storage local\)/);
});

test('a pool with home volumes cannot place a desktop on a host without shared storage, and says why', async () => {
  await controller.api().request('POST', '/v1/pools', { name: 'kept', image: 'bb', startMode: 'boot', warmSpares: 1, maxDesktops: 1, memoryMiB: 192, entitled: { users: ['alice'] } });
  const pool = await until('the refusal', async () => ((await poolShow(controller, 'kept')).cannotPlace ?? undefined), 60_000, 500);
  assert.equal(pool.code, 'PLACEMENT_NO_SHARED_STORAGE');
  assert.match(pool.message, new RegExp(`${HOST} does not mount the shared data folder \\(agent --storage local\\), which pool kept's home volumes`));
  await controller.api().request('DELETE', '/v1/pools/kept');
});

test('a pool with scratch homes runs there: the image copied over the link (going on after the agent died mid-copy), the disks made on the host, the scratch home wiped at logoff', { timeout: 900_000 }, async () => {
  await controller.api().request('POST', '/v1/pools', { name: 'lab', image: 'bb', startMode: 'boot', home: 'scratch', homeSizeBytes: 64 * 2 ** 20, warmSpares: 1, maxDesktops: 1, memoryMiB: 192, entitled: { users: ['alice'] } });
  const version = join(controller.dataDir, 'images', 'bb', '1.qcow2');
  // Its first copy cut by the agent's death: what arrived stays, and the restarted agent goes on from there.
  await agent.exited;
  const cutAt = statSync(`${copyOf(version)}.part`).size;
  assert.ok(cutAt > 0, 'part of the version arrived before the agent died');
  agent = new AgentProc(agentNs, agentDir, ['--storage', 'local'], undefined, controller.dataDir);
  const ready = (await untilDesktops(controller, 'lab', 'a ready spare on the host', (ds) => ds.some((d) => d.state === 'ready' && d.host === HOST), 400_000))[0]!;
  assert.match(agent.output, new RegExp(`image file ${version} copied to host ${HOST} \\(\\d+ MiB, going on from byte ${cutAt}\\), sha256 checked`));
  assert.ok(existsSync(copyOf(version)) && !existsSync(`${copyOf(version)}.part`), 'the version is copied whole');
  const boot = readdirSync(join(controller.dataDir, 'images', 'bb', 'boot'));
  for (const file of boot) assert.ok(existsSync(copyOf(join(controller.dataDir, 'images', 'bb', 'boot', file))), `boot file ${file} copied`);
  assert.deepEqual(readdirSync(join(agentDir, 'local-disks', ready.name)).sort(), ['disk0.qcow2', 'disk1.qcow2']);
  assert.equal(qemuPidsUnder(join(agentDir, 'runtime', ready.name)).length, 1, 'its QEMU runs under the agent');

  const { desktop } = await alice.request<{ desktop: DesktopView; session: SessionInfo }>('POST', '/v1/pools/lab/connect', {});
  assert.equal(desktop.host, HOST);
  await untilDesktops(controller, 'lab', 'her session', (ds) => ds.some((d) => d.name === desktop.name && d.state === 'in-use'));
  const first = await typeAndExpect(controller, desktop.name, 'grep -c " /home/alice " /proc/mounts; echo mine > /home/alice/note.txt; cat /home/alice/note.txt; sync; echo w-$((40+2))', 'w-42');
  assert.match(first, /^1\r?$/m, `her scratch home is mounted: ${first}`);
  assert.match(first, /^mine\r?$/m);
  await alice.request('POST', `/v1/sessions/${desktop.name}/logoff`);
  await untilDesktops(controller, 'lab', 'the desktop reset and ready again', (ds) => ds.some((d) => d.state === 'ready' && d.user === null), 400_000);
  const { desktop: again } = await alice.request<{ desktop: DesktopView; session: SessionInfo }>('POST', '/v1/pools/lab/connect', {});
  await untilDesktops(controller, 'lab', 'her next session', (ds) => ds.some((d) => d.name === again.name && d.state === 'in-use'));
  const seen = await typeAndExpect(controller, again.name, 'ls /home/alice/note.txt 2>&1 | grep -c "No such"; echo w-$((40+3))', 'w-43');
  assert.match(seen, /^1\r?$/m, `the scratch home starts blank again: ${seen}`);
  // One copy served every start: the version was fetched once.
  assert.equal(agent.output.split(`image file ${version} copied to host`).length - 1, 1);
  await alice.request('POST', `/v1/sessions/${again.name}/logoff`);
});

test('the copies are removed once no desktop on the host rests on them', { timeout: 300_000 }, async () => {
  assert.ok(copiesOnHost().length >= 3, `copies: ${copiesOnHost().join(', ')}`);
  await untilDesktops(controller, 'lab', 'the session ended', (ds) => !ds.some((d) => d.user !== null), 400_000);
  await controller.api().request('DELETE', '/v1/pools/lab');
  await until('no pool desktop left', async () => ((await controller.api().request<PoolView[]>('GET', '/v1/pools')).length === 0 ? true : undefined), 240_000, 500);
  await until('the copies and made disks removed', () => (copiesOnHost().length === 0 && readdirSync(join(agentDir, 'local-disks')).length === 0 ? true : undefined), 120_000, 500);
});

test("a pool with scratch homes on a host with the shared folder: the blank home is made beside the desktop's system disk there", { timeout: 600_000 }, async () => {
  assert.equal((await cli(['host', 'drain', HOST])).code, 0);
  assert.equal((await cli(['host', 'undrain', 'ctl'])).code, 0);
  await controller.api().request('POST', '/v1/pools', { name: 'here', image: 'bb', startMode: 'boot', home: 'scratch', homeSizeBytes: 64 * 2 ** 20, warmSpares: 1, maxDesktops: 1, memoryMiB: 192, entitled: { users: ['alice'] } });
  const [spare] = await untilDesktops(controller, 'here', 'a ready spare on the controller', (ds) => ds.some((d) => d.state === 'ready' && d.host === 'ctl'), 400_000);
  assert.ok(existsSync(join(controller.dataDir, 'desktops', spare!.name, 'scratch-home.qcow2')));
  const { desktop } = await alice.request<{ desktop: DesktopView; session: SessionInfo }>('POST', '/v1/pools/here/connect', {});
  await untilDesktops(controller, 'here', 'her session', (ds) => ds.some((d) => d.name === desktop.name && d.state === 'in-use'));
  const seen = await typeAndExpect(controller, desktop.name, 'grep -c " /home/alice " /proc/mounts; echo w-$((40+4))', 'w-44');
  assert.match(seen, /^1\r?$/m, `the scratch home is mounted: ${seen}`);
  assert.equal((await controller.api().request<{ user: string }[]>('GET', '/v1/homes')).some((h) => h.user === 'alice'), false, 'no home volume was made for her');
});
