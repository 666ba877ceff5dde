import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, test } from 'node:test';
import {
  DESKTOP_PACKAGES,
  debianTreeCacheKey,
  mmdebstrapArgs,
  guestHelperVersion,
  DESKTOP_DPKG_EXCLUDES,
  DESKTOP_INITRAMFS_FILES,
  mmdebstrapFailureKind,
  mmdebstrapStage,
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

describe('mmdebstrap', () => {
  const base = { mirror: 'http://deb.debian.org/debian', suite: 'bookworm', packages: DESKTOP_PACKAGES, indexDigest: 'a' };
  it('keys the cache by every input, not by package order', () => {
    assert.equal(debianTreeCacheKey(base), debianTreeCacheKey({ ...base, packages: [...DESKTOP_PACKAGES].reverse() }));
    assert.notEqual(debianTreeCacheKey(base), debianTreeCacheKey({ ...base, indexDigest: 'b' }));
    assert.notEqual(debianTreeCacheKey(base), debianTreeCacheKey({ ...base, mirror: 'http://other/debian' }));
    assert.notEqual(debianTreeCacheKey(base), debianTreeCacheKey({ ...base, packages: ['jwm'] }));
  });

  const args = mmdebstrapArgs({ root: '/r', mirror: { uri: 'http://m/debian', keyring: '/k.gpg' }, arch: 'i386', packages: DESKTOP_PACKAGES, debCache: '/c/debs' });
  it('runs minbase as root for the architecture, with the packages, the keyring and the mirror last', () => {
    assert.deepEqual(args.slice(-3), ['bookworm', '/r', 'http://m/debian']);
    for (const arg of ['--mode=root', '--variant=minbase', '--architectures=i386', '--keyring=/k.gpg']) assert.ok(args.includes(arg), arg);
    const include = args.find((a) => a.startsWith('--include='))!;
    for (const pkg of ['jwm', 'xterm', 'pcmanfm', 'linux-image-amd64', 'xserver-xorg-video-fbdev']) assert.ok(include.split(/[=,]/).includes(pkg), pkg);
  });

  it('merges /usr with the hook, so that apt does not pull in usrmerge and perl', () => {
    assert.ok(args.includes('--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr'));
  });

  it('installs under eatmydata and keeps every .deb for the next build', () => {
    assert.ok(args.includes('--hook-dir=/usr/share/mmdebstrap/hooks/eatmydata'));
    // the essential .debs would be deleted before the customize hook copies the archive out
    assert.ok(args.includes('--skip=essential/unlink'));
    const syncIn = args.indexOf('--setup-hook=sync-in /c/debs /var/cache/apt/archives');
    assert.ok(syncIn > args.indexOf('--setup-hook=mkdir -p "$1/var/cache/apt/archives"'), 'the archive folder exists before the copy in');
    assert.ok(args.includes('--customize-hook=sync-out /var/cache/apt/archives /c/debs'));
  });

  it('sets dpkg options and copies the setup files in before anything is installed', () => {
    const withSetup = mmdebstrapArgs({ root: '/r', mirror: { uri: 'http://m/debian' }, arch: 'amd64', packages: [], debCache: '/c', setupFiles: '/s', dpkgOptions: DESKTOP_DPKG_EXCLUDES });
    assert.ok(withSetup.includes('--setup-hook=sync-in /s /'));
    assert.ok(withSetup.includes('--dpkgopt=path-exclude=/lib/modules/*/kernel/sound/*'));
    assert.ok(!args.some((a) => a.startsWith('--dpkgopt') || a.endsWith(' /')), 'nothing of it unless asked');
  });

  it('keeps the module trees that find and mount the root disk and draw the screen', () => {
    // dpkg matches path-exclude with fnmatch(3) without FNM_PATHNAME: `*` crosses `/`.
    const excluded = (path: string): boolean => DESKTOP_DPKG_EXCLUDES.some((line) =>
      new RegExp(`^${line.replace(/^path-exclude=/, '').replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`).test(path));
    assert.ok(excluded('/lib/modules/6.1.0-1-amd64/kernel/sound/core/snd.ko'));
    assert.ok(excluded('/usr/lib/modules/6.1.0-1-amd64/kernel/drivers/gpu/drm/bochs/bochs.ko'));
    for (const kept of ['drivers/block/virtio_blk.ko', 'drivers/virtio/virtio_pci.ko', 'fs/ext4/ext4.ko', 'drivers/net/virtio_net.ko', 'drivers/char/virtio_console.ko', 'drivers/input/misc/uinput.ko']) {
      assert.ok(!excluded(`/lib/modules/6.1.0-1-amd64/kernel/${kept}`), kept);
    }
    const hook = DESKTOP_INITRAMFS_FILES.find((f) => f.path.includes('hooks/'))!;
    assert.match(hook.content, /manual_add_modules virtio_pci virtio_blk ext4/);
    assert.equal(hook.mode & 0o111, 0o111, 'initramfs-tools runs only executable hooks');
  });

  it('leaves no keyring option without one', () => {
    assert.ok(!mmdebstrapArgs({ root: '/r', mirror: { uri: 'http://m/debian' }, arch: 'amd64', packages: [], debCache: '/c' }).some((a) => a.startsWith('--keyring')));
  });

  // [line, the stage before it, the stage it starts]
  const stageCases: Array<[string, string, string | undefined]> = [
    ['I: running apt-get update...', '', 'mmdebstrap: resolving'],
    ['I: downloading packages with apt...', 'mmdebstrap: resolving', 'mmdebstrap: downloading essential'],
    ['I: extracting archives...', 'mmdebstrap: downloading essential', 'mmdebstrap: extracting'],
    ['I: installing essential packages...', 'mmdebstrap: extracting', 'mmdebstrap: installing essential'],
    ['Unpacking libc6:amd64 (2.36-9+deb12u10) over (2.36-9+deb12u10) ...', 'mmdebstrap: installing essential', undefined],
    ['Setting up dpkg (1.21.22) ...', 'mmdebstrap: installing essential', undefined],
    ['I: installing remaining packages inside the chroot...', 'mmdebstrap: installing essential', 'mmdebstrap: installing'],
    ['Get:12 http://m/debian bookworm/main amd64 cage amd64 0.1.4-4 [28.1 kB]', 'mmdebstrap: installing', 'mmdebstrap: downloading'],
    ['Unpacking cage (0.1.4-4) ...', 'mmdebstrap: downloading', 'mmdebstrap: unpacking'],
    ['Get:13 http://m/debian bookworm/main amd64 cog amd64 0.16.1-1 [71 kB]', 'mmdebstrap: unpacking', undefined],
    ['Setting up cage (0.1.4-4) ...', 'mmdebstrap: unpacking', 'mmdebstrap: configuring'],
    ['Unpacking cog (0.16.1-1) ...', 'mmdebstrap: configuring', undefined],
    ['I: running special hook: sync-out /var/cache/apt/archives /c', 'mmdebstrap: configuring', 'mmdebstrap: caching packages'],
    ['I: cleaning package lists and apt cache...', 'mmdebstrap: caching packages', 'mmdebstrap: cleaning'],
    ['I: success in 93.1 s', 'mmdebstrap: cleaning', 'mmdebstrap: done'],
    ['W: something', 'mmdebstrap: installing', undefined],
  ];
  for (const [line, last, stage] of stageCases) it(`maps "${line}" after "${last}"`, () => assert.equal(mmdebstrapStage(line, last)?.stage, stage));

  it('moves forward only', () => {
    const fractions = stageCases.filter(([, , stage]) => stage).map(([line, last]) => mmdebstrapStage(line, last)!.fraction);
    assert.deepEqual(fractions, [...fractions].sort((a, b) => a - b));
  });
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

describe('mmdebstrapFailureKind', () => {
  const cases: Array<[string, string, 'mirror-unreachable' | 'failed']> = [
    ['closed port', 'Err:1 http://127.0.0.1:9/debian bookworm InRelease\n  Could not connect to 127.0.0.1:9 (127.0.0.1). - connect (111: Connection refused)\nReading package lists...\nE: Failed to fetch http://127.0.0.1:9/debian/dists/bookworm/InRelease  Could not connect to 127.0.0.1:9 (127.0.0.1).\nE: Some index files failed to download. They have been ignored, or old ones used instead.\nE: apt-get update --error-on=any -oAPT::Status-Fd=<$fd> -oDpkg::Use-Pty=false failed\nE: mmdebstrap failed to run\n', 'mirror-unreachable'],
    ['mirror lost mid-way', 'Get:40 http://m/debian bookworm/main amd64 udev amd64 252.38-1~deb12u1\nE: Unable to fetch some archives, maybe run apt-get update or try with --fix-missing?\nE: apt-get --yes install failed\n', 'mirror-unreachable'],
    ['a package script failed', 'Setting up udev (252.38-1~deb12u1) ...\ndpkg: error processing package udev (--configure):\n installed udev package post-installation script subprocess returned error exit status 1\nE: Sub-process /usr/bin/dpkg returned an error code (1)\nE: mmdebstrap failed to run\n', 'failed'],
    ['bad signature', 'W: GPG error: http://m/debian bookworm InRelease: The following signatures couldn\'t be verified because the public key is not available: NO_PUBKEY 6ED0E7B82643E131\nE: The repository \'http://m/debian bookworm InRelease\' is not signed.\n', 'failed'],
    ['a package apt does not know', 'E: Unable to locate package no-such-package\nE: mmdebstrap failed to run\n', 'failed'],
    ['the words merely quoted in a later line', 'I: Validating Packages\nW: see http://x/E: Failed to fetch\n', 'failed'],
    ['nothing', '', 'failed'],
  ];
  for (const [name, output, want] of cases) it(name, () => assert.equal(mmdebstrapFailureKind(output), want));
});

test('the guest helper\'s version is read from its script (the repository\'s own, and a refusal without one)', () => {
  assert.equal(guestHelperVersion('#!/bin/sh\n# 2: resumed\nHELPER_VERSION=2\nPORT=x\n'), 2);
  assert.ok(guestHelperVersion(readFileSync(join(import.meta.dirname, '..', '..', '..', '..', 'guest', 'linux', 'ardesia-guest-helper'), 'utf8')) >= 2);
  assert.throws(() => guestHelperVersion('#!/bin/sh\n'), { code: 'IMAGE_BUILD_FAILED' });
});
