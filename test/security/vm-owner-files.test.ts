// Attacker: a VM owner who is not root (vm.conf `owner nobody`, their token file). Defence: the owner
// policy (docs/security/20-owners.md): their starts cannot make QEMU open anything outside their folders,
// swap the files an administrator defined, join taps or bridges not theirs, or pass their caps; the daemon
// opens every file itself, follows qcow2 chains, and never blocks on a FIFO. Root still can.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import type WebSocket from 'ws';
import { ApiClient } from '../../src/cli/client.js';
import { lookupAccount } from '../../src/auth/unix-accounts.js';
import type { VmSpecInput } from '../../src/contract/vm.js';
import { qemuPidsUnder, TestDaemon, until } from '../helpers/daemon.js';
import { guestArtifacts } from '../helpers/guests.js';

const g = guestArtifacts();
const nobody = lookupAccount('nobody')!;
const KERNEL = realpathSync(g.amd64.kernel);
const INITRD = realpathSync(g.amd64.initrd);
const GUEST_DIR = dirname(KERNEL);
let daemon: TestDaemon;
let url: string;
let own: string; // DATA_DIR/owners/nobody, made by the daemon when the vm.conf naming the owner was loaded
const tokens = { root: '', owner: '' };
let socketServer: Server | undefined;

interface Reply {
  status: number;
  json: { error?: { code: string; message: string; hint: string }; state?: string };
}

async function call(method: string, path: string, token: string, body?: unknown): Promise<Reply> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Reply['json'] };
}

const start = (token: string, name: string, adHoc?: Partial<VmSpecInput>) => call('POST', `/v1/vms/${name}/start`, token, adHoc ? { adHoc } : {});
const stop = (token: string, name: string) => call('POST', `/v1/vms/${name}/stop`, token, { force: true, waitMs: 30_000 });
const qemusOf = (name: string) => qemuPidsUnder(join(daemon.dataDir, 'runtime', name, '')).length;
const bootOf = (extra: Partial<VmSpecInput> = {}): VmSpecInput => ({ name: 'x', memoryMiB: 96, boot: { kernel: KERNEL, initrd: INITRD, cmdline: 'console=ttyS0 quiet' }, owner: { user: 'nobody' }, ...extra });

async function define(spec: VmSpecInput): Promise<void> {
  const r = await call('POST', '/v1/vms', tokens.root, { spec });
  assert.equal(r.status, 201, JSON.stringify(r.json));
}

/** The owner's start is refused with `code` (and a hint), and no QEMU of that VM runs. */
async function assertRefused(name: string, code: string, adHoc?: Partial<VmSpecInput>, message?: RegExp): Promise<void> {
  const r = await start(tokens.owner, name, adHoc);
  const what = `${name} ${JSON.stringify(adHoc ?? {})}`;
  assert.equal(r.json.error?.code, code, `${what}: ${JSON.stringify(r.json)}`);
  assert.ok((r.json.error?.hint.length ?? 0) > 20, `${what}: a hint says what to do`);
  if (message) assert.match(r.json.error!.message, message, what);
  assert.equal(qemusOf(name), 0, `${what}: no QEMU was started`);
}

function qemuImg(...args: string[]): void {
  execFileSync('qemu-img', args, { stdio: 'pipe' });
}

/** Puts `make()`'s result at OWN/disk.qcow2, the disk of the VM `bait` (as the owner can in their folder). */
function baitDisk(make: (path: string) => void): void {
  const path = join(own, 'disk.qcow2');
  rmSync(path, { force: true, recursive: true });
  make(path);
}

const AFTER_CHECK = 'owner-start-after-check';
let failpoints: string;

