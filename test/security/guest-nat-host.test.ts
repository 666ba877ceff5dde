// Attacker: the guest OS inside a VM on QEMU's user-mode NAT. Slirp maps 10.0.2.2 to the host's 127.0.0.1 and
// opens the guest's connections from the QEMU process, so a guest would reach the daemon's API and every
// other service of the host. Defence: the daemon's NAT guard (an nftables table of its own, inet ardesia_guard_<hash of its data folder>) rejects new
// connections of the QEMU account to the host's own addresses, unless the administrator opened the VM to the
// host (--nat-host-access: QEMU runs with the group ardesia-qemu-host). Real daemon (in a test namespace, so
// "the host" is that namespace and its nftables), real QEMU under TCG, real nft; guests probe over their console.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { TestDaemon, until } from '../helpers/daemon.js';
import { guestArtifacts } from '../helpers/guests.js';
import { natGuardRemoval, natGuardTable, processStartOf } from '../../src/network/nat-guard.js';
import { buildHelperGuest, KERNEL_APPEND } from '../image-build/helper-guest.js';
import { cliJson } from '../images/support.js';
import { bootDesktop as boot, OK, onConsole, qemuStatus, tcpProbe as probeTcp, tcpReach as reachTcp, udpReaches as reachUdp } from './nat-guest-probes.js';
import { LAB_HOST, LAB_HTTP_PORT, NetworkLab, OUTSIDE_HOST } from '../network/lab.js';

/** The daemon's own TCP port (serve --listen on the namespace's loopback): what a guest must not reach. */
const DAEMON_PORT = 18_080;
/** A UDP service on the host's loopback: it counts the datagrams that reach it. */
const UDP_PORT = 15_353;

let lab: NetworkLab;
let daemon: TestDaemon;
let udpServer: ChildProcess;
let udpSeen = '';

before(async () => {
  lab = await NetworkLab.create('ng');
  const dir = mkdtempSync('/tmp/ard-');
  await lab.startHttp();
  await lab.startOutside();
  udpServer = spawn('ip', ['netns', 'exec', lab.ns, process.execPath, '-e',
    `const s=require('node:dgram').createSocket('udp4');s.on('message',(m)=>console.log('GOT '+m.toString('latin1').replace(/[^ -~]/g,' ')));s.bind(${UDP_PORT},'127.0.0.1',()=>console.log('listening'))`], { stdio: ['ignore', 'pipe', 'pipe'] });
  udpServer.stdout!.on('data', (d: Buffer) => (udpSeen += d.toString()));
  await until('the UDP service listens', () => udpSeen.includes('listening'), 10_000);
  daemon = await TestDaemon.start({ dataDir: dir, netns: lab.ns, extraArgs: ['--listen', `127.0.0.1:${DAEMON_PORT}`] });
  const guest = buildHelperGuest(mkdtempSync('/tmp/ngimg-'));
  await cliJson(daemon, ['image', 'create', 'bb', '--from', guest.root, '--format', 'raw', '--kernel', guest.kernel, '--initrd', guest.initrd,
    '--cmdline', `${KERNEL_APPEND} ardesia.net=dhcp`, '--memory', '192M']);
});
after(async () => {
  udpServer?.kill('SIGKILL');
  await daemon?.destroy();
  await lab?.destroy();
});

/** The daemon's listeners, the guard's table and the QEMU's credentials, for a probe that failed. */
function namespaceState(): string {
  const run = (args: string[]) => {
    try {
      return execFileSync('ip', ['netns', 'exec', lab.ns, ...args], { encoding: 'utf8' });
    } catch (err) {
      return `${args.join(' ')}: ${(err as Error).message}`;
    }
  };
  return [run(['ss', '-tanp']), run(['nft', 'list', 'tables']), run(['nft', 'list', 'table', 'inet', natGuardTable(daemon.dataDir)]), `QEMU Uid ${qemuStatus(daemon, 'opened', 'Uid').join(' ')} Gid ${qemuStatus(daemon, 'opened', 'Gid').join(' ')}`].join('\n');
}

function qemuGid(vm: string): number {
  return Number(qemuStatus(daemon, vm, 'Gid')[1]);
}

function groupId(name: string): number {
  return Number(execFileSync('getent', ['group', name]).toString().split(':')[2]);
}

const tcpProbe = (vm: string, host: string, port: number) => probeTcp(daemon, vm, host, port);
const tcpReach = (vm: string, host: string, port: number) => reachTcp(daemon, vm, host, port);
const udpReaches = (vm: string, host: string, tag: string) => reachUdp(daemon, vm, host, UDP_PORT, tag, () => udpSeen);
const bootDesktop = (name: string, flags: string[]) => boot(daemon, name, flags);

