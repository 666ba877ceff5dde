// A variant of the busybox test guest with the Ardesia guest helper: the root disk's tree is
// extracted with debugfs, the helper (+ an inittab line, + the host's mkfs.ext4 and its libraries so
// homes are real ext4) added, and a new ext4 made with mkfs.ext4 -d. No mounts.
import { execFileSync } from 'node:child_process';
import { appendFileSync, chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { guestArtifacts } from '../helpers/guests.js';

export const GUEST_PORT = 'org.ardesia.guest.0';
export const KERNEL_APPEND = 'console=ttyS0 root=/dev/vda rw quiet';

export function repoRoot(): string {
  return process.env.ARDESIA_REPO_ROOT ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
}

/** Shared libraries a host binary needs, from ldd (absolute paths). */
function sharedLibraries(binary: string): string[] {
  const out = execFileSync('ldd', [binary]).toString();
  return [...out.matchAll(/(\/\S+\.so[.\d]*)/g)].map((m) => m[1]!);
}

function addHostBinary(tree: string, binary: string, as: string): void {
  for (const lib of sharedLibraries(binary)) {
    const target = join(tree, lib);
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(lib, target);
  }
  const target = join(tree, as);
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(binary, target);
  chmodSync(target, 0o755);
}

/** Writes `<dir>/helper-root.raw` (the variant root disk) and returns its path and the kernel/initrd; `files` are added
 *  to the root (path in the guest → content). */
export function buildHelperGuest(dir: string, files: Record<string, string> = {}): { root: string; kernel: string; initrd: string } {
  const guests = guestArtifacts();
  const raw = join(dir, 'orig.raw');
  const tree = join(dir, 'tree');
  mkdirSync(tree);
  execFileSync('qemu-img', ['convert', '-O', 'raw', guests.amd64.rootQcow2, raw]);
  execFileSync('debugfs', ['-R', `rdump / ${tree}`, raw], { stdio: 'ignore' });
  const helper = join(tree, 'sbin', 'ardesia-guest-helper');
  copyFileSync(join(repoRoot(), 'guest', 'linux', 'ardesia-guest-helper'), helper);
  chmodSync(helper, 0o755);
  appendFileSync(join(tree, 'etc', 'inittab'), readFileSync(join(repoRoot(), 'guest', 'linux', 'inittab.line')));
  addHostBinary(tree, '/usr/sbin/mke2fs', '/sbin/mkfs.ext4');
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(tree, path)), { recursive: true });
    writeFileSync(join(tree, path), content);
  }
  const root = join(dir, 'helper-root.raw');
  execFileSync('mkfs.ext4', ['-q', '-F', '-d', tree, root, '96M']);
  execFileSync('rm', ['-rf', tree, raw]);
  return { root, kernel: guests.amd64.kernel, initrd: guests.amd64.initrd };
}

/** QEMU arguments for the guest port on a unix socket the test connects to. */
export function guestPortArgs(socketPath: string): string[] {
  return [
    '-device', 'virtio-serial-pci',
    '-chardev', `socket,id=ardguest,path=${socketPath},server=on,wait=off`,
    '-device', `virtserialport,chardev=ardguest,name=${GUEST_PORT}`,
  ];
}
