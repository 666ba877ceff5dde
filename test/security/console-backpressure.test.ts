// Attacker: the guest OS (and a console client that stops reading). Defences: the serial console's WebSocket drops a
// reader that does not read, so a guest printing without end cannot grow the daemon's memory; text a guest printed
// is made safe before `ardesia vm log` / `vm status` put it on an administrator's terminal (unless --raw).
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { TestDaemon, until } from '../helpers/daemon.js';
import { guestArtifacts } from '../helpers/guests.js';

const g = guestArtifacts();
let daemon: TestDaemon;
let url: string;
let token: string;
let fast: WebSocket;
let fastBytes = 0;

const rssKiB = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
const typeIn = (text: string) => fast.send(Buffer.from(text));

before(async () => {
  daemon = await TestDaemon.start({ extraArgs: ['--listen', '127.0.0.1:0'] });
  url = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(daemon.output)![1]!;
  token = readFileSync(join(daemon.dataDir, 'root.token'), 'utf8').trim();
  const conf = join(daemon.dataDir, 'chatty.conf');
  writeFileSync(conf, `vm "chatty" {\n memory 96M\n boot "${g.amd64.kernel}"\n initrd "${g.amd64.initrd}"\n cmdline "console=ttyS0 quiet"\n disable\n}\n`);
  assert.equal((await daemon.cli(['vm', 'load', conf])).code, 0);
  const started = await daemon.cli(['vm', 'start', 'chatty']);
  assert.equal(started.code, 0, started.stderr);
  await until('the guest banner', async () => (await daemon.cli(['vm', 'log', 'chatty'])).stdout.includes(g.amd64.banner), 300_000, 1000);
  fast = new WebSocket(`${url.replace('http', 'ws')}/v1/vms/chatty/console`, { headers: { authorization: `Bearer ${token}` } });
  fast.on('message', (d: Buffer) => (fastBytes += d.length));
  await new Promise((ok, fail) => fast.once('open', ok).once('error', fail));
});
after(async () => {
  fast?.close();
  await daemon?.destroy();
});

test('escape sequences a guest prints reach the terminal as visible text, except with --raw', async () => {
  typeIn("printf '\\033]0;pwned\\007\\033[2Jmark-%s\\n' esc\n");
  await until('the mark in the log', async () => (await daemon.cli(['vm', 'log', 'chatty', '--raw'])).stdout.includes('mark-esc'), 120_000, 500);
  const safe = await daemon.cli(['vm', 'log', 'chatty']);
  assert.ok(!safe.stdout.includes('\u001b'), 'no ESC byte reaches the terminal');
  assert.ok(!safe.stdout.includes('\u0007'), 'no BEL byte either');
  assert.match(safe.stdout, /\\x1b\]0;pwned\\x07\\x1b\[2Jmark-esc/);
  const raw = await daemon.cli(['vm', 'log', 'chatty', '--raw']);
  assert.ok(raw.stdout.includes('\u001b]0;pwned\u0007'), '--raw gives the bytes as they are');
});

test('a console reader that does not read is dropped; the daemon’s memory stays bounded', async (t) => {
  const pid = daemon.proc!.pid!;
  const before = rssKiB(pid);
  // A client that sends the WebSocket handshake and then never reads a byte.
  const { port, hostname } = new URL(url);
  const slow: Socket = connect(Number(port), hostname);
  await new Promise((ok) => slow.once('connect', ok));
  slow.write(
    `GET /v1/vms/chatty/console HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer ${token}\r\n\r\n`,
  );
  const answer = await new Promise<Buffer>((ok) => slow.once('data', ok));
  assert.match(answer.toString('latin1'), /^HTTP\/1\.1 101/, 'the console is attached');
  slow.pause(); // from here on it reads nothing
  // The guest prints without end.
  typeIn(`while :; do echo ${'flood-'.repeat(20)}; done\n`);
  await until('the slow reader dropped', () => daemon.output.includes('dropped: it did not read its output'), 600_000, 1000);
  const grown = rssKiB(pid) - before;
  t.diagnostic(`daemon RSS grew ${grown} KiB until the slow reader was dropped`);
  assert.ok(grown < 200 * 1024, `the daemon grew ${grown} KiB while the guest flooded`);
  // The reader that does read still gets the output.
  const seen = fastBytes;
  await until('more output for the reading client', () => fastBytes > seen + 10_000, 120_000, 500);
  typeIn('\u0003');
  slow.destroy();
});
