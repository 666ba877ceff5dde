// The copies of a host without shared storage, against a WebSocket source in this process standing in for the
// controller's image-stream (the real one is in test/cluster/local-storage.postgres.test.ts): real qcow2 files made
// with qemu-img, a chain of two versions, a cut copy going on, a corrupt one thrown away.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pino from 'pino';
import { WebSocket, WebSocketServer } from 'ws';
import type { LocalFiles } from '../../contract/agent.js';
import { ArdesiaError } from '../../contract/errors.js';
import { VmSpec } from '../../contract/vm.js';
import { filesOffHost, type ImageFetcher, LocalImages } from './local-images.js';

let root: string;
let server: WebSocketServer;
let v1: string;
let v2: string;
let kernel: string;
const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
/** What the source was asked for: [path, offset]. */
const asked: Array<[string, number]> = [];
/** The source's behaviour for the next fetches. */
let cutAfter: number | undefined;
let lie = false;

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'ard-li-'));
  const images = join(root, 'controller', 'images', 'bb');
  mkdirSync(join(images, 'boot'), { recursive: true });
  writeFileSync(join(root, 'raw'), randomBytes(2 * 2 ** 20));
  v1 = join(images, '1.qcow2');
  v2 = join(images, '2.qcow2');
  kernel = join(images, 'boot', 'kernel-bzImage');
  execFileSync('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', join(root, 'raw'), v1]);
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', v1, v2]);
  writeFileSync(kernel, randomBytes(300_000));
  server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  server.on('connection', (ws, req) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const bytes = readFileSync(url.searchParams.get('path')!).subarray(Number(url.searchParams.get('offset')));
    const end = cutAfter === undefined ? bytes.length : Math.min(cutAfter, bytes.length);
    for (let at = 0; at < end; at += 65536) ws.send(bytes.subarray(at, Math.min(at + 65536, end)));
    ws.close(cutAfter === undefined ? 1000 : 1001);
  });
  await new Promise((resolve) => server.once('listening', resolve));
});

after(() => {
  server?.close();
  rmSync(root, { recursive: true, force: true });
});

