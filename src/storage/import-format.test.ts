import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import type { ImageFormat } from './foreign-headers.js';
import { detectContent, formatClaimedByName, importFormatDecide } from './import-format.js';

const at = (size: number, offset: number, magic: string | number[]): Uint8Array => {
  const b = new Uint8Array(size);
  b.set(typeof magic === 'string' ? Buffer.from(magic, 'latin1') : magic, offset);
  return b;
};
const qcow2 = at(4096, 0, 'QFI\xfb\0\0\0\x03');
const vmdk = at(4096, 0, 'KDMV');
const vhdx = at(4096, 0, 'vhdxfile');
const vdi = ((): Uint8Array => {
  const b = at(4096, 0, '<<< Oracle VM VirtualBox Disk Image >>>\n');
  new DataView(b.buffer).setUint32(0x40, 0xbeda107f, true);
  return b;
})();
const iso = at(65536, 0x8001, 'CD001');
const mbr = at(4096, 510, [0x55, 0xaa]);
const gpt = ((): Uint8Array => {
  const b = at(4096, 510, [0x55, 0xaa]);
  b.set(Buffer.from('EFI PART'), 512);
  return b;
})();
const garbage = new Uint8Array(randomBytes(100 * 1024));
garbage.set([0, 0, 0, 0], 0); // no accidental magic at the start
const gzip = at(4096, 0, [0x1f, 0x8b, 8, 0]);
const tar = at(4096, 257, 'ustar');
const vhd = at(4096, 0, 'conectix');
const text = new Uint8Array(Buffer.from('hello, this is not a disk\n'));
const zeros = new Uint8Array(8192);

describe('detectContent', () => {
  const cases: [string, Uint8Array, string][] = [
    ['qcow2', qcow2, 'image:qcow2'],
    ['vmdk', vmdk, 'image:vmdk'],
    ['vhdx', vhdx, 'image:vhdx'],
    ['vdi', vdi, 'image:vdi'],
    ['iso', iso, 'iso'],
    ['gzip', gzip, 'archive'],
    ['tar', tar, 'archive'],
    ['vhd', vhd, 'other-image'],
    ['mbr', mbr, 'raw:a raw disk with a boot sector (MBR)'],
    ['gpt', gpt, 'raw:a raw disk with a GPT partition table'],
    ['zeros', zeros, 'raw:zeros (a blank raw disk?)'],
    ['text', text, 'raw:text'],
    ['random bytes', garbage, 'raw:raw data'],
  ];
  for (const [name, head, expected] of cases) {
    it(name, () => {
      const c = detectContent(head);
      const got = c.kind === 'image' ? `image:${c.format}` : c.kind === 'raw' ? `raw:${c.looks}` : c.kind;
      assert.equal(got, expected);
    });
  }
});

describe('formatClaimedByName', () => {
  const cases: [string, string | undefined][] = [
    ['garbage.qcow2', 'qcow2'], ['DISK.VMDK', 'vmdk'], ['a.vdi', 'vdi'], ['a.vhdx', 'vhdx'], ['old.qcow', 'qcow2'],
    ['debian.iso', 'iso'], ['cloud.img', undefined], ['disk.raw', undefined], ['noext', undefined], ['x.tar.gz', undefined],
  ];
  for (const [name, claim] of cases) it(name, () => assert.equal(formatClaimedByName(name), claim));
});

describe('importFormatDecide', () => {
  type Case = [string, string, number, Uint8Array, ImageFormat | undefined, ImageFormat | RegExp];
  const cases: Case[] = [
    ['a qcow2 named as one', 'disk.qcow2', 4096, qcow2, undefined, 'qcow2'],
    ['a qcow2 with any other name', 'cloud.img', 4096, qcow2, undefined, 'qcow2'],
    ['a qcow2 given as qcow2 with a misleading name', 'disk.vmdk', 4096, qcow2, 'qcow2', 'qcow2'],
    ['each accepted format by its magic', 'x', 4096, vdi, undefined, 'vdi'],
    ['vmdk', 'x.vmdk', 4096, vmdk, 'vmdk', 'vmdk'],
    ['vhdx', 'x.vhdx', 4096, vhdx, undefined, 'vhdx'],
    ['a raw disk given as raw', 'disk.img', 8192, mbr, 'raw', 'raw'],
    ['a raw disk given as raw despite a .qcow2 name', 'disk.qcow2', 8192, mbr, 'raw', 'raw'],
    ['a hybrid ISO given as raw', 'live.iso', 65536, iso, 'raw', 'raw'],
    ['random bytes named .qcow2', 'garbage.qcow2', 100 * 1024, garbage,
      undefined, /^garbage\.qcow2 is not qcow2 \(by its name\): no qcow2 header; its first bytes look like raw data — if it is a raw disk, import with --format raw$/],
    ['random bytes given as qcow2', 'garbage.bin', 100 * 1024, garbage, 'qcow2', /^garbage\.bin is not qcow2: no qcow2 header; its first bytes look like raw data/],
    ['random bytes with no claim', 'garbage', 100 * 1024, garbage, undefined, /has no qcow2, vmdk, vdi or vhdx header; its first bytes look like raw data — if it is a raw disk, import with --format raw/],
    ['a 5-byte file', 'tiny', 5, new Uint8Array(Buffer.from('hello')), undefined, /its first bytes look like text/],
    ['a 5-byte file given as raw', 'tiny', 5, new Uint8Array(Buffer.from('hello')), 'raw', /its size, 5 bytes, is not a whole number of 512-byte sectors/],
    ['an empty file', 'empty.raw', 0, new Uint8Array(0), 'raw', /is empty/],
    ['a raw claim on a qcow2', 'disk.raw', 4096, qcow2, 'raw', /is not raw: it has a qcow2 header — import it with --format qcow2/],
    ['a vmdk named .qcow2', 'disk.qcow2', 4096, vmdk, undefined, /is not qcow2 \(by its name\): no qcow2 header; it is a vmdk image — import it with --format vmdk/],
    ['an ISO with no claim', 'debian.iso', 65536, iso, undefined, /use --iso/],
    ['an ISO given as qcow2', 'debian.bin', 65536, iso, 'qcow2', /it is an ISO 9660 installer image — to install from an ISO use --iso/],
    ['a gzip archive named .qcow2', 'disk.qcow2.gz', 4096, gzip, undefined, /it is a gzip archive — unpack it first/],
    ['a gzip archive given as raw', 'disk.raw.gz', 4096, gzip, 'raw', /is not a raw disk: it is a gzip archive/],
    ['a VHD', 'disk.vhd', 4096, vhd, undefined, /VHD \(vpc\) image, which import does not accept/],
    ['zeros with no claim', 'blank', 8192, zeros, undefined, /look like zeros .* if it is a raw disk, import with --format raw/],
  ];
  for (const [name, fileName, fileSize, head, claimedFormat, expected] of cases) {
    it(name, () => {
      const d = importFormatDecide({ fileName, fileSize, head, ...(claimedFormat ? { claimedFormat } : {}) });
      if (typeof expected === 'string') assert.deepEqual(d, { ok: true, format: expected });
      else {
        assert.equal(d.ok, false, JSON.stringify(d));
        if (!d.ok) assert.match(d.reason, expected);
      }
    });
  }
});