test('the guard table is installed in the daemon\'s namespace and names the QEMU account', () => {
  const table = execFileSync('ip', ['netns', 'exec', lab.ns, 'nft', 'list', 'table', 'inet', natGuardTable(daemon.dataDir)]).toString();
  const uid = execFileSync('id', ['-u', 'ardesia-qemu']).toString().trim();
  // The account (the helpers) and the lower half of the VM uids, where every QEMU without an allow-list runs.
  assert.match(table, new RegExp(`meta skuid != \\{ ${uid}, 2000000000-2000032767 \\} return`));
  assert.match(table, /fib daddr type local .*reject/);
});

test('a NAT guest cannot reach the daemon\'s port at 10.0.2.2, nor the host\'s other address, by TCP or UDP; the outside it still reaches', async () => {
  await bootDesktop('guarded', ['--network', 'nat']);
  const got = {
    gid: qemuGid('guarded'),
    // The same probe to the outside works, so the refusals below are the guard's.
    outside: await tcpReach('guarded', OUTSIDE_HOST, LAB_HTTP_PORT),
    daemonVia10022: await tcpProbe('guarded', '10.0.2.2', DAEMON_PORT),
    hostAddress: await tcpProbe('guarded', LAB_HOST, LAB_HTTP_PORT),
    loopbackVia10022: await tcpProbe('guarded', '10.0.2.2', LAB_HTTP_PORT),
    udpLoopback: await udpReaches('guarded', '10.0.2.2', 'guardedudp'),
  };
  assert.match(got.outside, OK, JSON.stringify(got));
  assert.deepEqual({ ...got, outside: 'ok' }, { gid: groupId('ardesia-qemu'), outside: 'ok', daemonVia10022: 'none', hostAddress: 'none', loopbackVia10022: 'none', udpLoopback: false });
  const uid = Number(qemuStatus(daemon, 'guarded', 'Uid')[0]);
  assert.ok(uid >= 2_000_000_000 && uid < 2_000_032_768, `QEMU runs as a VM uid of the filtered half, not ${uid}`);
  assert.equal((await daemon.cli(['desktop', 'stop', 'guarded'])).code, 0);
});

test('the same NAT opened to the host by the administrator (--nat-host-access) reaches the daemon and the host', async (t) => {
  await bootDesktop('opened', ['--network', 'nat', '--nat-host-access']);
  // Stopped whatever the outcome: the daemon's last test waits for every VM to be off.
  t.after(async () => void (await daemon.cli(['desktop', 'stop', 'opened'])));
  const got = {
    gid: qemuGid('opened'),
    daemonVia10022: await tcpReach('opened', '10.0.2.2', DAEMON_PORT),
    hostAddress: await tcpReach('opened', LAB_HOST, LAB_HTTP_PORT),
    udpLoopback: await udpReaches('opened', '10.0.2.2', 'openedudp'),
  };
  assert.equal(got.gid, groupId('ardesia-qemu-host'), JSON.stringify(got));
  // Refused now and then in rehearsals while UDP to 10.0.2.2 and TCP to the lab host passed: what the namespace had then.
  if (!/^HTTP\/1\.[01] \d{3}/.test(got.daemonVia10022)) {
    // What nc itself said (refused, reset, timed out, or an answer that was not HTTP), then the guard's counters.
    const nc = await onConsole(daemon, 'opened', `r=$(printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 30 10.0.2.2 ${DAEMON_PORT} 2>&1 | head -c 120 | tr -d '\\r' | tr '\\n]' ' )')`);
    assert.fail(`${JSON.stringify(got)}\nnc once more: ${nc}\n${namespaceState()}\ndaemon log tail:\n${daemon.output.slice(-4000)}`);
  }
  assert.match(got.hostAddress, OK, JSON.stringify(got));
  assert.equal(got.udpLoopback, true, JSON.stringify(got));
});

test('the CLI refuses host access together with an allow-list', async () => {
  const both = await daemon.cli(['desktop', 'create', 'both', '--image', 'bb', '--network', 'nat', '--nat-host-access', '--nat-allow', `${LAB_HOST}:80`]);
  assert.notEqual(both.code, 0);
  assert.match(both.stderr, /--nat-host-access opens unrestricted NAT/);
});

/** A PATH holding every program of /usr/bin and /usr/sbin but nft: a host without nftables. */
function pathWithoutNft(): string {
  const dir = mkdtempSync('/tmp/nonft-');
  for (const from of ['/usr/bin', '/usr/sbin']) {
    for (const name of readdirSync(from)) {
      if (name !== 'nft' && !existsSync(join(dir, name))) symlinkSync(join(from, name), join(dir, name));
    }
  }
  return dir;
}

