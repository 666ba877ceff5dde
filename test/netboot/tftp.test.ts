// The TFTP server against busybox tftp and our own client, inside test namespaces: checksums,
// option negotiation, ten parallel clients, path traversal and hostile names, malformed packets,
// retransmission when ACKs are lost.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { encodeRequest } from '../../src/netboot/tftp/codec.js';
import { NetLab, type ServerHandle } from './lab.js';

interface Fetch { file: string; bytes?: number; sha256?: string; tsize?: number; blksize?: number; error?: string; code?: number | string }

const SERVER = '10.250.5.1';
let lab: NetLab;
let dir: string;
let root: string;
let server: ServerHandle;
const sums = new Map<string, string>();
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function put(name: string, bytes: Buffer): void {
  writeFileSync(join(root, name), bytes);
  sums.set(name, sha(bytes));
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nbt-'));
  root = join(dir, 'root');
  mkdirSync(join(root, 'sub', 'deep'), { recursive: true });
  put('small.txt', Buffer.from('hello thin client\n'));
  put('exact512.bin', randomBytes(1024));
  put('exact1468.bin', randomBytes(1468 * 3));
  put('empty.bin', Buffer.alloc(0));
  put('big.bin', randomBytes(3 * 1024 * 1024 + 77));
  put('sub/deep/file.bin', randomBytes(5000));
  writeFileSync(join(dir, 'secret'), 'outside the root\n');
  symlinkSync('small.txt', join(root, 'link-in'));
  symlinkSync(join(dir, 'secret'), join(root, 'link-out'));
  symlinkSync('/etc', join(root, 'dir-out'));
  execFileSync('mkfifo', [join(root, 'fifo')]);
  lab = await NetLab.create('t');
  const srv = await lab.addHost('srv', `${SERVER}/24`);
  await lab.addHost('cli', '10.250.5.10/24');
  // Many parallel fetches from one client address here; the per-client cap is tested in test/security/.
  server = await lab.startServer(srv, ['--interface', SERVER, '--root', root, '--no-dhcp', '--tftp-per-client', '64']);
  await server.waitFor((e) => e.event === 'ready');
});

