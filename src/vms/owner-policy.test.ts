import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VmSpec, type VmSpecInput } from '../contract/vm.js';
import type { Qcow2Header } from '../storage/qcow2-header.js';
import {
  backingNameVerdict,
  backingPath,
  DEFAULT_LIMITS,
  networkVerdict,
  overrideVerdict,
  OwnerPolicyFile,
  ownerRulesFor,
  pathVerdict,
  qcow2ChainVerdict,
  quotaVerdict,
  specFiles,
} from './owner-policy.js';

const DATA = '/var/lib/ardesia';
const policy = OwnerPolicyFile.parse({
  defaults: { maxVms: 1 },
  users: { jdoe: { roots: ['/srv/vms/jdoe'], readOnlyRoots: ['/srv/iso'], bridges: ['br-jdoe'], taps: ['tap-jdoe'], maxMemoryMiB: 2048, maxVcpus: 2, maxVms: 2 } },
  groups: { staff: { roots: ['/srv/staff'], maxVms: 3 }, lab: { readOnlyRoots: ['/srv/lab'], maxVms: 5, bridges: ['br-lab'] } },
});
const jdoe = ownerRulesFor(policy, DATA, 'jdoe', ['staff']);
const spec = (input: Partial<VmSpecInput>) => VmSpec.parse({ name: 'v', ...input });

test('rules: a user entry wins, groups combine, defaults and built-ins fill the rest', () => {
  assert.deepEqual(jdoe.roots.map((r) => `${r.path}${r.readOnly ? ' (ro)' : ''}`), [`${DATA}/owners/jdoe`, '/srv/vms/jdoe', '/srv/iso (ro)']);
  assert.equal(jdoe.maxVms, 2);
  const member = ownerRulesFor(policy, DATA, 'amy', ['staff', 'lab']);
  assert.deepEqual(member.roots.map((r) => r.path), [`${DATA}/owners/amy`, '/srv/staff', '/srv/lab']);
  assert.deepEqual(member.bridges, ['br-lab']);
  assert.equal(member.maxVms, 5, 'the highest cap of the groups');
  assert.equal(member.maxMemoryMiB, DEFAULT_LIMITS.maxMemoryMiB);
  const nobody = ownerRulesFor(policy, DATA, 'bob', []);
  assert.deepEqual(nobody.roots.map((r) => r.path), [`${DATA}/owners/bob`]);
  assert.equal(nobody.maxVms, 1, 'the policy defaults');
  assert.deepEqual(nobody.bridges, []);
});

test('the policy file is checked: unknown keys, relative roots and bad interface names are refused', () => {
  for (const bad of [{ users: { a: { root: ['/x'] } } }, { defaults: { roots: ['relative/dir'] } }, { groups: { g: { taps: ['tap with space'] } } }, { extra: 1 }]) {
    assert.equal(OwnerPolicyFile.safeParse(bad).success, false, JSON.stringify(bad));
  }
});

test('paths: inside a root passes; outside, denied host folders and the rest of the data folder are refused', () => {
  const rows: Array<[string, 'read' | 'write', string | undefined]> = [
    [`${DATA}/owners/jdoe/disk.qcow2`, 'write', undefined],
    ['/srv/vms/jdoe/sub/disk.qcow2', 'write', undefined],
    ['/srv/iso/debian.iso', 'read', undefined],
    ['/srv/iso/debian.iso', 'write', 'read-only folder'],
    ['/srv/vms/jdoe-other/disk.qcow2', 'write', 'outside the folders'],
    ['/srv/vms/jdoe/../../../etc/shadow', 'read', 'inside /etc'],
    ['/etc/shadow', 'read', 'inside /etc'],
    ['/dev/sda', 'write', 'inside /dev'],
    ['/proc/1/root/etc/shadow', 'read', 'inside /proc'],
    [`${DATA}/root.token`, 'read', 'no VM owner may use'],
    [`${DATA}/tokens/jdoe.token`, 'read', 'no VM owner may use'],
    [`${DATA}/owners/bob/disk.qcow2`, 'write', 'no VM owner may use'],
    [`${DATA}/ardesia.db`, 'read', 'no VM owner may use'],
    ['disk.qcow2', 'read', 'not an absolute path'],
  ];
  for (const [path, use, refusal] of rows) {
    const v = pathVerdict(jdoe, DATA, path, use, 'disk');
    if (refusal === undefined) assert.equal(v, undefined, path);
    else assert.match(v?.message ?? '(passed)', new RegExp(refusal.replace(/[()]/g, '\\$&')), path);
  }
  const wide = ownerRulesFor(OwnerPolicyFile.parse({ users: { jdoe: { roots: ['/'] } } }), DATA, 'jdoe', []);
  assert.match(pathVerdict(wide, DATA, '/etc/passwd', 'read', 'kernel')!.message, /inside \/etc/, 'a root of / still excludes /etc');
  assert.match(pathVerdict(wide, DATA, `${DATA}/root.token`, 'read', 'kernel')!.message, /no VM owner/, 'and the daemon\'s data');
});

