// Attacker: the guest OS inside a VM that breaks out into its QEMU process. Defence: QEMU runs as the
// unprivileged account under its seccomp sandbox, and is handed the files it needs as descriptors, so a
// taken-over QEMU is not root, cannot fork or set ids, and cannot open host files by name. The attack is
// played through QEMU's own monitor (its second QMP socket): blockdev-add and HMP drive_add of /etc/shadow
// and of a root-only file must fail, while a user's home still hot-plugs at login. Real daemon, real QEMU (TCG).
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { SessionInfo, DesktopView } from '../../src/contract/pools.js';
import type { VmStatus } from '../../src/contract/vm.js';
import type { ApiClient } from '../../src/cli/client.js';
import type { ArdesiaError } from '../../src/contract/errors.js';
import { vmFiles } from '../../src/vms/vm-files.js';
import { TestDaemon, until } from '../helpers/daemon.js';
import { guestArtifacts } from '../helpers/guests.js';
import { typeAndExpect } from '../images/support.js';
import { desktopsOf, helperImage, untilDesktops, userClient } from '../pools/support.js';
import { RawQmp } from '../qemu-argv/raw-qmp.js';

const g = guestArtifacts();
let daemon: TestDaemon;
let alice: ApiClient;
const secretDir = mkdtempSync('/tmp/qconf-');
/** A file only root may read: QEMU must not get it. */
const secret = join(secretDir, 'root-only.raw');

before(async () => {
  writeFileSync(secret, Buffer.alloc(1024 * 1024, 0x5a), { mode: 0o600 });
  daemon = await TestDaemon.start();
  await helperImage(daemon, 'bb');
  alice = await userClient(daemon, 'alice');
});
after(async () => {
  if (process.env.ARDESIA_TEST_LOG) writeFileSync(process.env.ARDESIA_TEST_LOG, daemon?.output ?? '');
  await daemon?.destroy();
  rmSync(secretDir, { recursive: true, force: true });
});

