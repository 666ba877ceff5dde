// Attacker: the guest OS of a VM whose NAT has an allow-list (--nat-allow). Defence: its QEMU runs under the
// seccomp sandbox as a uid of its own (serve --vm-uid-base range), and the daemon's nftables table lets that uid
// open only the listed TCP destinations: no other port or host, no UDP, not the host's loopback or the daemon.
// Real daemon in a test namespace, real QEMU under TCG, real nft; the guests probe over their serial console.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { TestDaemon, until } from '../helpers/daemon.js';
import { handFileToQemu } from '../../src/hypervisor/qemu/hand-file.js';
import { natGuardTable } from '../../src/network/nat-guard.js';
import { buildHelperGuest, KERNEL_APPEND } from '../image-build/helper-guest.js';
import { cliJson } from '../images/support.js';
import { LAB_HOST, LAB_HTTP_PORT, NetworkLab, OUTSIDE_HOST } from '../network/lab.js';
import { bootDesktop, OK, onConsole, qemuStatus, tcpProbe, tcpReach, udpReaches } from './nat-guest-probes.js';

/** The daemon's own TCP port (serve --listen on the namespace's loopback). */
const DAEMON_PORT = 18_081;
/** A second HTTP port on the allowed host: not in the list. */
const OTHER_PORT = 8081;
/** A second address of the outside namespace (the same HTTP server answers on it): another host, not in the list. */
const OTHER_HOST = '10.78.0.3';
/** A UDP service on the allowed host: it prints the datagrams that reach it. */
const UDP_PORT = 15_354;
const FIRST_VM_UID = 2_000_000_000;

let lab: NetworkLab;
let daemon: TestDaemon;
const servers: ChildProcess[] = [];
let udpSeen = '';