test('every file a spec opens is listed with its use', () => {
  const files = specFiles(spec({
    disks: [{ path: '/a.qcow2' }, { path: '/b.raw', format: 'raw', readonly: true }],
    cdrom: '/c.iso',
    boot: { kernel: '/k', initrd: '/i', bios: '/bios.bin' },
    nics: [{ mode: 'user', tftpRoot: '/tftp' }],
  }));
  assert.deepEqual(files.map((f) => `${f.what}:${f.path}:${f.use}:${f.qcow2 ? 'qcow2' : '-'}${f.directory ? ':dir' : ''}`), [
    'disk 0:/a.qcow2:write:qcow2', 'disk 1:/b.raw:read:-', 'cdrom:/c.iso:read:-', 'kernel:/k:read:-', 'initrd:/i:read:-', 'bios:/bios.bin:read:-', 'nic 0 TFTP root:/tftp:read:-:dir',
  ]);
});

test('start overrides: memory and vCPUs may change, files and NICs may not', () => {
  assert.equal(overrideVerdict('v', undefined), undefined);
  assert.equal(overrideVerdict('v', { memoryMiB: 128, vcpus: 2, accel: 'tcg', boot: { cmdline: 'quiet' } }), undefined);
  const rows: Array<[Partial<VmSpecInput>, string]> = [
    [{ disks: [{ path: '/dev/sda' }] }, 'disks'],
    [{ cdrom: '/etc/shadow' }, 'cdrom'],
    [{ boot: { kernel: '/etc/shadow' } }, 'boot.kernel'],
    [{ boot: { initrd: '/x' } }, 'boot.initrd'],
    [{ boot: { bios: '/x' } }, 'boot.bios'],
    [{ nics: [{ mode: 'user', tftpRoot: '/' }] }, 'nics'],
  ];
  for (const [adHoc, named] of rows) {
    const v = overrideVerdict('v', adHoc);
    assert.equal(v?.code, 'OWNER_START_OVERRIDE', named);
    assert.ok(v!.message.includes(named), v!.message);
  }
});

test('network: their bridges and taps only; user-mode NAT always, never opened to the host', () => {
  const rows: Array<[VmSpecInput['nics'], boolean]> = [
    [[{ mode: 'user' }], true],
    [[{ mode: 'bridge', bridge: 'br-jdoe' }], true],
    [[{ mode: 'bridge', bridge: 'br0' }], false],
    [[{ mode: 'bridge', bridge: 'br-jdoe', ifname: 'tap-other' }], false],
    [[{ mode: 'tap', ifname: 'tap-jdoe' }], true],
    [[{ mode: 'tap', ifname: 'tap0' }], false],
    [[{ mode: 'tap' }], false],
    [[{ mode: 'local' }], true],
    [[{ mode: 'local', ifname: 'tap9' }], false],
    [[{ mode: 'user', hostAccess: true }], false],
  ];
  for (const [nics, ok] of rows) {
    const v = networkVerdict(jdoe, spec({ nics }));
    assert.equal(v === undefined, ok, JSON.stringify(nics));
    if (v) assert.equal(v.code, 'OWNER_NETWORK_FORBIDDEN');
  }
});