function statusField(pid: number, field: string): string {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${field}:`));
  assert.ok(line, `no ${field} in /proc/${pid}/status`);
  return line.slice(field.length + 1).trim();
}

function assertConfined(pid: number, what: string): void {
  const uids = statusField(pid, 'Uid').split(/\s+/).map(Number);
  assert.equal(uids.length, 4);
  for (const uid of uids) assert.notEqual(uid, 0, `${what}: QEMU runs with uid 0 (${uids.join(' ')})`);
  const gids = statusField(pid, 'Gid').split(/\s+/).map(Number);
  for (const gid of gids) assert.notEqual(gid, 0, `${what}: QEMU runs with gid 0`);
  assert.equal(statusField(pid, 'Seccomp'), '2', `${what}: QEMU has no seccomp filter`);
  assert.equal(statusField(pid, 'NoNewPrivs'), '1', `${what}: QEMU could gain privileges by exec`);
}

/** What a QEMU taken over can reach through its own monitor: every way to open a host file by name fails. */
async function assertCannotOpenHostFiles(vm: string): Promise<void> {
  const { qmp } = await RawQmp.open(vmFiles(daemon.dataDir, vm).runtime.qmpFd);
  try {
    assert.ok('return' in (await qmp.execute('qmp_capabilities')));
    for (const [i, path] of ['/etc/shadow', secret].entries()) {
      const viaBlockdev = await qmp.execute('blockdev-add', { driver: 'raw', 'node-name': `steal${i}`, file: { driver: 'file', filename: path } });
      assert.ok('error' in viaBlockdev, `blockdev-add opened ${path}: ${JSON.stringify(viaBlockdev)}`);
      assert.match(JSON.stringify(viaBlockdev), /Permission denied/, `blockdev-add of ${path} failed for another reason: ${JSON.stringify(viaBlockdev)}`);
      const viaHmp = await qmp.execute('human-monitor-command', { 'command-line': `drive_add 0 file=${path},if=none,id=hsteal${i},format=raw,readonly=on` });
      assert.match(String((viaHmp as { return?: string }).return ?? JSON.stringify(viaHmp)), /Permission denied|Could not open/, `drive_add opened ${path}: ${JSON.stringify(viaHmp)}`);
    }
    const nodes = (await qmp.execute('query-named-block-nodes')) as { return: Array<{ 'node-name': string }> };
    assert.ok(!nodes.return.some((n) => n['node-name'].includes('steal')), 'a stolen file became a block node');
  } finally {
    qmp.close();
  }
}

async function vmPid(name: string): Promise<number> {
  const status = await daemon.api().request<VmStatus>('GET', `/v1/vms/${name}`);
  assert.equal(status.state, 'running');
  assert.ok(status.pid, `vm ${name} has no pid`);
  return status.pid;
}

test("a VM's QEMU runs unprivileged under seccomp and cannot open host files it was not handed", async () => {
  const disk = join(daemon.dataDir, 'v1.qcow2');
  assert.equal((await daemon.cli(['vm', 'create', '-b', g.amd64.rootQcow2, disk])).code, 0);
  const started = await daemon.cli(['vm', 'start', 'v1', '-m', '256M', '-b', g.amd64.kernel, '--initrd', g.amd64.initrd, '--append', 'console=ttyS0 root=/dev/vda rw quiet', '-d', disk]);
  assert.equal(started.code, 0, started.stderr);
  const pid = await vmPid('v1');
  assertConfined(pid, 'vm v1');
  await assertCannotOpenHostFiles('v1');
  // The disk it was handed (an overlay on the guest image: two fds, the chain read by the daemon) works.
  await until('the guest shell', async () => (await daemon.cli(['vm', 'log', 'v1'])).stdout.includes('ardesia:/#'));
  await typeAndExpect(daemon, 'v1', 'echo ok-$((20+1)) > /ok; sync; cat /ok', 'ok-21');
  assert.equal((await daemon.cli(['vm', 'stop', 'v1', '-f', '-w'])).code, 0);
});

test("a pool desktop's QEMU is confined the same way, and alice's home still hot-plugs at login", async () => {
  await daemon.api().request('POST', '/v1/pools', { name: 'office', image: 'bb', warmSpares: 1, maxDesktops: 1, memoryMiB: 192, homeSizeBytes: 64 * 2 ** 20, entitled: { users: ['alice'] } });
  await untilDesktops(daemon, 'office', 'a warm spare', (d) => d.some((x) => x.state === 'ready'));
  const got = await alice.request<{ desktop: DesktopView; session: SessionInfo }>('POST', '/v1/pools/office/connect', {}).catch(async (err: Error) => {
    const log = (await daemon.cli(['vm', 'log', 'office-1'])).stdout.slice(-3000);
    throw new Error(`${err.message}; desktops: ${JSON.stringify(await desktopsOf(daemon, 'office'))}; console: ${log}`);
  });
  const name = got.desktop.name;
  assertConfined(await vmPid(name), `desktop ${name}`);
  // The home (handed over QMP add-fd at login) is mounted and writable in the guest.
  await typeAndExpect(daemon, name, 'echo home-$((30+3)) > /home/alice/f.txt; sync; cat /home/alice/f.txt', 'home-33');
  await assertCannotOpenHostFiles(name);
});

test('a data folder below a folder closed to QEMU\'s account: the start names the folder and what to do, and changes nothing above the data folder', async () => {
  const closed = mkdtempSync('/tmp/qconf-closed-'); // 0700, root's
  const other = await TestDaemon.start({ dataDir: join(closed, 'data') });
  try {
    const adHoc = { memoryMiB: 96, boot: { kernel: g.amd64.kernel, initrd: g.amd64.initrd, cmdline: 'console=ttyS0 quiet' } };
    const refused = await other.api().request('POST', '/v1/vms/c1/start', { adHoc }).then(() => undefined, (err: ArdesiaError) => err);
    assert.equal(refused?.code, 'DATA_FOLDER_CLOSED_TO_QEMU', String(refused));
    assert.match(refused!.message, new RegExp(`${closed} \\(mode 700\\) above the data folder`));
    assert.match(refused!.hint, /chmod o\+x/);
    assert.equal(statSync(closed).mode & 0o777, 0o700, 'the folder above the data folder is the administrator\'s: left as it was');
    chmodSync(closed, 0o711);
    await other.api().request('POST', '/v1/vms/c1/start', { adHoc });
    const started = await other.api().request<VmStatus>('GET', '/v1/vms/c1');
    assertConfined(started.pid!, 'vm c1');
  } finally {
    await other.destroy();
    rmSync(closed, { recursive: true, force: true });
  }
});
