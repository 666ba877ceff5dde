// Attacker: whoever takes over a native helper (a browser's WebSocket bytes in the display relay, a PC on the
// netboot network driving a TFTP transfer). Defence: the helpers drop root once they hold their sockets
// (native/run-as.h), so a compromised helper is the unprivileged account, not root. Real helper processes.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { pipeDisplay } from '../../src/gateway/proxy.js';
import { displayRelayBinary } from '../../src/gateway/relay.js';
import { displayHopBinary, hopDial, hopListen } from '../../src/gateway/display-hop.js';
import { serverCertificateEnsure } from '../../src/tls/certs.js';
import { DHCP_PORT_DEFAULT_PATH } from '../../src/netboot/dhcp/port.js';
import { encodeRequest } from '../../src/netboot/tftp/codec.js';
import { tftpSenderBinary } from '../../src/netboot/tftp/native-sender.js';
import { TftpServer } from '../../src/netboot/tftp/server.js';
import { addTestNamespaceSync } from '../helpers/netns.js';

/** Only a guard against a hung test; nothing asserts how long anything took. */
const GUARD_MS = 30_000;
const dir = mkdtempSync(join(tmpdir(), 'helper-drop-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The ids from /proc/PID/status: real, effective, saved and filesystem uid (or gid). */
function ids(pid: number, field: 'Uid' | 'Gid' | 'Groups'): number[] {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${field}:`)) ?? '';
  return line.slice(field.length + 1).trim().split(/\s+/).filter(Boolean).map(Number);
}

/** Our child process named `comm`, once it exists and has finished starting (it waits on its sockets by then). */
async function childNamed(comm: string): Promise<number> {
  const guard = Date.now() + GUARD_MS;
  while (Date.now() < guard) {
    for (const entry of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        const [name, rest] = [stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), stat.slice(stat.lastIndexOf(')') + 2).split(' ')];
        if (name === comm && Number(rest[1]) === process.pid && rest[0] === 'S') return Number(entry);
      } catch {
        // gone meanwhile
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no ${comm} child of this process appeared`);
}

function assertUnprivileged(pid: number, what: string): void {
  const uids = ids(pid, 'Uid');
  const gids = ids(pid, 'Gid');
  assert.equal(uids.length, 4, `${what}: ${uids}`);
  for (const uid of uids) assert.notEqual(uid, 0, `${what} runs with uid 0 (${uids.join(' ')})`);
  for (const gid of gids) assert.notEqual(gid, 0, `${what} runs with gid 0 (${gids.join(' ')})`);
  assert.ok(!ids(pid, 'Groups').includes(0), `${what} kept root's group`);
}

test('the display relay runs without root once it holds the browser and VNC sockets', async () => {
  assert.ok(displayRelayBinary().path, `the relay is needed here: ${displayRelayBinary().why}`);
  const vncPath = join(dir, 'vnc.sock');
  const held: Socket[] = [];
  const vncServer: Server = createServer((s) => held.push(s));
  await new Promise<void>((r) => vncServer.listen(vncPath, r));
  const browserServer: Server = createServer((s) => held.push(s));
  await new Promise<void>((r) => browserServer.listen(0, '127.0.0.1', r));
  const port = (browserServer.address() as { port: number }).port;
  const client = connect(port, '127.0.0.1');
  const browserSide = await new Promise<Socket>((r) => browserServer.once('connection', r));
  const vnc = connect(vncPath);
  await new Promise((r) => vnc.once('connect', r));
  let onEnd!: () => void;
  const ended = new Promise<void>((resolve) => (onEnd = resolve));
  const pipe = pipeDisplay(browserSide, Buffer.alloc(0), vnc, { onEnd });
  const pid = await childNamed('display-relay');
  try {
    assertUnprivileged(pid, 'the display relay');
  } finally {
    pipe.close(1000, 'test over');
    client.destroy();
  }
  for (const s of held) s.destroy();
  await ended;
  vncServer.close();
  browserServer.close();
});

test("the display hop's two ends (a browser's bytes to an agent's host, a VM's screen back) run without root", async () => {
  const binary = displayHopBinary().path;
  assert.ok(binary, `the hop is needed here: ${displayHopBinary().why}`);
  const cert = await serverCertificateEnsure(join(dir, 'hop-tls'), '127.0.0.1');
  const pem = Buffer.concat([readFileSync(cert.certPath), readFileSync(cert.keyPath)]);
  const secret = 'h'.repeat(43);
  const hop = await hopListen(binary, { address: '127.0.0.1', peer: '127.0.0.1' }, pem, secret, () => undefined);
  const listening = await childNamed('display-hop');
  assertUnprivileged(listening, "the display hop's controller end");
  const held: Socket[] = [];
  const vncServer: Server = createServer((s) => held.push(s));
  await new Promise<void>((r) => vncServer.listen(join(dir, 'hop-vnc.sock'), r));
  const vnc = connect(join(dir, 'hop-vnc.sock'));
  await new Promise((r) => vnc.once('connect', r));
  const tcp = connect(hop.port, '127.0.0.1');
  await new Promise((r) => tcp.once('connect', r));
  const agentEnd = await hopDial(binary, vnc, tcp, cert.fingerprint, secret);
  await hop.claimed;
  try {
    for (const pid of childrenNamed('display-hop')) assertUnprivileged(pid, `the display hop (pid ${pid})`);
    assert.equal(childrenNamed('display-hop').length, 2);
  } finally {
    hop.terminate();
    agentEnd.terminate();
    for (const s of held) s.destroy();
    vncServer.close();
  }
  await Promise.all([hop.ended, agentEnd.ended]);
});

/** Our children named `comm` now. */
function childrenNamed(comm: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const [name, rest] = [stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), stat.slice(stat.lastIndexOf(')') + 2).split(' ')];
      if (name === comm && Number(rest[1]) === process.pid) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

test('the TFTP sender runs without root once it holds its socket and the file', async () => {
  assert.ok(tftpSenderBinary().path, `the sender is needed here: ${tftpSenderBinary().why}`);
  writeFileSync(join(dir, 'big.bin'), Buffer.alloc(200_000, 7));
  const server = await TftpServer.start({ root: dir, address: '127.0.0.1', port: 0, workers: 0, log: () => undefined });
  const client = createSocket('udp4');
  await new Promise<void>((r) => client.bind(0, '127.0.0.1', r));
  // The client never acknowledges: the sender waits (retransmitting) with the transfer open.
  client.send(encodeRequest('rrq', 'big.bin', 'octet', {}), server.port, '127.0.0.1');
  try {
    const pid = await childNamed('tftp-sender');
    assertUnprivileged(pid, 'the TFTP sender');
  } finally {
    client.close();
    server.close();
  }
});

test('the DHCP port helper still dies with its parent after dropping root (the uid switch clears the parent-death signal)', async () => {
  const ns = `hdrop-${process.pid}`;
  addTestNamespaceSync(ns);
  // sh is the helper's parent; stdin is a pipe this test holds open, so only the parent-death signal can end the helper.
  const parent = spawn('ip', ['netns', 'exec', ns, 'sh', '-c', `exec 3<&0; "${DHCP_PORT_DEFAULT_PATH}" 6767 $$ <&3 & wait`], { stdio: ['pipe', 'ignore', 'inherit'] });
  try {
    const helper = await childOf(parent.pid!, 'dhcp-port');
    assertUnprivileged(helper, 'the DHCP port helper');
    process.kill(parent.pid!, 'SIGKILL');
    const guard = Date.now() + GUARD_MS;
    while (existsSync(`/proc/${helper}`) && !readFileSync(`/proc/${helper}/stat`, 'utf8').includes(') Z')) {
      assert.ok(Date.now() < guard, 'the DHCP port helper outlived its parent: it would hold UDP 67 after the daemon is killed');
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    parent.stdin!.destroy();
    execFileSync('ip', ['netns', 'delete', ns]);
  }
});

/** The child `comm` of `ppid`, once it is up and waiting (sleeping). */
async function childOf(ppid: number, comm: string): Promise<number> {
  const guard = Date.now() + GUARD_MS;
  while (Date.now() < guard) {
    for (const entry of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        if (stat.includes(`(${comm})`) && Number(rest[1]) === ppid && rest[0] === 'S' && ids(Number(entry), 'Uid')[0] !== 0) return Number(entry);
      } catch {
        // gone meanwhile
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no ${comm} child of ${ppid} appeared (or it never dropped root)`);
}