test('quotas: VM count, memory and vCPUs over the owner\'s running VMs', () => {
  const one = spec({ name: 'a', memoryMiB: 1024, vcpus: 1 });
  assert.equal(quotaVerdict(jdoe, spec({ memoryMiB: 1024, vcpus: 1 }), [one]), undefined);
  assert.match(quotaVerdict(jdoe, spec({ memoryMiB: 1025 }), [one])!.message, /2049 MiB .* 2048 MiB/);
  assert.match(quotaVerdict(jdoe, spec({ vcpus: 2 }), [one])!.message, /3 vCPUs .* 2 allowed/);
  assert.match(quotaVerdict(jdoe, spec({ memoryMiB: 16 }), [one, spec({ name: 'b', memoryMiB: 16 })])!.message, /already runs 2 VM/);
  assert.equal(quotaVerdict(jdoe, spec({ memoryMiB: 4096 }), [])?.code, 'OWNER_QUOTA_EXCEEDED', 'one VM alone above the cap');
});

test('backing names: plain paths only, never json: or a protocol', () => {
  for (const ok of ['base.qcow2', '../images/base.qcow2', '/srv/vms/jdoe/base.qcow2', './a:b.qcow2', '/x/nbd:y']) assert.equal(backingNameVerdict(ok), undefined, ok);
  for (const bad of ['json:{"driver":"file","filename":"/etc/shadow"}', 'JSON:{}', 'nbd:127.0.0.1:10809', 'http://evil/x', 'file:/etc/shadow', 'ssh://h/x', '', 'a\0b']) {
    assert.ok(backingNameVerdict(bad), bad);
  }
  assert.equal(backingPath('/srv/vms/jdoe/top.qcow2', 'base.qcow2'), '/srv/vms/jdoe/base.qcow2');
  assert.equal(backingPath('/srv/vms/jdoe/top.qcow2', '../../../etc/shadow'), '/etc/shadow');
  assert.equal(backingPath('/srv/vms/jdoe/top.qcow2', '/x/../y'), '/y');
});

test('qcow2 chain headers: external data files, unreadable names, json: and deep chains are refused', () => {
  const h = (over: Partial<Qcow2Header>): Qcow2Header => ({
    version: 3, backingFileOffset: 0, backingFileSize: 0, clusterBits: 16, virtualSize: 2 ** 30, cryptMethod: 0, l1Size: 8, l1TableOffset: 196608,
    refcountTableOffset: 65536, refcountTableClusters: 1, nbSnapshots: 0, snapshotsOffset: 0, incompatibleFeatures: 0n, compatibleFeatures: 0n,
    autoclearFeatures: 0n, refcountOrder: 4, headerLength: 112, compressionType: 0, extensions: [], ...over,
  });
  assert.equal(qcow2ChainVerdict('/t', h({}), 0), undefined);
  assert.equal(qcow2ChainVerdict('/t', h({ backingFileOffset: 512, backingFileSize: 9, backingFile: 'base.qcow2', backingFormat: 'qcow2' }), 0), undefined);
  const rows: Array<[Partial<Qcow2Header>, number, RegExp]> = [
    [{ dataFile: '/dev/sda' }, 0, /external file/],
    [{ incompatibleFeatures: 4n }, 0, /external file/],
    [{ backingFileOffset: 1 << 20, backingFileSize: 9 }, 0, /could not read/],
    [{ backingFileOffset: 512, backingFileSize: 9, backingFile: 'json:{}' }, 0, /json:/],
    [{ backingFileOffset: 512, backingFileSize: 9, backingFile: 'nbd:host:1' }, 0, /protocol/],
    [{ backingFileOffset: 512, backingFileSize: 9, backingFile: 'b', backingFormat: 'vmdk' }, 0, /neither qcow2 nor raw/],
    [{ backingFileOffset: 512, backingFileSize: 9, backingFile: 'b' }, 8, /deeper than 8/],
  ];
  for (const [over, depth, why] of rows) assert.match(qcow2ChainVerdict('/t', h(over), depth) ?? '(passed)', why, JSON.stringify(over, (_k, v) => (typeof v === 'bigint' ? String(v) : v)));
});
