#!/usr/bin/env node
// Makes a fresh Debian 12 machine ready for `npm start` / `npm test`: npm packages and the
// Debian packages Ardesia drives. Uses only node's built-ins: it runs before `npm ci`.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Debian package → a file that proves it is installed. */
const DEBIAN_PACKAGES = {
  'qemu-system-x86': '/usr/bin/qemu-system-x86_64',
  'qemu-utils': '/usr/bin/qemu-img',
  ovmf: '/usr/share/OVMF/OVMF_CODE_4M.fd',
  'ipxe-qemu': '/usr/lib/ipxe/qemu/pxe-virtio.rom',
  seabios: '/usr/share/seabios/bios-256k.bin',
  'busybox-static': '/bin/busybox',
  'e2fsprogs': '/usr/sbin/mkfs.ext4',
  cpio: '/usr/bin/cpio',
  xorriso: '/usr/bin/xorriso',
  isolinux: '/usr/lib/ISOLINUX/isolinux.bin',
  'syslinux-common': '/usr/lib/syslinux/modules/bios/ldlinux.c32',
  mtools: '/usr/bin/mcopy',
  'dosfstools': '/usr/sbin/mkfs.vfat',
  iproute2: '/usr/sbin/ip',
  nftables: '/usr/sbin/nft', // locked lladdr: MAC locks on desktop and VM taps
  debootstrap: '/usr/sbin/debootstrap',
  ipxe: '/usr/lib/ipxe/undionly.kpxe',
  'dnsmasq-base': '/usr/sbin/dnsmasq',
  websockify: '/usr/bin/websockify', // the display-gateway benchmark's baseline
  'squashfs-tools': '/usr/bin/mksquashfs',
  chromium: '/usr/bin/chromium', // the web app's browser tests (driven by playwright-core)
  gcc: '/usr/bin/gcc', // builds the display relay and the TFTP sender (native/*.c)
};

function missingDebianPackages() {
  return Object.entries(DEBIAN_PACKAGES)
    .filter(([, proof]) => !existsSync(proof))
    .map(([pkg]) => pkg);
}

function installDebianPackages(pkgs) {
  const isRoot = process.getuid?.() === 0;
  const hasApt = existsSync('/usr/bin/apt-get');
  if (!isRoot || !hasApt) {
    console.error(
      `ardesia setup: these Debian packages are missing: ${pkgs.join(' ')}\n` +
        `  ${hasApt ? 'Run as root, or install them yourself' : 'This is not a Debian machine; install the equivalents'}:\n` +
        `  apt-get install --no-install-recommends ${pkgs.join(' ')}`,
    );
    process.exit(1);
  }
  console.log(`ardesia setup: installing Debian packages: ${pkgs.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = spawnSync('apt-get', ['update', '-q'], { stdio: 'inherit', env });
  const install = spawnSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...pkgs], { stdio: 'inherit', env });
  if (update.status !== 0 || install.status !== 0) {
    console.error(`ardesia setup: apt-get failed; install by hand: apt-get install --no-install-recommends ${pkgs.join(' ')}`);
    process.exit(1);
  }
}

function ensureNodeModules() {
  const marker = join(root, 'node_modules', '.package-lock.json');
  if (existsSync(marker)) return;
  console.log('ardesia setup: installing npm packages (npm ci)');
  execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
}

/** A helper program of ours from native/NAME.c into .cache/native/NAME, rebuilt when its source is newer. */
function buildNative(name, what) {
  const source = join(root, 'native', `${name}.c`);
  const binary = join(root, '.cache', 'native', name);
  if (existsSync(binary) && statSync(binary).mtimeMs >= statSync(source).mtimeMs) return;
  mkdirSync(dirname(binary), { recursive: true });
  console.log(`ardesia setup: building ${what}`);
  execFileSync('gcc', ['-O2', '-Wall', '-Wextra', '-o', binary, source], { stdio: 'inherit' });
}

const missing = missingDebianPackages();
if (missing.length > 0) installDebianPackages(missing);
ensureNodeModules();
buildNative('display-relay', 'the display relay'); // src/gateway/relay.ts runs it
buildNative('tftp-sender', 'the TFTP sender'); // src/netboot/tftp/native-sender.ts runs it
