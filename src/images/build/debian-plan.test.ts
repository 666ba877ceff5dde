import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DESKTOP_PACKAGES,
  debootstrapArgs,
  debootstrapCacheKey,
  debootstrapFailureKind,
  debootstrapStage,
  parseDeb822Sources,
  parseDpkgStatus,
  parseOneLineSources,
  pickMirror,
} from './debian-plan.js';
import { desktopOverlay } from './rootfs-overlay.js';

const DEB822 = `Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main

Types: deb-src
URIs: http://src.example/debian
Suites: bookworm
Components: main
`;

describe('apt sources', () => {
  it('reads deb822 stanzas, skipping deb-src', () => {
    const sources = parseDeb822Sources(DEB822);
    assert.equal(sources.length, 2);
    assert.deepEqual(sources[0], {
      uris: ['http://deb.debian.org/debian'],
      suites: ['bookworm', 'bookworm-updates'],
      components: ['main'],
      signedBy: '/usr/share/keyrings/debian-archive-keyring.gpg',
    });
  });

  it('reads one-line entries with options', () => {
    const sources = parseOneLineSources('# comment\ndeb [arch=amd64 signed-by=/k.gpg] http://m.example/debian bookworm main contrib\ndeb-src http://x bookworm main\n');
    assert.deepEqual(sources, [{ uris: ['http://m.example/debian'], suites: ['bookworm'], components: ['main', 'contrib'], signedBy: '/k.gpg' }]);
  });

  const pickCases: Array<{ name: string; text: string; expect: string | undefined }> = [
    { name: 'the release suite, not security', text: DEB822, expect: 'http://deb.debian.org/debian' },
    { name: 'nothing for another release', text: DEB822.replace(/bookworm/g, 'trixie'), expect: undefined },
    { name: 'nothing without main', text: DEB822.replace(/Components: main/g, 'Components: contrib'), expect: undefined },
  ];
  for (const c of pickCases) it(`picks ${c.name}`, () => assert.equal(pickMirror(parseDeb822Sources(c.text))?.uri, c.expect));
});

describe('dpkg status', () => {
  it('lists installed packages sorted, skipping removed ones', () => {
    const status = 'Package: zsh\nStatus: install ok installed\nVersion: 5.9\n\nPackage: jwm\nStatus: install ok installed\nVersion: 2.4.3-1\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1\n';
    assert.deepEqual(parseDpkgStatus(status), [
      { name: 'jwm', version: '2.4.3-1' },
      { name: 'zsh', version: '5.9' },
    ]);
  });
});

describe('debootstrap', () => {
  const base = { mirror: 'http://deb.debian.org/debian', suite: 'bookworm', packages: DESKTOP_PACKAGES, indexDigest: 'a' };
  it('keys the cache by every input, not by package order', () => {
    assert.equal(debootstrapCacheKey(base), debootstrapCacheKey({ ...base, packages: [...DESKTOP_PACKAGES].reverse() }));
    assert.notEqual(debootstrapCacheKey(base), debootstrapCacheKey({ ...base, indexDigest: 'b' }));
    assert.notEqual(debootstrapCacheKey(base), debootstrapCacheKey({ ...base, mirror: 'http://other/debian' }));
    assert.notEqual(debootstrapCacheKey(base), debootstrapCacheKey({ ...base, packages: ['jwm'] }));
  });

  it('runs minbase with the desktop packages, the keyring and the mirror last', () => {
    const args = debootstrapArgs({ root: '/r', mirror: { uri: 'http://m/debian', keyring: '/k.gpg' }, debCache: '/c' });
    assert.deepEqual(args.slice(-3), ['bookworm', '/r', 'http://m/debian']);
    assert.ok(args.includes('--variant=minbase'));
    assert.ok(args.includes('--keyring=/k.gpg'));
    const include = args.find((a) => a.startsWith('--include='))!;
    for (const pkg of ['jwm', 'xterm', 'pcmanfm', 'linux-image-cloud-amd64', 'xserver-xorg-video-fbdev']) assert.ok(include.split(/[=,]/).includes(pkg), pkg);
  });

  const stageCases: Array<[string, string | undefined]> = [
    ['I: Retrieving Release ', 'debootstrap: resolving'],
    ['I: Retrieving libc6 2.36', 'debootstrap: downloading'],
    ['I: Configuring the base system...', 'debootstrap: configuring'],
    ['I: Base system installed successfully.', 'debootstrap: done'],
    ['W: something', undefined],
  ];
  for (const [line, stage] of stageCases) it(`maps "${line}"`, () => assert.equal(debootstrapStage(line)?.stage, stage));
});

describe('desktop overlay', () => {
  it('installs and enables the guest helper and hides the tty1 login prompt', () => {
    const files = desktopOverlay();
    const byPath = new Map(files.map((f) => [f.path, f]));
    assert.equal(byPath.get('usr/sbin/ardesia-guest-helper')?.mode, 0o755);
    assert.equal(byPath.get('etc/systemd/system/multi-user.target.wants/ardesia-guest-helper.service')?.symlinkTo, '/etc/systemd/system/ardesia-guest-helper.service');
    assert.equal(byPath.get('etc/systemd/system/getty@tty1.service')?.symlinkTo, '/dev/null');
    assert.ok(files.every((f) => !f.path.startsWith('/') && !f.path.includes('..')));
  });
});

describe('debootstrapFailureKind', () => {
  const cases: Array<[string, string, 'mirror-unreachable' | 'failed']> = [
    ['closed port', 'I: Retrieving InRelease \nI: Retrieving Release \nE: Failed getting release file http://127.0.0.1:9/debian/dists/bookworm/Release\n', 'mirror-unreachable'],
    ['mirror lost mid-way', 'I: Retrieving libc6 2.36-9\nE: Couldn\'t download packages: libc6 udev\n', 'mirror-unreachable'],
    ['a package script failed', 'I: Configuring udev...\nW: Failure trying to run: chroot "/x" dpkg --force-depends --install /var/cache/apt/archives/udev.deb\n', 'failed'],
    ['bad signature', 'E: Release signed by unknown key (key id 6ED0E7B82643E131)\n', 'failed'],
    ['the URL merely named in a later line', 'I: Validating Packages\nW: see http://x/Failed getting release file\n', 'failed'],
    ['nothing', '', 'failed'],
  ];
  for (const [name, output, want] of cases) it(name, () => assert.equal(debootstrapFailureKind(output), want));
});