function inOutside(script: string, onOut: (text: string) => void): ChildProcess {
  const proc = spawn('ip', ['netns', 'exec', `${lab.ns}o`, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout!.on('data', (d: Buffer) => onOut(d.toString()));
  servers.push(proc);
  return proc;
}

before(async () => {
  lab = await NetworkLab.create('na');
  await lab.startHttp();
  await lab.startOutside();
  execFileSync('ip', ['-n', `${lab.ns}o`, 'address', 'add', `${OTHER_HOST}/24`, 'dev', 'eth0']);
  let ready = '';
  inOutside(`require('node:http').createServer((q,s)=>s.end('other port')).listen(${OTHER_PORT},'0.0.0.0',()=>console.log('listening-http'))`, (t) => (ready += t));
  inOutside(`const s=require('node:dgram').createSocket('udp4');s.on('message',(m)=>console.log('GOT '+m.toString('latin1').replace(/[^ -~]/g,' ')));s.bind(${UDP_PORT},'0.0.0.0',()=>console.log('listening-udp'))`, (t) => {
    ready += t;
    udpSeen += t;
  });
  await until('the outside services listen', () => ready.includes('listening-http') && ready.includes('listening-udp'), 10_000);
  daemon = await TestDaemon.start({ netns: lab.ns, extraArgs: ['--listen', `127.0.0.1:${DAEMON_PORT}`, '--vm-uid-base', String(FIRST_VM_UID)] });
  const guest = buildHelperGuest(mkdtempSync('/tmp/naimg-'));
  await cliJson(daemon, ['image', 'create', 'bb', '--from', guest.root, '--format', 'raw', '--kernel', guest.kernel, '--initrd', guest.initrd,
    '--cmdline', `${KERNEL_APPEND} ardesia.net=dhcp`, '--memory', '192M']);
});
after(async () => {
  for (const s of servers) s.kill('SIGKILL');
  await daemon?.destroy();
  await lab?.destroy();
});

function allowSet(): string {
  return execFileSync('ip', ['netns', 'exec', lab.ns, 'nft', 'list', 'set', 'inet', natGuardTable(daemon.dataDir), 'allow_list']).toString();
}

const ALLOWED = `${OUTSIDE_HOST}:${LAB_HTTP_PORT}`;

test('the services the guest must not reach are there: the host namespace reaches the other port, host and UDP service', async () => {
  const fetched = execFileSync('ip', ['netns', 'exec', lab.ns, process.execPath, '-e',
    `Promise.all(['http://${OUTSIDE_HOST}:${OTHER_PORT}/','http://${OTHER_HOST}:${LAB_HTTP_PORT}/'].map((u)=>fetch(u).then((r)=>r.status))).then((s)=>console.log(s.join(',')))`]).toString().trim();
  assert.equal(fetched, '200,200');
});

test('an allow-listed guest reaches its destination at its real address, twice at once, and nothing else', async () => {
  await Promise.all([bootDesktop(daemon, 'listed', ['--network', 'nat', '--nat-allow', ALLOWED]), bootDesktop(daemon, 'listed2', ['--network', 'nat', '--nat-allow', ALLOWED])]);
  // The first connection waits 4 s before its request (each answer is read apart: the body ends without a newline), so the second one runs while it is open (one guestfwd chardev would mix or refuse them).
  const both = await onConsole(daemon, 'listed', `(sleep 4; printf 'GET / HTTP/1.0\\r\\n\\r\\n') | nc -w 20 ${OUTSIDE_HOST} ${LAB_HTTP_PORT} > /tmp/c1 & sleep 1; printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 20 ${OUTSIDE_HOST} ${LAB_HTTP_PORT} > /tmp/c2; wait; r=$(for f in /tmp/c1 /tmp/c2; do head -c 15 $f; echo; done | grep -c '^HTTP/1.. 200')`);
  const got = {
    allowed: await tcpReach(daemon, 'listed', OUTSIDE_HOST, LAB_HTTP_PORT),
    concurrent: both,
    otherPort: await tcpProbe(daemon, 'listed', OUTSIDE_HOST, OTHER_PORT),
    otherHost: await tcpProbe(daemon, 'listed', OTHER_HOST, LAB_HTTP_PORT),
    hostAddress: await tcpProbe(daemon, 'listed', LAB_HOST, LAB_HTTP_PORT),
    daemonVia10022: await tcpProbe(daemon, 'listed', '10.0.2.2', DAEMON_PORT),
    udpAllowedHost: await udpReaches(daemon, 'listed', OUTSIDE_HOST, UDP_PORT, 'listedudp', () => udpSeen),
    secondVm: await tcpReach(daemon, 'listed2', OUTSIDE_HOST, LAB_HTTP_PORT),
  };
  assert.match(got.allowed, OK, JSON.stringify(got));
  assert.match(got.secondVm, OK, JSON.stringify(got));
  assert.deepEqual({ ...got, allowed: 'ok', secondVm: 'ok' }, {
    allowed: 'ok', concurrent: '2', otherPort: 'none', otherHost: 'none', hostAddress: 'none', daemonVia10022: 'none', udpAllowedHost: false, secondVm: 'ok',
  });
});

test("each allow-listed QEMU runs sandboxed as a uid of its own: not root, not the daemon's, not ardesia-qemu, not the other VM's", () => {
  const qemuAccount = Number(execFileSync('id', ['-u', 'ardesia-qemu']).toString());
  const uids = ['listed', 'listed2'].map((vm) => qemuStatus(daemon, vm, 'Uid').map(Number));
  for (const [vm, ids] of [['listed', uids[0]!], ['listed2', uids[1]!]] as const) {
    assert.ok(ids.every((id) => id === ids[0]), `${vm}: real, effective, saved and fs uids agree: ${ids}`);
    assert.ok(ids[0]! >= FIRST_VM_UID + 32_768 && ids[0]! < FIRST_VM_UID + 65_536, `${vm}: uid ${ids[0]} is in the allow-list half of the VM range`);
    assert.notEqual(ids[0], 0);
    assert.notEqual(ids[0], process.getuid!()); // the daemon runs as the test's user
    assert.notEqual(ids[0], qemuAccount);
    assert.equal(qemuStatus(daemon, vm, 'Seccomp')[0], '2', `${vm}: seccomp filter on`);
    assert.equal(qemuStatus(daemon, vm, 'NoNewPrivs')[0], '1');
  }
  assert.notEqual(uids[0]![0], uids[1]![0]);
  assert.match(allowSet(), new RegExp(`${uids[0]![0]} \\. ${OUTSIDE_HOST.replace(/\./g, '\\.')} \\. ${LAB_HTTP_PORT}`));
});

test("a file is handed to the allow-listed QEMU as a home is at login: the fd helper runs as that VM's uid", async () => {
  const file = join(mkdtempSync('/tmp/nahome-'), 'home.img');
  writeFileSync(file, Buffer.alloc(1 << 20));
  const fdset = await handFileToQemu(join(daemon.dataDir, 'runtime', 'listed', 'qmp-fd.sock'), file, true);
  assert.ok(Number.isInteger(fdset) && fdset >= 0, String(fdset));
});

test('after the daemon is killed and restarted, the live VM keeps its uid and gets its destinations back, and only those', async () => {
  const uid = qemuStatus(daemon, 'listed', 'Uid')[0]!;
  await daemon.kill('SIGKILL');
  await daemon.spawn(); // its start replaces the table (an empty set), then reconcile adds the live VMs' elements back
  await until('the allow set holds the adopted VM again', () => allowSet().includes(`${uid} . `), 60_000, 500);
  assert.equal(qemuStatus(daemon, 'listed', 'Uid')[0], uid, 'the same QEMU');
  assert.match(await tcpReach(daemon, 'listed', OUTSIDE_HOST, LAB_HTTP_PORT), OK);
  assert.equal(await tcpProbe(daemon, 'listed', OUTSIDE_HOST, OTHER_PORT), 'none');
});

test("a stopped VM's destinations leave the set", async () => {
  const uid = qemuStatus(daemon, 'listed2', 'Uid')[0]!;
  assert.equal((await daemon.cli(['desktop', 'stop', 'listed2'])).code, 0);
  await until('the allow set drops the stopped VM', () => !allowSet().includes(`${uid} . `), 60_000, 500);
  assert.ok(allowSet().includes(`${qemuStatus(daemon, 'listed', 'Uid')[0]} . `), allowSet());
  assert.equal((await daemon.cli(['desktop', 'stop', 'listed'])).code, 0);
});
