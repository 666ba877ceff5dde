import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { detectImageFormat, isVmdkDescriptor, vmdkDescriptorProblems } from './foreign-headers.js';
import { MAX_IMAGE_VIRTUAL_BYTES, qcow2Verdict, vdiVerdict } from './image-rules.js';
import { dataPaths, safeName } from './paths.js';
import type { Qcow2Header } from './qcow2-header.js';

const bytes = (s: string, pad = 512): Uint8Array => {
  const b = new Uint8Array(Math.max(pad, s.length));
  b.set(Buffer.from(s, 'latin1'));
  return b;
};

describe('safeName', () => {
  const good = ['win11', 'a', 'Ubuntu-24.04', 'user_1', 'a'.repeat(63), '9lives'];
  const bad = ['', '.', '..', '../etc', 'a/b', '-x', '_x', '.hidden', 'a'.repeat(64), 'é', 'a b', 'a\0', 'a\\b'];
  for (const name of good) it(`accepts ${name.slice(0, 12)}`, () => assert.equal(safeName('image', name), name));
  for (const name of bad) it(`refuses ${JSON.stringify(name).slice(0, 14)}`, () => assert.throws(() => safeName('user', name), { code: 'NAME_INVALID' }));
  it('builds every path inside the data folder', () => {
    const p = dataPaths('/srv/ardesia');
    assert.equal(p.imageVersion('win', 3), '/srv/ardesia/images/win/3.qcow2');
    assert.equal(p.imageDir('win'), '/srv/ardesia/images/win');
    assert.equal(p.desktopSystem('win-7'), '/srv/ardesia/desktops/win-7/system.qcow2');
    assert.equal(p.home('ann'), '/srv/ardesia/homes/ann/home.qcow2');
    assert.equal(p.maintenance('win', 4), '/srv/ardesia/maintenance/win/4.qcow2');
    assert.throws(() => p.home('..'), { code: 'NAME_INVALID' });
    assert.throws(() => p.imageVersion('win', 0), { code: 'NAME_INVALID' });
    assert.throws(() => p.imageVersion('win', 1.5), { code: 'NAME_INVALID' });
  });
});

describe('detectImageFormat', () => {
  const vdi = bytes('<<< Oracle VM VirtualBox Disk Image >>>\n');
  new DataView(vdi.buffer).setUint32(0x40, 0xbeda107f, true);
  const table: Array<[string, Uint8Array, string]> = [
    ['qcow2', bytes('QFI\xfb\0\0\0\x03'), 'qcow2'],
    ['vmdk sparse', bytes('KDMV\x01\0\0\0'), 'vmdk'],
    ['vmdk descriptor', bytes('# Disk DescriptorFile\nversion=1\ncreateType="monolithicFlat"\n'), 'vmdk'],
    ['vhdx', bytes('vhdxfile'), 'vhdx'],
    ['vdi', vdi, 'vdi'],
    ['vdi text without signature', bytes('<<< Oracle VM VirtualBox Disk Image >>>\n'), 'raw'],
    ['zeros', new Uint8Array(512), 'raw'],
    ['qed', bytes('QFI\0'), 'raw'],
  ];
  for (const [name, input, expected] of table) it(name, () => assert.equal(detectImageFormat(input), expected));
  it('a descriptor is recognised without the comment line', () => assert.ok(isVmdkDescriptor(bytes('version=1\nCID=fffffffe\ncreateType="vmfs"\n'))));
});

describe('vmdkDescriptorProblems', () => {
  const sparse = 'version=1\nCID=12345678\nparentCID=ffffffff\ncreateType="monolithicSparse"\nRW 2048 SPARSE "disk.vmdk"\n';
  const table: Array<[string, string, boolean, RegExp | null, string?]> = [
    ['monolithicSparse embedded', sparse, true, null],
    ['monolithicSparse embedded, naming itself', sparse, true, null, 'disk.vmdk'],
    ['a sparse extent naming another file', sparse, true, /names "disk\.vmdk", not the file itself \(renamed\.vmdk\)/, 'renamed.vmdk'],
    ['a sparse extent with a path', sparse.replace('"disk.vmdk"', '"/etc/shadow"'), true, /not the file itself/],
    ['a sparse extent with a protocol', sparse.replace('"disk.vmdk"', '"json:{}"'), true, /not the file itself/],
    ['streamOptimized embedded', sparse.replace('monolithicSparse', 'streamOptimized'), true, null],
    ['descriptor file', sparse, false, /other files/],
    ['flat extent', 'createType="monolithicFlat"\nRW 2048 FLAT "/etc/passwd" 0\n', true, /monolithicFlat|extent/],
    ['parent hint', `${sparse}ddb.parentFileNameHint="/etc/shadow"\n`, true, /parent disk/],
    ['parent CID', sparse.replace('parentCID=ffffffff', 'parentCID=1234abcd'), true, /parentCID/],
    ['two extents', `${sparse}RW 2048 SPARSE "other.vmdk"\n`, true, /2 extent lines/],
  ];
  for (const [name, text, embedded, expected, selfName] of table) {
    it(name, () => {
      const problems = vmdkDescriptorProblems(text, embedded, selfName).join('; ');
      if (expected) assert.match(problems, expected);
      else assert.equal(problems, '');
    });
  }
});