after(async () => {
  await lab?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

// Resends after 3 s (6 tries): under a loaded rehearsal a 1 s timeout once ran out of tries (an exact-multiple fetch).
const fetch = (files: string[], extra: string[] = []) => lab.tool<Fetch[]>(lab.ns('cli'), ['tftp', '--server', SERVER, '--timeout', '3000', ...files.flatMap((f) => ['--file', f]), ...extra], 120_000);

test('busybox tftp fetches files intact, with the default and a 1468-byte block size', async () => {
  for (const [file, blk] of [['small.txt', []], ['big.bin', ['-b', '1468']], ['exact512.bin', []], ['empty.bin', []]] as const) {
    const out = join(dir, `got-${file}`);
    await lab.exec(lab.ns('cli'), 'busybox', ['tftp', '-g', ...blk, '-r', file, '-l', out, SERVER], 60_000);
    assert.equal(sha(readFileSync(out)), sums.get(file), file);
  }
});

test('ten clients at once fetch the big file intact (blksize 1468, tsize)', async () => {
  const seenBefore = server.events.length;
  const results = await fetch(Array.from({ length: 10 }, () => 'big.bin'), ['--blksize', '1468', '--tsize']);
  assert.equal(results.length, 10);
  for (const r of results) {
    assert.equal(r.error, undefined, r.error);
    assert.equal(r.sha256, sums.get('big.bin'));
    assert.equal(r.tsize, 3 * 1024 * 1024 + 77);
    assert.equal(r.blksize, 1468);
  }
  // Each client's last ACK reached the server: every transfer ended done (not resending its last block to a closed port).
  const ends = (e: Record<string, unknown>) => e.file === 'big.bin' && (e.event === 'tftp-done' || e.event === 'tftp-failed');
  await server.waitFor(() => server.events.slice(seenBefore).filter(ends).length >= 10, 30_000, 'ten transfer ends');
  const ended = server.events.slice(seenBefore).filter(ends);
  assert.deepEqual(ended.filter((e) => e.event !== 'tftp-done'), [], 'transfers that never got the last ACK');
});

test('files of an exact multiple of the block size end with an empty block; sub-folders and inner symlinks work', async () => {
  const results = await fetch(['exact512.bin', 'exact1468.bin', 'sub/deep/file.bin', 'link-in', './small.txt']);
  for (const r of results) assert.equal(r.error, undefined, `${r.file}: ${r.error}`);
  assert.equal(results[0]!.sha256, sums.get('exact512.bin'));
  assert.equal(results[1]!.sha256, sums.get('exact1468.bin'));
  assert.equal(results[2]!.sha256, sums.get('sub/deep/file.bin'));
  assert.equal(results[3]!.sha256, sums.get('small.txt'));
  assert.equal(results[4]!.sha256, sums.get('small.txt'));
  const oversized = await fetch(['exact1468.bin'], ['--blksize', '1468']);
  assert.equal(oversized[0]!.sha256, sums.get('exact1468.bin'));
});

const REFUSED: Array<[string, number]> = [
  ['../secret', 2],
  ['sub/../../secret', 2],
  ['/etc/passwd', 2],
  [`${'../'.repeat(10)}etc/passwd`, 2],
  ['link-out', 2],
  ['dir-out/passwd', 2],
  ['fifo', 2],
  ['sub', 2],
  ['sub\\deep\\file.bin', 2],
  ['x'.repeat(256), 2],
  ['missing.bin', 1],
];
test('path traversal and hostile names get TFTP error packets', async () => {
  const seenBefore = server.events.length;
  const results = await fetch(REFUSED.map(([name]) => name), ['--timeout', '2000']);
  // A name with no answer: what the server logged meanwhile says whether the request arrived.
  const logged = () => JSON.stringify(server.events.slice(seenBefore).filter((e) => String(e.event).startsWith('tftp')).map((e) => ({ ...e, file: String(e.file ?? '').slice(0, 40) })));
  REFUSED.forEach(([name, code], i) => assert.equal(results[i]!.code, code, `${name.slice(0, 40)}: ${JSON.stringify(results[i]).slice(0, 300)}; the server logged ${logged()}`));
  assert.ok(!server.events.some((e) => e.event === 'tftp-start' && String(e.file).includes('secret')));
});

const raw = (hex: string) => lab.tool<{ op: string; code?: number; message?: string } | null>(lab.ns('cli'), ['tftp-raw', '--server', SERVER, '--hex', hex]);
const RAW: Array<[string, Buffer, number]> = [
  ['a NUL inside the name (the rest becomes the mode)', Buffer.from('\0\x01small.txt\0../secret\0octet\0', 'latin1'), 4],
  ['an unterminated name', Buffer.from('\0\x01small.txt', 'latin1'), 4],
  ['a write request', encodeRequest('wrq', 'new.bin', 'octet'), 2],
  ['netascii mode', encodeRequest('rrq', 'small.txt', 'netascii'), 4],
  ['a request over 512 bytes', encodeRequest('rrq', 'a'.repeat(600), 'octet'), 4],
  ['truncated (3 bytes)', Buffer.from([0, 1, 0x61]), 4],
  ['an unknown opcode', Buffer.from([0, 9, 0, 0]), 4],
  ['a stray DATA on the request port', Buffer.from([0, 3, 0, 1, 0x61]), 4],
  ['a control character in the name', encodeRequest('rrq', 'sm\x07all.txt', 'octet'), 2],
];
for (const [name, bytes, code] of RAW) {
  test(`${name} → error packet ${code}`, async () => {
    const reply = await raw(bytes.toString('hex'));
    assert.equal(reply?.op, 'error', JSON.stringify(reply));
    assert.equal(reply?.code, code, JSON.stringify(reply));
  });
}

test('lost ACKs: the server resends the block on timeout, then gives up', async () => {
  const result = await lab.tool<{ copies: number }>(lab.ns('cli'), ['tftp-no-ack', '--server', SERVER, '--file', 'big.bin', '--listen', '8000']);
  assert.ok(result.copies >= 3, `block 1 was sent ${result.copies} times`);
});

test('a lossy client that ignores some blocks still gets the whole file', async () => {
  const result = await lab.tool<{ bytes: number; dropped: number }>(lab.ns('cli'), ['tftp-lossy', '--server', SERVER, '--file', 'sub/deep/file.bin']);
  assert.equal(result.bytes, 5000);
  assert.ok(result.dropped > 0);
});

test('a new request from the port of a transfer in flight ends that transfer without an ERROR and is answered', async () => {
  const seenBefore = server.events.length;
  const out = await lab.tool<{ answered: boolean; bytes?: number; oldTid?: number; newTid?: number; packets: unknown[] }>(lab.ns('cli'),
    ['tftp-new-request', '--server', SERVER, '--file', 'big.bin', '--file', 'small.txt']);
  assert.ok(out.answered, `the second request, sent once, got no answer: ${JSON.stringify(out).slice(0, 600)}`);
  assert.equal(out.bytes, 18);
  assert.notEqual(out.newTid, out.oldTid);
  const fromOld = (out.packets as Array<{ port: number; op: string }>).filter((p) => p.port === out.oldTid);
  assert.ok(fromOld.every((p) => p.op !== 'error'), `the superseded transfer sent an ERROR: ${JSON.stringify(fromOld)}`);
  const ends = server.events.slice(seenBefore).filter((e) => e.event === 'tftp-failed' && e.file === 'big.bin');
  assert.deepEqual(ends.map((e) => e.why), ['a new request came from the same port']);
});

test('after all that the server is healthy and still serving', async () => {
  const [r] = await fetch(['small.txt']);
  assert.equal(r!.sha256, sums.get('small.txt'));
  assert.ok(!server.events.some((e) => e.event === 'tftp-internal-error'), JSON.stringify(server.events.filter((e) => e.event === 'tftp-internal-error')));
  // serve.js defaults to worker threads, which only the TypeScript fallback uses.
  const via = process.env.ARDESIA_TFTP_SENDER === 'off' ? 'worker' : 'native';
  const starts = server.events.filter((e) => e.event === 'tftp-start');
  assert.ok(starts.length > 0 && starts.every((e) => e.via === via), `every transfer via ${via}: ${JSON.stringify(starts.map((e) => e.via))}`);
});
