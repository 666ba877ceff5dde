// Import, flatten, copy-as-version, homes and integrity against real qemu-img and real files.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync, writeSync, closeSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  chainDepth, copyOverlayAsVersion, createLinkedClone, flattenImage, homeCreate, homeResize, importImage, rootNames, readQcow2Header, sha256File, verifyImageFile, freezeFile,
} from '../../src/storage/index.js';

let dir: string;
let source: string;
const MiB = 2 ** 20;
const img = (...args: string[]): string => execFileSync('qemu-img', args, { encoding: 'utf8', stdio: 'pipe' });

/** 8 MiB of known content: a repeating pattern, a zero hole and random-looking bytes. */
function knownRaw(path: string): void {
  const buf = Buffer.alloc(8 * MiB);
  for (let i = 0; i < 2 * MiB; i++) buf[i] = (i * 31 + 7) & 0xff;
  for (let i = 5 * MiB; i < 8 * MiB; i += 4) buf.writeUInt32LE((i * 2654435761) >>> 0, i);
  writeFileSync(path, buf);
}

before(() => {
  dir = mkdtempSync('/tmp/ai-');
  source = join(dir, 'src.raw');
  knownRaw(source);
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('importImage', () => {
  for (const format of ['raw', 'qcow2', 'vmdk', 'vdi', 'vhdx'] as const) {
    it(`imports ${format} with the same content and rising progress ending at 1`, async () => {
      const foreign = join(dir, `in.${format}`);
      if (format === 'raw') copyFileSync(source, foreign);
      else img('convert', '-f', 'raw', '-O', format, source, foreign);
      const dest = join(dir, `out-${format}.qcow2`);
      const seen: number[] = [];
      const result = await importImage({ source: foreign, dest, claimedFormat: format, onProgress: (f) => seen.push(f) });
      assert.equal(result.sourceFormat, format);
      assert.equal(result.virtualSize, 8 * MiB);
      assert.equal(result.sha256, await sha256File(dest));
      img('compare', '-f', 'raw', '-F', 'qcow2', source, dest);
      assert.equal(await chainDepth(dest), 0);
      assert.ok(seen.length >= 2, `progress ${seen.join(',')}`);
      for (let i = 1; i < seen.length; i++) assert.ok((seen[i] ?? 0) > (seen[i - 1] ?? 0), `progress ${seen.join(',')}`);
      assert.equal(seen.at(-1), 1);
      assert.equal(existsSync(`${dest}.partial`), false);
    });
  }

  it('never overwrites an existing destination and leaves no partial', async () => {
    const dest = join(dir, 'out-raw.qcow2');
    const before = await sha256File(dest);
    await assert.rejects(importImage({ source, dest, claimedFormat: 'raw' }), { code: 'VM_EXISTS' });
    assert.equal(await sha256File(dest), before);
    assert.equal(existsSync(`${dest}.partial`), false);
  });

  it('fails with DISK_FULL on a full filesystem and leaves nothing', async (t) => {
    const mnt = join(dir, 'small');
    mkdirSync(mnt);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mnt], { stdio: 'pipe' });
    } catch (err) {
      t.skip(`cannot mount a tmpfs here: ${(err as Error).message}`);
      return;
    }
    try {
      const big = join(dir, 'big.raw');
      const fd = openSync(big, 'w');
      const chunk = Buffer.alloc(MiB);
      for (let m = 0; m < 24; m++) {
        for (let i = 0; i < MiB; i += 4) chunk.writeUInt32LE(((m * MiB + i) * 2246822519) >>> 0, i);
        writeSync(fd, chunk);
      }
      closeSync(fd);
      await assert.rejects(importImage({ source: big, dest: join(mnt, 'v1.qcow2'), claimedFormat: 'raw' }), (err: { code: string; message: string }) => {
        assert.equal(err.code, 'DISK_FULL', err.message);
        assert.match(err.message, /nothing was changed/);
        return true;
      });
      assert.deepEqual(readdirSync(mnt), []);
    } finally {
      execFileSync('umount', [mnt]);
    }
  });
});

