// Hostile and invalid images built here, each refused by inspectForeignImage before use.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, openSync, rmSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { importImage, inspectForeignImage, qcow2OverlayBytes } from '../../src/storage/index.js';

let dir: string;
const img = (...args: string[]): void => void execFileSync('qemu-img', args, { stdio: 'pipe' });

function patch(path: string, offset: number, bytes: number[]): void {
  const fd = openSync(path, 'r+');
  writeSync(fd, Buffer.from(bytes), 0, bytes.length, offset);
  closeSync(fd);
}
const u64be = (n: bigint): number[] => [...Array(8)].map((_, i) => Number((n >> BigInt(56 - 8 * i)) & 0xffn));

before(() => {
  dir = mkdtempSync('/tmp/ah-');
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('inspectForeignImage refuses', () => {
  const cases: Array<[string, () => string, string, RegExp, string?]> = [
    ['a qcow2 whose backing file is /etc/shadow', () => {
      const p = join(dir, 'shadow.qcow2');
      img('create', '-q', '-f', 'qcow2', '-u', '-F', 'raw', '-b', '/etc/shadow', p, '1M');
      return p;
    }, 'IMAGE_HOSTILE', /backing file.*\/etc\/shadow/],
    ['our own overlay format pointing at /etc/shadow', () => {
      const p = join(dir, 'ours.qcow2');
      writeFileSync(p, qcow2OverlayBytes({ virtualSize: 2 ** 20, backingFile: '/etc/shadow', backingFormat: 'raw' }));
      return p;
    }, 'IMAGE_HOSTILE', /backing file/],
    ['a qcow2 with an external data file', () => {
      const p = join(dir, 'datafile.qcow2');
      img('create', '-q', '-f', 'qcow2', '-o', `data_file=${join(dir, 'data.raw')}`, p, '1M');
      return p;
    }, 'IMAGE_HOSTILE', /external file/],
    ['a vmdk descriptor pointing at /etc/passwd', () => {
      const p = join(dir, 'passwd.vmdk');
      writeFileSync(p, '# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="monolithicFlat"\n\nRW 8 FLAT "/etc/passwd" 0\n');
      return p;
    }, 'IMAGE_HOSTILE', /\/etc\/passwd/],
    ['a raw file named .qcow2 claimed as qcow2', () => {
      const p = join(dir, 'fake.qcow2');
      writeFileSync(p, Buffer.alloc(65536, 1));
      return p;
    }, 'IMAGE_FORMAT_MISMATCH', /fake\.qcow2 is not qcow2: no qcow2 header; its first bytes look like raw data/, 'qcow2'],
    ['random bytes named .qcow2, with no --format', () => {
      const p = join(dir, 'garbage.qcow2');
      writeFileSync(p, Buffer.concat([Buffer.alloc(4), randomBytes(100 * 1024 - 4)]));
      return p;
    }, 'IMAGE_FORMAT_MISMATCH', /garbage\.qcow2 is not qcow2 \(by its name\): no qcow2 header; its first bytes look like raw data — if it is a raw disk, import with --format raw/],
    ['a 5-byte file given as raw', () => {
      const p = join(dir, 'five.raw');
      writeFileSync(p, 'hello');
      return p;
    }, 'IMAGE_FORMAT_MISMATCH', /its size, 5 bytes, is not a whole number of 512-byte sectors/, 'raw'],
    ['a qcow2 with a patched huge virtual size', () => {
      const p = join(dir, 'huge.qcow2');
      img('create', '-q', '-f', 'qcow2', p, '1M');
      patch(p, 24, u64be(1n << 50n));
      return p;
    }, 'IMAGE_HOSTILE', /16 TiB/],
    ['a qcow2 with absurd cluster_bits', () => {
      const p = join(dir, 'cbits.qcow2');
      img('create', '-q', '-f', 'qcow2', p, '1M');
      patch(p, 20, [0, 0, 0, 40]);
      return p;
    }, 'IMAGE_HOSTILE', /cluster_bits 40/],
    ['a qcow2 whose L1 table lies beyond EOF', () => {
      const p = join(dir, 'l1.qcow2');
      img('create', '-q', '-f', 'qcow2', p, '1M');
      patch(p, 40, u64be(1n << 40n));
      return p;
    }, 'IMAGE_HOSTILE', /L1 table.*beyond the end/],
    ['a qcow2 with zero virtual size', () => {
      const p = join(dir, 'zero.qcow2');
      img('create', '-q', '-f', 'qcow2', p, '1M');
      patch(p, 24, u64be(0n));
      return p;
    }, 'IMAGE_HOSTILE', /zero/],
    ['a vmdk with a parent disk hint', () => {
      const p = join(dir, 'child.vmdk');
      img('create', '-q', '-f', 'vmdk', p, '1M');
      const base = join(dir, 'parent.vmdk');
      img('create', '-q', '-f', 'vmdk', base, '1M');
      rmSync(p);
      img('create', '-q', '-f', 'vmdk', '-F', 'vmdk', '-b', base, p);
      return p;
    }, 'IMAGE_HOSTILE', /parent/],
    ['a corrupted qcow2 (refcount table zeroed)', () => {
      const p = join(dir, 'corrupt.qcow2');
      img('create', '-q', '-f', 'qcow2', p, '1M');
      execFileSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 1 0 64k', p]);
      patch(p, 0x20000, [0, 0, 0, 0, 0, 0, 0, 0]); // the refcount block's first entries
      return p;
    }, 'IMAGE_INVALID', /qemu-img check/],
  ];
  for (const [name, build, code, message, claim] of cases) {
    it(name, async () => {
      const path = build();
      await assert.rejects(inspectForeignImage(path, claim), (err: { code: string; message: string }) => {
        assert.equal(err.code, code, err.message);
        assert.match(err.message, message);
        return true;
      });
      // and import leaves nothing behind
      const dest = join(dir, 'dest.qcow2');
      await assert.rejects(importImage({ source: path, dest, ...(claim ? { claimedFormat: claim } : {}) }), { code });
      assert.throws(() => execFileSync('ls', [dest, `${dest}.partial`], { stdio: 'pipe' }));
    });
  }
  it('an unknown claimed format', async () => {
    const p = join(dir, 'any.raw');
    writeFileSync(p, Buffer.alloc(4096));
    await assert.rejects(inspectForeignImage(p, 'qed'), { code: 'IMAGE_INVALID' });
    assert.equal((await inspectForeignImage(p, 'raw')).format, 'raw');
  });
});
