// Table tests for the pure core of the guest builder (scripts/guests/plan.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  cacheKey,
  GuestPlanError,
  inputsDigest,
  kernelRelease,
  moduleLoadOrder,
  newestManifest,
  parseCandidates,
  parseKernelDependency,
  parseModuleDepends,
  type PinnedPackage,
} from '../../scripts/guests/plan.js';

/** modinfo depends= of the modules the guests load, as read from linux-image-6.1.0-*-cloud-amd64. */
const CLOUD_KERNEL_DEPENDS: Record<string, string[]> = {
  virtio_ring: [],
  virtio: ['virtio_ring'],
  virtio_pci_legacy_dev: [],
  virtio_pci_modern_dev: [],
  virtio_pci: ['virtio_ring', 'virtio_pci_modern_dev', 'virtio_pci_legacy_dev', 'virtio'],
  virtio_blk: ['virtio', 'virtio_ring'],
  virtio_console: ['virtio', 'virtio_ring'],
  virtio_balloon: ['virtio', 'virtio_ring'],
  button: [],
  evdev: [],
};

const PINS: PinnedPackage[] = [
  { arch: 'amd64', name: 'linux-image-6.1.0-56-cloud-amd64', version: '6.1.192-2' },
  { arch: 'amd64', name: 'busybox-static', version: '1:1.35.0-4+deb12u1+b1' },
  { arch: 'i386', name: 'busybox-static', version: '1:1.35.0-4+deb12u1+b1' },
];

describe('moduleLoadOrder', () => {
  const cases: Array<{ wanted: string[]; expected: string[] }> = [
    { wanted: ['virtio'], expected: ['virtio_ring', 'virtio'] },
    { wanted: ['virtio_blk'], expected: ['virtio_ring', 'virtio', 'virtio_blk'] },
    { wanted: ['virtio-pci'], expected: ['virtio_ring', 'virtio_pci_modern_dev', 'virtio_pci_legacy_dev', 'virtio', 'virtio_pci'] },
    {
      wanted: ['virtio_pci', 'virtio_blk', 'virtio_console', 'button', 'evdev'],
      expected: ['virtio_ring', 'virtio_pci_modern_dev', 'virtio_pci_legacy_dev', 'virtio', 'virtio_pci', 'virtio_blk', 'virtio_console', 'button', 'evdev'],
    },
    { wanted: ['button', 'button'], expected: ['button'] },
    // Free page reporting's driver (the balloon device only reports; memory freed in the guest goes back to the host).
    { wanted: ['virtio_pci', 'virtio_balloon'], expected: ['virtio_ring', 'virtio_pci_modern_dev', 'virtio_pci_legacy_dev', 'virtio', 'virtio_pci', 'virtio_balloon'] },
  ];
  for (const { wanted, expected } of cases) {
    it(`orders ${wanted.join(',')} after their dependencies`, () => {
      assert.deepEqual(moduleLoadOrder(wanted, (n) => CLOUD_KERNEL_DEPENDS[n]), expected);
    });
  }

  it('names the module that is missing and who needs it', () => {
    assert.throws(() => moduleLoadOrder(['virtio_blk'], (n) => (n === 'virtio_blk' ? ['virtio'] : undefined)), /virtio is not in the kernel package \(needed by virtio_blk\)/);
  });

  it('rejects a dependency cycle with its path', () => {
    const cyclic: Record<string, string[]> = { a: ['b'], b: ['a'] };
    assert.throws(() => moduleLoadOrder(['a'], (n) => cyclic[n]), (err: unknown) => err instanceof GuestPlanError && /a -> b -> a/.test(err.message));
  });
});

describe('parseModuleDepends', () => {
  const cases: Array<[string, string[]]> = [
    ['', []],
    ['virtio_ring', ['virtio_ring']],
    ['virtio_ring,virtio-pci-modern-dev', ['virtio_ring', 'virtio_pci_modern_dev']],
  ];
  for (const [input, expected] of cases) it(`parses "${input}"`, () => assert.deepEqual(parseModuleDepends(input), expected));
});

describe('cacheKey', () => {
  const digest = inputsDigest([{ path: 'guest/init', content: 'a' }]);
  it('is stable for the same pins in any order', () => {
    assert.equal(cacheKey(PINS, digest), cacheKey([...PINS].reverse(), digest));
  });
  it('changes when one package version changes', () => {
    const bumped = PINS.map((p, i) => (i === 0 ? { ...p, version: '6.1.192-3' } : p));
    assert.notEqual(cacheKey(PINS, digest), cacheKey(bumped, digest));
  });
  it('changes when the same version is for another architecture', () => {
    const moved = PINS.map((p, i) => (i === 2 ? { ...p, arch: 'amd64' as const } : p));
    assert.notEqual(cacheKey(PINS, digest), cacheKey(moved, digest));
  });
  it('changes when a build input changes', () => {
    assert.notEqual(cacheKey(PINS, digest), cacheKey(PINS, inputsDigest([{ path: 'guest/init', content: 'b' }])));
  });
});

describe('inputsDigest', () => {
  it('ignores listing order but not paths or contents', () => {
    const a = { path: 'x', content: '1' };
    const b = { path: 'y', content: '2' };
    assert.equal(inputsDigest([a, b]), inputsDigest([b, a]));
    assert.notEqual(inputsDigest([a, b]), inputsDigest([{ path: 'z', content: '1' }, b]));
    assert.notEqual(inputsDigest([a, b]), inputsDigest([a, { path: 'y', content: '3' }]));
  });
});

describe('apt output parsers', () => {
  it('reads the kernel package from apt-cache depends', () => {
    const out = 'linux-image-cloud-amd64\n  Depends: linux-image-6.1.0-56-cloud-amd64\n';
    assert.equal(parseKernelDependency(out, 'linux-image-cloud-amd64'), 'linux-image-6.1.0-56-cloud-amd64');
    assert.throws(() => parseKernelDependency('linux-image-686\n', 'linux-image-686'), /names no kernel package/);
  });

  it('reads candidates from apt-cache policy, dropping (none) and arch suffixes', () => {
    const out = [
      'busybox-static:',
      '  Installed: (none)',
      '  Candidate: 1:1.35.0-4+deb12u1+b1',
      '  Version table:',
      '     1:1.35.0-4+deb12u1+b1 500',
      'isolinux:i386:',
      '  Installed: (none)',
      '  Candidate: 3:6.04~git20190206.bf6db5b4+dfsg1-3',
      'ghost:',
      '  Installed: (none)',
      '  Candidate: (none)',
    ].join('\n');
    assert.deepEqual(
      [...parseCandidates(out)],
      [
        ['busybox-static', '1:1.35.0-4+deb12u1+b1'],
        ['isolinux', '3:6.04~git20190206.bf6db5b4+dfsg1-3'],
      ],
    );
  });

  it('takes the kernel release from the package name', () => {
    assert.equal(kernelRelease('linux-image-6.1.0-50-686'), '6.1.0-50-686');
    assert.throws(() => kernelRelease('busybox-static'), /not a kernel image package/);
  });
});

describe('newestManifest', () => {
  it('picks the latest build time', () => {
    const list = [{ builtAt: '2026-01-02T00:00:00.000Z', k: 'b' }, { builtAt: '2026-03-01T00:00:00.000Z', k: 'c' }, { builtAt: '2025-12-31T00:00:00.000Z', k: 'a' }];
    assert.equal(newestManifest(list)?.k, 'c');
    assert.equal(newestManifest([]), undefined);
  });
});