describe('qcow2Verdict', () => {
  const ok: Qcow2Header = {
    version: 3, backingFileOffset: 0, backingFileSize: 0, clusterBits: 16, virtualSize: 2 ** 30, cryptMethod: 0, l1Size: 2,
    l1TableOffset: 0x30000, refcountTableOffset: 0x10000, refcountTableClusters: 1, nbSnapshots: 0, snapshotsOffset: 0,
    incompatibleFeatures: 0n, compatibleFeatures: 0n, autoclearFeatures: 0n, refcountOrder: 4, headerLength: 112, compressionType: 0, extensions: [],
  };
  const size = 0x40000;
  const table: Array<[string, Partial<Qcow2Header>, string | null, RegExp | null]> = [
    ['a clean header', {}, null, null],
    ['backing file', { backingFileOffset: 0x200, backingFileSize: 11, backingFile: '/etc/shadow' }, 'IMAGE_HOSTILE', /\/etc\/shadow/],
    ['external data file bit', { incompatibleFeatures: 4n }, 'IMAGE_HOSTILE', /external file/],
    ['data file extension', { dataFile: 'x.raw', extensions: [{ type: 0x44415441, offset: 120, length: 5 }] }, 'IMAGE_HOSTILE', /x\.raw/],
    ['cluster bits 8', { clusterBits: 8 }, 'IMAGE_HOSTILE', /cluster_bits/],
    ['cluster bits 30', { clusterBits: 30 }, 'IMAGE_HOSTILE', /cluster_bits/],
    ['zero size', { virtualSize: 0 }, 'IMAGE_HOSTILE', /zero/],
    ['huge size', { virtualSize: MAX_IMAGE_VIRTUAL_BYTES + 512, l1Size: 40000 }, 'IMAGE_HOSTILE', /16 TiB/],
    ['L1 too small', { l1Size: 1 }, 'IMAGE_HOSTILE', /cannot cover/],
    ['L1 beyond EOF', { l1TableOffset: 0x1000000 }, 'IMAGE_HOSTILE', /beyond the end/],
    ['L1 absurd', { l1Size: 0x10000000 }, 'IMAGE_HOSTILE', /absurd/],
    ['L1 unaligned', { l1TableOffset: 0x30008 }, 'IMAGE_HOSTILE', /aligned/],
    ['refcount table beyond EOF', { refcountTableOffset: 0x50000 }, 'IMAGE_HOSTILE', /refcount table/],
    ['refcount table absurd', { refcountTableClusters: 1 << 20 }, 'IMAGE_HOSTILE', /absurd/],
    ['encrypted', { cryptMethod: 1 }, 'IMAGE_INVALID', /encrypted/],
    ['unknown feature', { incompatibleFeatures: 1n << 40n }, 'IMAGE_INVALID', /unknown/],
  ];
  for (const [name, patch, code, reason] of table) {
    it(name, () => {
      const verdict = qcow2Verdict({ ...ok, ...patch }, size);
      assert.equal(verdict?.code ?? null, code);
      if (reason) assert.match(verdict?.reason ?? '', reason);
    });
  }
  it('vdi: differencing images and absurd blocks are hostile', () => {
    const vdi = { version: 0x10001, imageType: 1, offsetBlocks: 512, offsetData: 1024, sectorSize: 512, diskSize: 2 ** 20, blockSize: 2 ** 20, blocksInImage: 1 };
    assert.equal(vdiVerdict(vdi, 4096), undefined);
    assert.equal(vdiVerdict({ ...vdi, imageType: 4 }, 4096)?.code, 'IMAGE_HOSTILE');
    assert.equal(vdiVerdict({ ...vdi, blockSize: 0 }, 4096)?.code, 'IMAGE_HOSTILE');
    assert.equal(vdiVerdict({ ...vdi, offsetBlocks: 9999 }, 4096)?.code, 'IMAGE_HOSTILE');
  });
});