before(async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ard-'));
  const policy = join(dataDir, 'owner-policy.json');
  writeFileSync(policy, JSON.stringify({ users: { nobody: { readOnlyRoots: [GUEST_DIR], maxVms: 2, maxMemoryMiB: 256, maxVcpus: 2 } } }));
  // Every owner start passes a pause point after its checks; it is open (`.continue`) except in the swap test.
  failpoints = mkdtempSync(join(tmpdir(), 'owner-fp-'));
  writeFileSync(join(failpoints, `${AFTER_CHECK}.continue`), '');
  daemon = await TestDaemon.start({ dataDir, extraArgs: ['--listen', '127.0.0.1:0', '--owner-policy', policy], env: { ARDESIA_FAILPOINTS: AFTER_CHECK, ARDESIA_FAILPOINT_DIR: failpoints } });
  url = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(daemon.output)![1]!;
  const conf = join(daemon.dataDir, 'owned.conf');
  writeFileSync(conf, `vm "mine" {\n memory 96M\n boot "${KERNEL}"\n initrd "${INITRD}"\n cmdline "console=ttyS0 quiet"\n owner nobody\n disable\n}\n` +
    // The administrator's vm.conf opens this NAT to the host: the owner still may not start it.
    `vm "hostnat" {\n memory 96M\n boot "${KERNEL}"\n initrd "${INITRD}"\n owner nobody\n interface { host access }\n disable\n}\n`);
  const load = await daemon.cli(['vm', 'load', conf]);
  assert.equal(load.code, 0, load.stderr);
  tokens.root = readFileSync(join(daemon.dataDir, 'root.token'), 'utf8').trim();
  tokens.owner = readFileSync(join(daemon.dataDir, 'tokens', 'nobody.token'), 'utf8').trim();
  own = join(daemon.dataDir, 'owners', 'nobody');
  qemuImg('create', '-q', '-f', 'qcow2', join(own, 'base.qcow2'), '64M');
  qemuImg('create', '-q', '-f', 'qcow2', '-b', 'base.qcow2', '-F', 'qcow2', join(own, 'overlay.qcow2'));
  await define(bootOf({ name: 'mine2' }));
  await define(bootOf({ name: 'mine3' }));
  await define(bootOf({ name: 'chain', disks: [{ path: join(own, 'overlay.qcow2') }] }));
  await define(bootOf({ name: 'bait', disks: [{ path: join(own, 'disk.qcow2') }] }));
  await define(bootOf({ name: 'fifo', boot: { kernel: join(own, 'vmlinuz') } }));
  await define(bootOf({ name: 'devdisk', disks: [{ path: '/dev/zero', format: 'raw' }] }));
  await define(bootOf({ name: 'etccd', cdrom: '/etc/passwd' }));
  await define(bootOf({ name: 'tokencd', cdrom: join(daemon.dataDir, 'root.token') }));
  await define(bootOf({ name: 'bridged', nics: [{ mode: 'bridge', bridge: 'br-admin' }] }));
  await define(bootOf({ name: 'tapped', nics: [{ mode: 'tap', ifname: 'tap-admin' }] }));
  await define(bootOf({ name: 'swapped', disks: [{ path: join(own, 'sub', 'disk.qcow2') }] }));
});
after(async () => {
  socketServer?.close();
  await daemon?.destroy();
});

test('the owner starts their VM, reads and opens its console, and stops it', async () => {
  const r = await start(tokens.owner, 'mine');
  assert.equal(r.status, 200, JSON.stringify(r.json));
  await until('the banner', async () => (await fetch(`${url}/v1/vms/mine/log`, { headers: { authorization: `Bearer ${tokens.owner}` } }).then((x) => x.text())).includes(g.amd64.banner));
  const ws = new ApiClient({ url, token: tokens.owner }).webSocket('/v1/vms/mine/console');
  await new Promise<void>((resolve, reject) => {
    (ws as WebSocket).once('open', () => resolve());
    (ws as WebSocket).once('error', reject);
  });
  (ws as WebSocket).close();
  const s = await stop(tokens.owner, 'mine');
  assert.equal(s.status, 200, JSON.stringify(s.json));
});