const fetcher: ImageFetcher = async (path, offset) => {
  asked.push([path, offset]);
  const ws = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/?path=${encodeURIComponent(path)}&offset=${offset}`);
  await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
  ws.pause();
  return { ws, size: statSync(path).size, sha256: lie ? 'f'.repeat(64) : sha(path) };
};

function store(name: string): { images: LocalImages; dir: string } {
  const dir = join(root, name);
  const images = new LocalImages(dir, 'blade4', pino({ level: 'silent' }));
  images.fetcher = fetcher;
  return { images, dir };
}

const spec = () =>
  VmSpec.parse({
    name: 'd1',
    disks: [
      { path: '/ctl/desktops/d1/system.qcow2', format: 'qcow2' },
      { path: '/ctl/desktops/d1/scratch-home.qcow2', format: 'qcow2', serial: 'ardesia-home' },
    ],
    boot: { kernel, cmdline: 'console=ttyS0' },
  });

test('a version chain is copied whole, going on from a cut copy; its disks are made here and every path is local', async () => {
  const { images, dir } = store('host-a');
  asked.length = 0;
  // The first 100000 bytes of version 1 arrived before a cut.
  mkdirSync(join(images.copyOf(v1), '..'), { recursive: true });
  writeFileSync(`${images.copyOf(v1)}.part`, readFileSync(v1).subarray(0, 100_000));
  const files: LocalFiles = { disks: [{ disk: 0, base: v2 }, { disk: 1, blankBytes: 8 * 2 ** 20 }], boot: [kernel] };
  const out = await images.prepare(spec(), [{ path: v2, sha256: sha(v2) }, { path: v1, sha256: sha(v1) }], files);
  assert.deepEqual(asked, [[v2, 0], [v1, 100_000], [kernel, 0]]);
  assert.deepEqual(out.disks.map((d) => d.path), [join(dir, 'local-disks', 'd1', 'disk0.qcow2'), join(dir, 'local-disks', 'd1', 'disk1.qcow2')]);
  assert.equal(out.disks[1]!.serial, 'ardesia-home');
  assert.equal(out.boot.kernel, images.copyOf(kernel));
  assert.equal(out.boot.cmdline, 'console=ttyS0');
  // The made clone rests on the copies, not on the controller's files, and reads as the controller's version does.
  const chain = JSON.parse(execFileSync('qemu-img', ['info', '-U', '--backing-chain', '--output=json', out.disks[0]!.path], { encoding: 'utf8' })) as Array<{ filename: string }>;
  assert.deepEqual(chain.map((c) => c.filename), [out.disks[0]!.path, images.copyOf(v2), images.copyOf(v1)]);
  execFileSync('qemu-img', ['compare', '-q', out.disks[0]!.path, v2]);
  const blank = JSON.parse(execFileSync('qemu-img', ['info', '-U', '--output=json', out.disks[1]!.path], { encoding: 'utf8' })) as { 'virtual-size': number; 'backing-filename'?: string };
  assert.deepEqual([blank['virtual-size'], blank['backing-filename']], [8 * 2 ** 20, undefined]);
  // A second start copies nothing again and makes its disks afresh.
  asked.length = 0;
  writeFileSync(out.disks[1]!.path, 'written by the last session');
  const again = await images.prepare(spec(), [{ path: v2, sha256: sha(v2) }, { path: v1, sha256: sha(v1) }], files);
  assert.deepEqual(asked, []);
  assert.notEqual(readFileSync(again.disks[1]!.path).subarray(0, 4).toString('latin1'), 'writ');
});

test('a copy cut by its stream keeps what arrived and goes on from there at the next start', async () => {
  const { images } = store('host-b');
  asked.length = 0;
  cutAfter = 500_000;
  const files: LocalFiles = { disks: [{ disk: 0, base: v1 }], boot: [] };
  const one = VmSpec.parse({ name: 'd2', disks: [{ path: '/ctl/desktops/d2/system.qcow2' }] });
  await assert.rejects(images.prepare(one, [], files), (err: ArdesiaError) => err.code === 'IMAGE_COPY_INCOMPLETE' && /cut at byte 500000 of \d+/.test(err.message));
  assert.equal(statSync(`${images.copyOf(v1)}.part`).size, 500_000);
  cutAfter = undefined;
  await images.prepare(one, [], files);
  assert.deepEqual(asked, [[v1, 0], [v1, 500_000]]);
  assert.equal(sha(images.copyOf(v1)), sha(v1));
});

test('a copy whose sum is wrong is thrown away; a controller file that is not the published version is not copied', async () => {
  const { images } = store('host-c');
  const one = VmSpec.parse({ name: 'd3', disks: [{ path: '/ctl/desktops/d3/system.qcow2' }] });
  const files: LocalFiles = { disks: [{ disk: 0, base: v1 }], boot: [] };
  mkdirSync(join(images.copyOf(v1), '..'), { recursive: true });
  writeFileSync(`${images.copyOf(v1)}.part`, randomBytes(4096)); // not the version's first bytes
  await assert.rejects(images.prepare(one, [], files), (err: ArdesiaError) => err.code === 'IMAGE_CORRUPT' && /was thrown away/.test(err.message));
  assert.equal(existsSync(`${images.copyOf(v1)}.part`), false);
  lie = true;
  try {
    await assert.rejects(images.prepare(one, [{ path: v1, sha256: sha(v1) }], files), (err: ArdesiaError) => err.code === 'IMAGE_CORRUPT' && /not the published/.test(err.message));
  } finally {
    lie = false;
  }
  assert.equal(existsSync(images.copyOf(v1)), false);
});

test('a VM needing a file of the shared folder is refused, naming it; without a link nothing is copied', async () => {
  const { images } = store('host-d');
  const vm = VmSpec.parse({ name: 'd4', disks: [{ path: '/ctl/desktops/d4/system.qcow2' }, { path: '/ctl/vms/data.qcow2' }], cdrom: '/ctl/iso/x.iso' });
  assert.deepEqual(filesOffHost(vm, { disks: [{ disk: 0, base: v1 }], boot: [] }), ['/ctl/vms/data.qcow2', '/ctl/iso/x.iso']);
  await assert.rejects(images.prepare(vm, [], { disks: [{ disk: 0, base: v1 }], boot: [] }), (err: ArdesiaError) => err.code === 'PLACEMENT_NO_SHARED_STORAGE' && /\/ctl\/vms\/data\.qcow2, \/ctl\/iso\/x\.iso/.test(err.message) && /blade4 does not mount/.test(err.message));
  images.fetcher = undefined;
  await assert.rejects(images.prepare(VmSpec.parse({ name: 'd5', disks: [{ path: '/ctl/desktops/d5/system.qcow2' }] }), [], { disks: [{ disk: 0, base: v1 }], boot: [] }), (err: ArdesiaError) => err.code === 'AGENT_NOT_LINKED');
});

test('copies and made disks no VM of the host holds are removed; those held stay', async () => {
  const { images, dir } = store('host-e');
  const files: LocalFiles = { disks: [{ disk: 0, base: v2 }], boot: [kernel] };
  await images.prepare(VmSpec.parse({ name: 'd6', disks: [{ path: '/ctl/desktops/d6/system.qcow2' }], boot: { kernel } }), [], files);
  writeFileSync(`${images.copyOf(join(root, 'controller', 'images', 'bb', '3.qcow2'))}.part`, 'a cut copy of a version nobody wants now');
  await images.collect(new Set([v2, v1]), new Set(['d6']));
  const left = readdirSync(join(dir, 'image-copies'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name).sort();
  assert.deepEqual(left, ['1.qcow2', '2.qcow2']);
  assert.deepEqual(readdirSync(join(dir, 'local-disks')), ['d6']);
  await images.collect(new Set(), new Set());
  assert.deepEqual(readdirSync(join(dir, 'image-copies'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile()), []);
  assert.deepEqual(readdirSync(join(dir, 'local-disks')), []);
});