describe('flatten, copy as version, chain depth', () => {
  it('flattens a chain and turns a maintenance overlay into a version on the same base', async () => {
    const base = join(dir, 'out-qcow2.qcow2');
    const overlay = join(dir, 'maint.qcow2');
    await createLinkedClone({ base, overlay, relativeBacking: true });
    execFileSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0xab 1M 64k', overlay]);
    const top = join(dir, 'top.qcow2');
    await createLinkedClone({ base: overlay, overlay: top });
    assert.equal(await chainDepth(top), 2);

    const flat = join(dir, 'flat.qcow2');
    const seen: number[] = [];
    const { sha256 } = await flattenImage({ source: top, dest: flat, onProgress: (f) => seen.push(f) });
    assert.equal(sha256, await sha256File(flat));
    assert.equal(await chainDepth(flat), 0);
    assert.equal(seen.at(-1), 1);
    img('compare', '-f', 'qcow2', '-F', 'qcow2', top, flat);

    // the version file sits beside its base; re-pointed with a relative name, same content
    const version = join(dir, 'v2.qcow2');
    const copied = await copyOverlayAsVersion({ overlay, dest: version, newBacking: 'out-qcow2.qcow2' });
    assert.equal(copied.sha256, await sha256File(version));
    assert.equal((await readQcow2Header(version)).backingFile, 'out-qcow2.qcow2');
    img('compare', '-f', 'qcow2', '-F', 'qcow2', overlay, version);
    await assert.rejects(copyOverlayAsVersion({ overlay, dest: version, newBacking: base }), { code: 'VM_EXISTS' });
  });
});

describe('homes', () => {
  it('creates once, grows, refuses to shrink', async () => {
    const home = join(dir, 'home.qcow2');
    await homeCreate(home, 64 * MiB);
    await assert.rejects(homeCreate(home, 64 * MiB), { code: 'VM_EXISTS' });
    assert.deepEqual(await homeResize(home, 128 * MiB), { from: 64 * MiB, to: 128 * MiB });
    assert.equal(JSON.parse(img('info', '--output=json', home))['virtual-size'], 128 * MiB);
    await assert.rejects(homeResize(home, 64 * MiB), { code: 'HOME_SHRINK_REFUSED' });
    assert.equal(JSON.parse(img('info', '--output=json', home))['virtual-size'], 128 * MiB);
    await assert.rejects(homeCreate(join(dir, 'nodir', 'h.qcow2'), MiB), { code: 'VM_FILE_MISSING' });
  });

  it('formats a home on the host when given its owner: ext4, the root folder owned by the user with no lost+found in it, a small qcow2', async () => {
    const home = join(dir, 'formatted.qcow2');
    await homeCreate(home, 256 * MiB, { uid: 12345, gid: 12345 });
    const raw = join(dir, 'formatted.raw');
    img('convert', '-f', 'qcow2', '-O', 'raw', home, raw);
    const root = execFileSync('debugfs', ['-R', 'stat /', raw], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    assert.match(root, /User:\s+12345\s+Group:\s+12345/);
    // No lost+found in the user's folder (the desktop's file manager would show it), and the filesystem clean without it.
    assert.deepEqual(rootNames(execFileSync('debugfs', ['-R', 'ls -p /', raw], { stdio: ['ignore', 'pipe', 'ignore'] }).toString()), ['.', '..']);
    const fsck = spawnSync('e2fsck', ['-f', '-n', raw], { encoding: 'utf8' });
    assert.equal(fsck.status, 0, `e2fsck -n: ${fsck.stdout}${fsck.stderr}`);
    assert.ok(JSON.parse(img('info', '--output=json', home))['actual-size'] < 32 * MiB, 'only the metadata takes space');
    assert.equal(existsSync(`${home}.format.raw`), false, 'no scratch file left');
  });
});

describe('integrity', () => {
  it('verifyImageFile detects one changed byte; freezeFile makes the file read-only', async () => {
    const file = join(dir, 'version.qcow2');
    writeFileSync(file, Buffer.alloc(3 * MiB, 0x11));
    const sum = await sha256File(file);
    assert.equal(sum, execFileSync('sha256sum', [file], { encoding: 'utf8' }).split(' ')[0]);
    await verifyImageFile(file, sum);
    const fd = openSync(file, 'r+');
    writeSync(fd, Buffer.from([0x12]), 0, 1, 2 * MiB + 5);
    closeSync(fd);
    await assert.rejects(verifyImageFile(file, sum), { code: 'IMAGE_CORRUPT', message: /no longer matches its recorded checksum; it will not be served/ });
    await freezeFile(file);
    assert.equal((await import('node:fs')).statSync(file).mode & 0o777, 0o444);
    chmodSync(file, 0o644);
  });
});
