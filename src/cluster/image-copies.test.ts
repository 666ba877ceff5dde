// What the controller sends a host without shared storage: only files its store (a real SQLite store here) records as
// image versions or boot files, from the byte asked; anything else an agent asks for — a home, a desktop's disk, a way
// out of images/ — is refused, and no stream is opened. The link and the stream registry are stand-ins (the real ones
// are in test/cluster/local-storage.postgres.test.ts).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pino from 'pino';
import { WebSocket, WebSocketServer } from 'ws';
import type { AgentMessage, ControllerMessage } from '../contract/agent.js';
import { openStore, type Store } from '../store/db.js';
import type { AgentLinks, ImageFetchHandler } from './agent-links.js';
import type { AgentStreams } from './agent-streams.js';
import { bootFileAt, ImageCopies } from './image-copies.js';

let root: string;
let data: string;
let store: Store;
let server: WebSocketServer;
let fetchHandler: ImageFetchHandler;
const sent: ControllerMessage[] = [];
/** Streams the copier expected: each is met by the next socket the test dials. */
const expected: Array<(ws: WebSocket) => void> = [];
const version = () => join(data, 'images', 'bb', '1.qcow2');
const kernel = () => join(data, 'images', 'bb', 'boot', 'kernel-vmlinuz');
const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'ard-ic-'));
  data = join(root, 'data');
  mkdirSync(join(data, 'images', 'bb', 'boot'), { recursive: true });
  mkdirSync(join(data, 'homes'), { recursive: true });
  writeFileSync(version(), randomBytes(3 * 2 ** 20 + 17));
  writeFileSync(kernel(), randomBytes(100_000));
  writeFileSync(join(data, 'images', 'bb', 'boot', 'notes.txt'), 'not a boot file of the image');
  writeFileSync(join(data, 'homes', 'alice.qcow2'), 'her documents');
  store = await openStore(join(root, 'store.db'));
  await store
    .insertInto('images')
    .values({ name: 'bb', arch: 'amd64', firmware: 'bios', memory_mib: 192, kernel: 'kernel-vmlinuz', initrd: null, cmdline: null, guest_helper: null, current_version: 1, created_at: 't', created_by: 'root' })
    .execute();
  await store.insertInto('image_versions').values({ image: 'bb', version: 1, sha256: sha(readFileSync(version())).toUpperCase(), backing_version: null, depth: 1, virtual_size: 1, created_at: 't', created_by: 'root' }).execute();
  server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  server.on('connection', (ws) => {
    ws.pause(); // as AgentStreams hands it over
    expected.shift()!(ws);
  });
  await new Promise((resolve) => server.once('listening', resolve));
  const links = {
    attachImages: (h: ImageFetchHandler) => void (fetchHandler = h),
    sendTo: (_host: string, m: ControllerMessage) => (sent.push(m), true),
  } as unknown as AgentLinks;
  const streams = {
    expect: () => ({ id: 'abcdefgh12345678', secret: 's', socket: new Promise<WebSocket>((resolve) => expected.push(resolve)) }),
    cancel: () => undefined,
  } as unknown as AgentStreams;
  new ImageCopies(store, data, links, streams, pino({ level: 'silent' }));
});

after(async () => {
  server?.close();
  await store?.destroy();
  rmSync(root, { recursive: true, force: true });
});

/** Asks as an agent would; the answer, and the bytes read from its stream when it opened one. */
async function ask(path: string, offset = 0): Promise<{ answer: ControllerMessage; bytes?: Buffer; closeCode?: number }> {
  sent.length = 0;
  const m: Extract<AgentMessage, { type: 'image-fetch' }> = { type: 'image-fetch', id: 'abcdefgh12345678', path, offset };
  fetchHandler('blade4', m);
  for (let i = 0; i < 200 && sent.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  const answer = sent[0]!;
  if (answer.type !== 'image-stream' || answer.error) return { answer };
  const ws = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  const chunks: Buffer[] = [];
  ws.on('message', (d: Buffer) => chunks.push(d));
  const closeCode = await new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  return { answer, bytes: Buffer.concat(chunks), closeCode };
}

test('a published version is sent from the byte asked, with its published sum; a boot file of the image with its own', async () => {
  const whole = readFileSync(version());
  const r = await ask(version(), 1_000_001);
  assert.ok(r.answer.type === 'image-stream' && !r.answer.error);
  assert.deepEqual([r.answer.size, r.answer.sha256], [whole.length, sha(whole)]);
  assert.ok(r.bytes!.equals(whole.subarray(1_000_001)), 'the bytes from the offset on');
  assert.equal(r.closeCode, 1000);
  const k = await ask(kernel());
  assert.ok(k.answer.type === 'image-stream' && k.answer.sha256 === sha(readFileSync(kernel())));
  assert.ok(k.bytes!.equals(readFileSync(kernel())));
});

test('an agent asking for anything else is refused and gets no stream: a home, a way out of images/, an unrecorded version or file', async () => {
  const refused: Array<[string, string]> = [
    [join(data, 'homes', 'alice.qcow2'), 'IMAGE_NOT_FOUND'],
    [`${join(data, 'images', 'bb', 'boot')}/../../../homes/alice.qcow2`, 'IMAGE_NOT_FOUND'],
    [`${join(data, 'images', 'bb')}/../bb/1.qcow2`, 'IMAGE_NOT_FOUND'],
    [join(data, 'images', 'bb', 'boot', 'notes.txt'), 'IMAGE_NOT_FOUND'],
    [join(data, 'images', 'bb', '2.qcow2'), 'IMAGE_VERSION_NOT_FOUND'],
    ['/etc/shadow', 'IMAGE_NOT_FOUND'],
  ];
  for (const [path, code] of refused) {
    const r = await ask(path);
    assert.ok(r.answer.type === 'image-stream', path);
    assert.equal(r.answer.error?.code, code, path);
    assert.equal(r.answer.stream, undefined, path);
  }
  assert.equal(expected.length, 0, 'no stream was expected');
  const beyond = await ask(version(), readFileSync(version()).length + 1);
  assert.ok(beyond.answer.type === 'image-stream' && beyond.answer.error?.code === 'BAD_REQUEST');
});

test('bootFileAt: only IMAGES/IMAGE/boot/FILE', () => {
  assert.deepEqual(bootFileAt('/d/images', '/d/images/bb/boot/kernel-x'), { image: 'bb', file: 'kernel-x' });
  for (const path of ['/d/images/bb/kernel-x', '/d/images/boot/kernel-x', '/d/homes/bb/boot/kernel-x', '/d/images/bb/boot/x/kernel']) assert.equal(bootFileAt('/d/images', path), undefined, path);
});
