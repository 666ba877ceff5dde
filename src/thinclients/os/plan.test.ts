import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  filterModulesAlias,
  filterModulesDep,
  INITRAMFS_MODULES,
  moduleClosure,
  moduleNameOf,
  outputCacheKey,
  packagesHash,
  parseModulesDep,
  renderManifest,
  thinClientPackages,
  thinClientVersion,
  treeCacheKey,
  ThinClientPlanError,
  type ThinClientManifest,
} from './plan.js';

const DEP = `kernel/drivers/net/virtio_net.ko: kernel/net/core/failover.ko kernel/drivers/net/net_failover.ko
kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
kernel/net/core/failover.ko:
kernel/drivers/net/ethernet/via/via-rhine.ko: kernel/drivers/net/mii.ko
kernel/drivers/net/mii.ko:
kernel/fs/squashfs/squashfs.ko:
kernel/drivers/gpu/drm/tiny/bochs.ko: kernel/drivers/gpu/drm/drm.ko
`;

test('module names: file names with dashes and compression suffixes map to modprobe names', () => {
  for (const [path, name] of [['kernel/drivers/net/ethernet/via/via-rhine.ko', 'via_rhine'], ['a/b/8139too.ko.xz', '8139too'], ['x.ko', 'x']]) assert.equal(moduleNameOf(path!), name);
});

test('moduleClosure: wanted modules and their dependencies, absent ones skipped unless required', () => {
  const dep = parseModulesDep(DEP);
  assert.deepEqual(moduleClosure(dep, ['virtio_net', 'via-rhine', 'e1000']), [
    'kernel/drivers/net/ethernet/via/via-rhine.ko', 'kernel/drivers/net/mii.ko', 'kernel/drivers/net/net_failover.ko', 'kernel/drivers/net/virtio_net.ko', 'kernel/net/core/failover.ko',
  ]);
  assert.throws(() => moduleClosure(dep, ['overlay'], ['overlay']), ThinClientPlanError);
});

test('filterModulesDep keeps only lines of included modules; filterModulesAlias keeps their pci/virtio aliases', () => {
  const dep = parseModulesDep(DEP);
  const paths = moduleClosure(dep, ['squashfs', 'via_rhine']);
  assert.equal(filterModulesDep(DEP, new Set(paths)), 'kernel/drivers/net/ethernet/via/via-rhine.ko: kernel/drivers/net/mii.ko\nkernel/drivers/net/mii.ko:\nkernel/fs/squashfs/squashfs.ko:\n');
  const aliases = `# Aliases extracted from modules themselves.
alias pci:v00001106d00003065sv*sd*bc*sc*i* via_rhine
alias pci:v00001234d00001111sv*sd*bc03sc00i00* bochs
alias fs-squashfs squashfs
alias virtio:d00000001v* virtio_net
alias usb:v0BDAp8153d*dc*dsc*dp*ic*isc*ip*in* r8152
`;
  assert.equal(filterModulesAlias(aliases, new Set(['via_rhine', 'squashfs', 'virtio_net'])), 'pci:v00001106d00003065sv*sd*bc*sc*i* via_rhine\nvirtio:d00000001v* virtio_net\n');
});

test('the initramfs carries what mounting the root needs and the NICs of QEMU and old PCs', () => {
  for (const name of ['squashfs', 'loop', 'overlay', 'virtio_net', 'e1000', 'r8169', '8139too', 'via_rhine']) assert.ok(INITRAMFS_MODULES.includes(name), name);
  assert.equal(thinClientPackages('amd64')[0], 'linux-image-amd64');
  assert.equal(thinClientPackages('i386')[0], 'linux-image-686');
  assert.ok(thinClientPackages('amd64').includes('busybox-static'));
});

test('cache keys change with every input and not with package order', () => {
  const base = { arch: 'amd64' as const, mirror: 'http://deb.debian.org/debian', suite: 'bookworm', packages: ['a', 'b'], indexDigest: 'x' };
  const key = treeCacheKey(base);
  assert.equal(treeCacheKey({ ...base, packages: ['b', 'a'] }), key);
  for (const change of [{ arch: 'i386' as const }, { mirror: 'http://m/debian' }, { packages: ['a'] }, { indexDigest: 'y' }]) assert.notEqual(treeCacheKey({ ...base, ...change }), key);
  const out = outputCacheKey('amd64', 'p', 'b');
  assert.notEqual(outputCacheKey('amd64', 'p2', 'b'), out);
  assert.notEqual(outputCacheKey('amd64', 'p', 'b2'), out);
  // The portal CA baked in: none keeps the old key, each CA fingerprint its own.
  assert.equal(outputCacheKey('amd64', 'p', 'b', null), out);
  const withCa = outputCacheKey('amd64', 'p', 'b', 'AB:CD');
  assert.notEqual(withCa, out);
  assert.notEqual(outputCacheKey('amd64', 'p', 'b', 'AB:CE'), withCa);
  assert.equal(packagesHash([{ name: 'b', version: '1' }, { name: 'a', version: '2' }]), packagesHash([{ name: 'a', version: '2' }, { name: 'b', version: '1' }]));
  assert.notEqual(packagesHash([{ name: 'a', version: '2' }]), packagesHash([{ name: 'a', version: '3' }]));
});

test('version and manifest: dated version, one-line JSON the initramfs can grep', () => {
  assert.equal(thinClientVersion(new Date('2025-05-20T10:00:00Z'), 'abcdef0123456789'), '20250520-abcdef0123');
  const manifest: ThinClientManifest = {
    version: 'v', arch: 'amd64', builtAt: 't', packages: 'p', packageCount: 1, kernelRelease: 'r', kernelCmdline: 'c', portalCa: null,
    files: { vmlinuz: { size: 1, sha256: 'a'.repeat(64) }, 'initrd.img': { size: 2, sha256: 'b'.repeat(64) }, 'root.squashfs': { size: 3, sha256: 'c'.repeat(64) } },
  };
  const text = renderManifest(manifest);
  assert.equal(text.split('\n').length, 2);
  assert.match(text, new RegExp(`"root.squashfs":\\{"size":3,"sha256":"${'c'.repeat(64)}"\\}`));
});