test('without nft the daemon refuses to start NAT VMs (NAT_GUARD_UNAVAILABLE), unless serve --allow-unguarded-nat', async () => {
  const g = guestArtifacts();
  const bin = pathWithoutNft();
  const start = ['vm', 'start', 'natvm', '-m', '128M', '-b', g.amd64.kernel, '--initrd', g.amd64.initrd, '-i', '1'];
  try {
    for (const allow of [false, true]) {
      const other = await TestDaemon.start({ netns: lab.ns, env: { PATH: bin }, extraArgs: allow ? ['--allow-unguarded-nat'] : [] });
      try {
        assert.match(other.output, /the NAT guard could not be installed \(nft is not installed\)/);
        const r = await other.cli(start);
        if (allow) {
          assert.equal(r.code, 0, r.stderr);
          await until('the unguarded warning', () => other.output.includes('WITHOUT the NAT guard'), 30_000);
          assert.equal((await other.cli(['vm', 'stop', 'natvm', '-f', '-w'])).code, 0);
        } else {
          assert.notEqual(r.code, 0, 'a NAT VM started without the guard');
          assert.match(r.stderr, /NAT guard .*is not in place/);
          assert.match(r.stderr, /allow-unguarded-nat/); // the hint says what to do
        }
      } finally {
        await other.destroy();
      }
    }
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
});

/** A process run in the lab's namespace as `argv0`, its pid and start time (/proc/PID/stat field 22). */
async function labProcess(argv0: string, args: string[]): Promise<{ child: ChildProcess; pid: number; start: number }> {
  const child = spawn('ip', ['netns', 'exec', lab.ns, 'bash', '-c', 'exec -a "$0" "$@"', argv0, process.execPath, '-e', 'setTimeout(() => {}, 120000)', '--', ...args], { stdio: 'ignore' });
  // ip and bash exec in turn: the pid is the final program's once its argv is the one asked for.
  await until(`the process runs as ${argv0}`, () => readOr(`/proc/${child.pid}/cmdline`).startsWith(`${argv0}\0`), 10_000);
  const start = processStartOf(readOr(`/proc/${child.pid}/stat`));
  assert.ok(start !== undefined);
  return { child, pid: child.pid!, start };
}

function readOr(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

test('a daemon that starts removes the guard tables of daemons killed without their stop, and only those', async () => {
  const nft = (...args: string[]) => execFileSync('ip', ['netns', 'exec', lab.ns, 'nft', ...args]).toString();
  const make = (table: string, comment?: string) => nft('add', 'table', 'inet', table, ...(comment ? ['{', 'comment', `"${comment}"`, ';', '}'] : []));
  // A daemon killed (its process gone), one alive (this test), one of an older version (no owner), one whose VMs outlive it.
  const dead = await labProcess('node', []);
  dead.child.kill('SIGKILL');
  await until('the killed owner is gone', () => readOr(`/proc/${dead.pid}/stat`) === '', 10_000);
  const vmFolder = mkdtempSync('/tmp/ard-outliving-');
  const qemu = await labProcess('qemu-system-x86_64', ['-pidfile', join(vmFolder, 'runtime', 'vm1', 'qemu.pid')]);
  const [stale, alive, older, outliving] = ['/tmp/ard-dead-a', '/tmp/ard-alive-b', '/tmp/ard-older-c', vmFolder].map(natGuardTable);
  try {
    make(stale!, `ardesia owner pid ${dead.pid} start ${dead.start}`);
    make(alive!, `ardesia owner pid ${process.pid} start ${processStartOf(readOr('/proc/self/stat'))}`);
    make(older!);
    make(outliving!, `ardesia owner pid ${dead.pid} start ${dead.start}`);
    const other = await TestDaemon.start({ netns: lab.ns });
    try {
      const tables = nft('list', 'tables');
      assert.ok(!tables.includes(stale!), `the dead daemon's table is left:\n${tables}`);
      for (const kept of [alive!, older!, outliving!, natGuardTable(daemon.dataDir), natGuardTable(other.dataDir)]) assert.ok(tables.includes(kept), `${kept} was removed:\n${tables}`);
      assert.match(other.output, new RegExp(`NAT guard table inet ${stale} removed`));
    } finally {
      await other.destroy();
    }
  } finally {
    qemu.child.kill('SIGKILL');
    for (const t of [stale!, alive!, older!, outliving!]) execFileSync('ip', ['netns', 'exec', lab.ns, 'nft', '-f', '-'], { input: natGuardRemoval(t) });
    rmSync(vmFolder, { recursive: true, force: true });
  }
});

test('the daemon removes its table when it stops with no VM left running', async () => {
  const tables = () => execFileSync('ip', ['netns', 'exec', lab.ns, 'nft', 'list', 'tables']).toString();
  const table = natGuardTable(daemon.dataDir);
  assert.ok(tables().includes(`table inet ${table}`), tables());
  // Its VMs are stopped (each test stopped its own); SIGTERM is a daemon's ordinary stop.
  await until('every VM stopped', async () => (await daemon.api().request<Array<{ state: string }>>('GET', '/v1/vms')).every((v) => v.state !== 'running'), 180_000);
  await daemon.kill('SIGTERM');
  assert.ok(!tables().includes(table), tables());
});