/** A sent state with its stream changed by the owner and its sha256 made to match again: with no seal, or with the old one. */
function forged(sent: Buffer, keepSeal: boolean): Buffer {
  const magicEnd = sent.indexOf(0x0a);
  const manifestEnd = sent.indexOf(0x0a, magicEnd + 1);
  const manifest = JSON.parse(sent.subarray(magicEnd + 1, manifestEnd).toString()) as { seal?: string; state: { bytes: number; sha256: string } };
  assert.match(manifest.seal ?? '', /^[0-9a-f]{64}$/, 'the daemon sealed the state it sent');
  const stream = Buffer.from(sent.subarray(manifestEnd + 1));
  const at = stream.length - 64; // a byte of device state or RAM, as an attacker would pick one
  stream[at] = stream[at]! ^ 0x01;
  manifest.state.sha256 = createHash('sha256').update(stream).digest('hex');
  if (!keepSeal) delete manifest.seal;
  return Buffer.concat([sent.subarray(0, magicEnd + 1), Buffer.from(`${JSON.stringify(manifest)}\n`), stream]);
}

const receive = async (token: string, name: string, bytes: Buffer): Promise<Reply> => {
  const res = await fetch(`${url}/v1/vms/${name}/receive`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' }, body: new Uint8Array(bytes) });
  return { status: res.status, json: (await res.json()) as Reply['json'] };
};

test('the owner receives a state their VM sent, never one they crafted: QEMU would load its stream as trusted memory', async () => {
  const r = await start(tokens.owner, 'mine');
  assert.equal(r.status, 200, JSON.stringify(r.json));
  await until('the banner', async () => (await fetch(`${url}/v1/vms/mine/log`, { headers: { authorization: `Bearer ${tokens.owner}` } }).then((x) => x.text())).includes(g.amd64.banner));
  const res = await fetch(`${url}/v1/vms/mine/send`, { method: 'POST', headers: { authorization: `Bearer ${tokens.owner}` } });
  assert.equal(res.status, 200);
  const sent = Buffer.from(await res.arrayBuffer());
  await until('the sent state deleted on the daemon', () => !existsSync(join(daemon.dataDir, 'states', 'mine')));
  for (const keepSeal of [false, true]) {
    const refused = await receive(tokens.owner, 'mine', forged(sent, keepSeal));
    assert.equal(refused.status, 403, JSON.stringify(refused.json));
    assert.equal(refused.json.error?.code, 'VM_STATE_NOT_SEALED', JSON.stringify(refused.json));
    assert.match(refused.json.error!.message, keepSeal ? /not this site's/ : /carries no seal/);
    assert.equal(qemusOf('mine'), 0, 'no QEMU was started');
    assert.ok(!existsSync(join(daemon.dataDir, 'states', 'mine')), 'nothing of the forged state left behind');
  }
  const back = await receive(tokens.owner, 'mine', sent);
  assert.equal(back.status, 200, JSON.stringify(back.json));
  assert.equal(back.json.state, 'running');
  const s = await stop(tokens.owner, 'mine');
  assert.equal(s.status, 200, JSON.stringify(s.json));
});

test('swapping disks, CD-ROM, kernel, initrd, BIOS or TFTP root at the start of a defined VM is refused (API and CLI)', async () => {
  const rows: Array<Partial<VmSpecInput>> = [
    { disks: [{ path: '/dev/sda', format: 'raw' }] },
    { cdrom: '/etc/shadow' },
    { boot: { kernel: '/etc/shadow' } },
    { boot: { initrd: join(daemon.dataDir, 'root.token') } },
    { boot: { bios: '/dev/mem' } },
    { nics: [{ mode: 'user', tftpRoot: '/' }] },
  ];
  for (const adHoc of rows) await assertRefused('mine', 'OWNER_START_OVERRIDE', adHoc, /only an administrator may replace/);
  for (const flags of [['-d', '/dev/sda'], ['-r', '/etc/shadow'], ['-b', '/etc/shadow']]) {
    const r = await daemon.cli(['--url', url, 'vm', 'start', 'mine', ...flags], { uid: nobody.uid, gid: nobody.gid, env: { HOME: '/tmp' } });
    assert.equal(r.code, 1, `vm start mine ${flags.join(' ')}: ${r.stdout}`);
    assert.match(r.stderr, /only an administrator may replace/, flags.join(' '));
  }
  assert.equal(qemusOf('mine'), 0);
});

test('the owner cannot bring their own definitions: loading a vm.conf, defining or creating a VM is the administrator\'s', async () => {
  const conf = join(own, 'evil.conf');
  writeFileSync(conf, `vm "evil" {\n memory 64M\n disk "/dev/sda"\n owner nobody\n}\n`);
  for (const [path, body] of [
    ['/v1/config/load', { path: conf }],
    ['/v1/vms', { spec: bootOf({ name: 'evil', disks: [{ path: '/dev/sda', format: 'raw' }] }) }],
    ['/v1/vms/evil/start', { adHoc: { memoryMiB: 64, disks: [{ path: '/dev/sda', format: 'raw' }] } }],
  ] as const) {
    const r = await call('POST', path, tokens.owner, body);
    assert.equal(r.json.error?.code, 'FORBIDDEN', `${path}: ${JSON.stringify(r.json)}`);
  }
  assert.equal((await call('GET', '/v1/vms/evil', tokens.root)).json.error?.code, 'VM_NOT_FOUND', 'nothing was defined');
  assert.equal(qemusOf('evil'), 0);
});

test('host files, devices, FIFOs, sockets, other folders and the daemon\'s tokens are refused, also through symlinks', async () => {
  await assertRefused('devdisk', 'OWNER_PATH_FORBIDDEN', undefined, /inside \/dev/);
  await assertRefused('etccd', 'OWNER_PATH_FORBIDDEN', undefined, /inside \/etc/);
  await assertRefused('tokencd', 'OWNER_PATH_FORBIDDEN', undefined, /no VM owner may use/);
  const rows: Array<[string, (path: string) => void, string, RegExp]> = [
    ['symlink to /etc/shadow', (p) => symlinkSync('/etc/shadow', p), 'OWNER_PATH_FORBIDDEN', /leads to \/etc\/shadow/],
    ['symlink to a file that does not exist outside (no existence oracle)', (p) => symlinkSync('/root/no-such-file-here', p), 'OWNER_PATH_FORBIDDEN', /leads to \/root\/no-such-file-here: .* outside the folders/],
    ['symlink to a device', (p) => symlinkSync('/dev/zero', p), 'OWNER_PATH_FORBIDDEN', /inside \/dev/],
    ['symlink to the root token', (p) => symlinkSync(join(daemon.dataDir, 'root.token'), p), 'OWNER_PATH_FORBIDDEN', /no VM owner may use/],
    ['symlink to the owners\' token files', (p) => symlinkSync('../../tokens/nobody.token', p), 'OWNER_PATH_FORBIDDEN', /no VM owner may use/],
    ['symlink into the read-only folder, as a writable disk', (p) => symlinkSync(KERNEL, p), 'OWNER_PATH_FORBIDDEN', /read-only folder/],
    ['a character device', (p) => execFileSync('mknod', [p, 'c', '1', '5']), 'VM_FILE_NOT_REGULAR', /character device/],
    ['a FIFO', (p) => execFileSync('mkfifo', [p]), 'VM_FILE_NOT_REGULAR', /FIFO/],
    ['a folder', (p) => execFileSync('mkdir', [p]), 'VM_FILE_NOT_REGULAR', /folder/],
  ];
  for (const [what, make, code, message] of rows) {
    baitDisk(make);
    await assertRefused('bait', code, undefined, message).catch((err: Error) => assert.fail(`${what}: ${err.message}`));
  }
  baitDisk((p) => {
    socketServer = createServer().listen(p);
  });
  await until('the socket file', () => socketServer!.listening);
  await assertRefused('bait', 'VM_FILE_NOT_REGULAR', undefined, /socket/);
  socketServer!.close();
  socketServer = undefined;
});

test('a folder swapped for a symlink out after the checks and before QEMU gets the file: the opened file is judged and refused', async () => {
  const outside = mkdtempSync(join(tmpdir(), 'owner-outside-'));
  try {
    qemuImg('create', '-q', '-f', 'qcow2', join(outside, 'disk.qcow2'), '64M');
    chmodSync(join(outside, 'disk.qcow2'), 0o600); // root's file: the owner must never get it as their disk
    mkdirSync(join(own, 'sub'), { recursive: true });
    qemuImg('create', '-q', '-f', 'qcow2', join(own, 'sub', 'disk.qcow2'), '64M');
    rmSync(join(failpoints, `${AFTER_CHECK}.continue`));
    rmSync(join(failpoints, `${AFTER_CHECK}.reached`), { force: true }); // left by earlier owner starts
    const pending = start(tokens.owner, 'swapped');
    await until('the start paused after its checks', () => existsSync(join(failpoints, `${AFTER_CHECK}.reached`)));
    renameSync(join(own, 'sub'), join(own, 'sub.checked'));
    symlinkSync(outside, join(own, 'sub'));
    writeFileSync(join(failpoints, `${AFTER_CHECK}.continue`), '');
    const r = await pending;
    assert.equal(r.json.error?.code, 'OWNER_PATH_FORBIDDEN', JSON.stringify(r.json));
    assert.match(r.json.error!.message, /changed after it was checked/);
    assert.equal(qemusOf('swapped'), 0, 'no QEMU got the swapped file');
  } finally {
    rmSync(join(failpoints, `${AFTER_CHECK}.reached`), { force: true });
    writeFileSync(join(failpoints, `${AFTER_CHECK}.continue`), '');
    rmSync(outside, { recursive: true, force: true });
  }
});

test('qcow2 chains: backing files out of the folders, json:, protocols and external data files are refused; an overlay inside boots', async () => {
  const rows: Array<[string, (path: string) => void, string, RegExp]> = [
    ['backing /etc/shadow', (p) => qemuImg('create', '-q', '-f', 'qcow2', '-u', '-b', '/etc/shadow', '-F', 'raw', p, '16M'), 'OWNER_PATH_FORBIDDEN', /backing file .* inside \/etc/],
    ['relative backing out', (p) => qemuImg('create', '-q', '-f', 'qcow2', '-u', '-b', '../../../../../../../etc/shadow', '-F', 'raw', p, '16M'), 'OWNER_PATH_FORBIDDEN', /inside \/etc/],
    ['backing the root token', (p) => qemuImg('create', '-q', '-f', 'qcow2', '-u', '-b', join(daemon.dataDir, 'root.token'), '-F', 'raw', p, '16M'), 'OWNER_PATH_FORBIDDEN', /no VM owner may use/],
    ['backing json:', (p) => qemuImg('create', '-q', '-f', 'qcow2', '-u', '-b', 'json:{"driver":"raw","file":{"driver":"file","filename":"/etc/shadow"}}', '-F', 'raw', p, '16M'), 'IMAGE_HOSTILE', /json:/],
    ['backing nbd:', (p) => qemuImg('create', '-q', '-f', 'qcow2', '-u', '-b', 'nbd:127.0.0.1:10809', '-F', 'raw', p, '16M'), 'IMAGE_HOSTILE', /protocol/],
    ['backing through a symlink out', (p) => {
      rmSync(join(own, 'link.raw'), { force: true });
      symlinkSync('/etc/shadow', join(own, 'link.raw'));
      qemuImg('create', '-q', '-f', 'qcow2', '-u', '-b', 'link.raw', '-F', 'raw', p, '16M');
    }, 'OWNER_PATH_FORBIDDEN', /link\.raw leads to \/etc\/shadow/],
    ['a backing qcow2 whose own backing is out', (p) => {
      qemuImg('create', '-q', '-f', 'qcow2', '-u', '-b', '/etc/shadow', '-F', 'raw', join(own, 'mid.qcow2'), '16M');
      qemuImg('create', '-q', '-f', 'qcow2', '-u', '-b', 'mid.qcow2', '-F', 'qcow2', p, '16M');
    }, 'OWNER_PATH_FORBIDDEN', /mid\.qcow2.*inside \/etc/],
    ['an external data file', (p) => qemuImg('create', '-q', '-f', 'qcow2', '-o', `data_file=${join(own, 'data.raw')}`, p, '16M'), 'IMAGE_HOSTILE', /external file/],
  ];
  for (const [what, make, code, message] of rows) {
    baitDisk(make);
    await assertRefused('bait', code, undefined, message).catch((err: Error) => assert.fail(`${what}: ${err.message}`));
  }
  const r = await start(tokens.owner, 'chain');
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.equal(qemusOf('chain'), 1, 'the checked overlay reached QEMU');
  assert.equal((await stop(tokens.owner, 'chain')).status, 200);
});

test('a FIFO as the kernel: a clear refusal at once, and the daemon keeps answering meanwhile', { timeout: 120_000 }, async () => {
  execFileSync('mkfifo', [join(own, 'vmlinuz')]);
  // Both requests together: a daemon blocked opening the FIFO would answer neither.
  const [owner, host] = await Promise.all([start(tokens.owner, 'fifo'), call('GET', '/v1/host', tokens.owner)]);
  assert.equal(owner.json.error?.code, 'VM_FILE_NOT_REGULAR', JSON.stringify(owner.json));
  assert.match(owner.json.error!.message, /kernel .*vmlinuz is a FIFO/);
  assert.equal(host.status, 200);
  // Not only owners: the daemon reads kernels for root too, and must not hang on one either.
  const [root, list] = await Promise.all([start(tokens.root, 'fifo'), call('GET', '/v1/vms', tokens.root)]);
  assert.equal(root.json.error?.code, 'VM_FILE_NOT_REGULAR', JSON.stringify(root.json));
  assert.equal(list.status, 200);
  assert.equal(qemusOf('fifo'), 0);
});

test('taps and bridges that are not the owner\'s, and NAT opened to the host (vm.conf `host access`), are refused', async () => {
  await assertRefused('bridged', 'OWNER_NETWORK_FORBIDDEN', undefined, /bridge br-admin/);
  await assertRefused('tapped', 'OWNER_NETWORK_FORBIDDEN', undefined, /tap tap-admin/);
  await assertRefused('hostnat', 'OWNER_NETWORK_FORBIDDEN', undefined, /opens NAT to this host's own addresses/);
});

test('memory, vCPUs and the number of running VMs are capped per owner', async () => {
  await assertRefused('mine', 'OWNER_QUOTA_EXCEEDED', { memoryMiB: 512 }, /512 MiB .* 256 MiB/);
  assert.equal((await start(tokens.owner, 'mine')).status, 200);
  try {
    await assertRefused('mine2', 'OWNER_QUOTA_EXCEEDED', { memoryMiB: 200 }, /296 MiB/);
    await assertRefused('mine2', 'OWNER_QUOTA_EXCEEDED', { vcpus: 2 }, /3 vCPUs/);
    assert.equal((await start(tokens.owner, 'mine2')).status, 200);
    await assertRefused('mine3', 'OWNER_QUOTA_EXCEEDED', undefined, /already runs 2 VM/);
  } finally {
    await stop(tokens.owner, 'mine2');
    await stop(tokens.owner, 'mine');
  }
});

test('root still can: overrides outside the owner\'s folders start', async () => {
  const kernel = join(daemon.dataDir, 'admin-vmlinuz'); // in the data folder, which owners may never use
  copyFileSync(KERNEL, kernel);
  const r = await start(tokens.root, 'mine', { memoryMiB: 128, boot: { kernel, initrd: INITRD, cmdline: 'console=ttyS0 quiet' } });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  await until('the banner', async () => (await fetch(`${url}/v1/vms/mine/log`, { headers: { authorization: `Bearer ${tokens.root}` } }).then((x) => x.text())).includes(g.amd64.banner));
  assert.equal((await stop(tokens.root, 'mine')).status, 200);
});
