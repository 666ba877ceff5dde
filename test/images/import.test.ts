// Import through the CLI: each disk format becomes a frozen version 1 with its sha256 recorded;
// hostile images and unsafe names are refused and leave nothing behind; delete, audit.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { ImageInfo } from '../../src/contract/images.js';
import { TestDaemon } from '../helpers/daemon.js';
import { guestArtifacts } from '../helpers/guests.js';
import { cliFails, cliJson } from './support.js';

const g = guestArtifacts();
let daemon: TestDaemon;
let work: string;

before(async () => {
  daemon = await TestDaemon.start();
  work = join(daemon.dataDir, 'src');
  execFileSync('mkdir', ['-p', work]);
});
after(async () => {
  await daemon?.destroy();
});

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

for (const format of ['qcow2', 'raw', 'vmdk', 'vdi', 'vhdx'] as const) {
  test(`import of a ${format} disk makes a read-only version 1 with its sha256`, async () => {
    const src = join(work, `disk.${format}`);
    execFileSync('qemu-img', ['convert', '-O', format, g.amd64.rootQcow2, src]);
    const img = await cliJson<ImageInfo>(daemon, ['image', 'create', `img-${format}`, '--from', src, '--format', format]);
    assert.equal(img.currentVersion, 1);
    const v = img.versions[0]!;
    assert.equal(v.version, 1);
    assert.equal(v.virtualSize, 64 * 2 ** 20);
    assert.equal(statSync(v.path).mode & 0o777, 0o444);
    assert.equal(sha256(v.path), v.sha256);
    const info = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', v.path], { encoding: 'utf8' })) as Record<string, unknown>;
    assert.equal(info.format, 'qcow2');
    assert.equal(info['backing-filename'], undefined);
    // Same guest content whatever the container format was.
    execFileSync('qemu-img', ['compare', '-q', g.amd64.rootQcow2, v.path]);
  });
}

test('a qcow2 whose backing file points at /etc/shadow is refused and leaves nothing behind', async () => {
  const hostile = join(work, 'hostile.qcow2');
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', '/etc/shadow', hostile, '64M']);
  const r = await cliFails(daemon, ['image', 'create', 'evil', '--from', hostile]);
  assert.match(r.stderr, /backing|refer|hostile/i);
  assert.equal(existsSync(join(daemon.dataDir, 'images', 'evil')), false);
  const list = await cliJson<ImageInfo[]>(daemon, ['image', 'list']);
  assert.equal(list.some((i) => i.name === 'evil'), false);
});

test('a raw file claimed to be qcow2 is refused', async () => {
  const raw = join(work, 'plain.raw');
  execFileSync('qemu-img', ['create', '-q', '-f', 'raw', raw, '1M']);
  const r = await cliFails(daemon, ['image', 'create', 'liar', '--from', raw, '--format', 'qcow2']);
  assert.match(r.stderr, /qcow2|format/i);
  assert.equal(existsSync(join(daemon.dataDir, 'images', 'liar')), false);
});

test('garbage or a 5-byte file is refused with what was detected, leaving no image record and no file', async () => {
  const garbage = join(work, 'garbage.qcow2');
  writeFileSync(garbage, Buffer.concat([Buffer.alloc(4), randomBytes(100 * 1024 - 4)]));
  const tiny = join(work, 'tiny.img');
  writeFileSync(tiny, 'hello');
  const cases: [string, string[], RegExp][] = [
    ['junk1', ['--from', garbage], /garbage\.qcow2 is not qcow2 \(by its name\): no qcow2 header; its first bytes look like raw data — if it is a raw disk, import with --format raw/],
    ['junk2', ['--from', garbage, '--format', 'qcow2'], /garbage\.qcow2 is not qcow2: no qcow2 header/],
    ['junk3', ['--from', tiny], /tiny\.img has no qcow2, vmdk, vdi or vhdx header; its first bytes look like text/],
    ['junk4', ['--from', tiny, '--format', 'raw'], /tiny\.img is not a raw disk: its size, 5 bytes, is not a whole number of 512-byte sectors/],
  ];
  for (const [name, args, message] of cases) {
    const r = await cliFails(daemon, ['image', 'create', name, ...args]);
    assert.match(r.stderr, message, name);
    assert.match(r.stderr, /give its real format with --format/, name); // the registry hint
    assert.equal(existsSync(join(daemon.dataDir, 'images', name)), false, `${name}: images/${name} is left`);
  }
  const list = await cliJson<ImageInfo[]>(daemon, ['image', 'list']);
  assert.deepEqual(list.filter((i) => i.name.startsWith('junk')), []);
  assert.deepEqual(readdirSync(join(daemon.dataDir, 'images')).filter((f) => f.startsWith('junk')), []);
  // the same bytes given honestly as raw, padded to whole sectors, do import
  const padded = join(work, 'garbage-padded.img');
  writeFileSync(padded, Buffer.concat([readFileSync(garbage), Buffer.alloc(512 * 201 - 100 * 1024)]));
  const ok = await cliJson<ImageInfo>(daemon, ['image', 'create', 'junk-raw', '--from', padded, '--format', 'raw']);
  assert.equal(ok.versions[0]!.virtualSize, 512 * 201);
  await cliJson(daemon, ['image', 'delete', 'junk-raw']);
});

test('names that could leave the data folder are refused', async () => {
  for (const name of ['../x', 'a/b', '.hidden', '']) {
    const r = await cliFails(daemon, ['image', 'create', name, '--from', g.amd64.rootQcow2]);
    assert.match(r.stderr, /not allowed|name/i, name);
  }
  const r = await cliFails(daemon, ['desktop', 'create', '../../etc', '--image', 'img-qcow2']);
  assert.match(r.stderr, /not allowed/);
});

test('a second image of the same name is refused; delete removes the image and its files; all audited', async () => {
  // The raw import test's image, imported here when this test runs alone.
  if ((await daemon.cli(['image', 'show', 'img-raw'])).code !== 0) await cliJson(daemon, ['image', 'create', 'img-raw', '--from', g.amd64.rootQcow2]);
  const again = await cliFails(daemon, ['image', 'create', 'img-raw', '--from', g.amd64.rootQcow2]);
  assert.match(again.stderr, /already exists/);
  const table = await daemon.cli(['image', 'versions', 'img-raw']);
  assert.match(table.stdout, /^VERSION\s+CUR/m);
  assert.match(table.stdout, /^1\s+\*\s+flat/m);
  await cliJson(daemon, ['image', 'delete', 'img-raw']);
  assert.equal(existsSync(join(daemon.dataDir, 'images', 'img-raw')), false);
  const audit = await daemon.api().request<Array<{ action: string; target: string; principal: string }>>('GET', '/v1/audit');
  assert.ok(audit.some((a) => a.action === 'image.delete' && a.target === 'img-raw' && a.principal === 'root'));
  assert.ok(audit.some((a) => a.action === 'image.create' && a.target === 'img-raw' && a.principal === 'root'));
});
