// Turns extracted Debian packages plus guest/ into boot artifacts: busybox trees, a gzip'd newc
// initramfs, an ext4 root as qcow2, an isolinux ISO and a FAT ESP. Never mounts anything.
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import { GuestBuildError, run, runBuffer } from './apt.js';
import { GUEST_MODULES, moduleLoadOrder, normalizeModuleName, parseModuleDepends, type GuestArch } from './plan.js';

/** Size of the root filesystem image; the qcow2 only stores what is used. */
const ROOT_IMAGE_SIZE = '64M';
/** FAT image size in KiB: a 14 MB kernel plus a few MB of initrd. */
const ESP_SIZE_KIB = 32768;

export interface ExtractedArch {
  arch: GuestArch;
  kernelRoot: string;
  kernelRelease: string;
  busyboxRoot: string;
}

/** Every .ko of the release, by module name. */
export function kernelModuleIndex(kernelRoot: string, release: string): Map<string, string> {
  const index = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ko')) index.set(normalizeModuleName(entry.name.slice(0, -3)), path);
    }
  };
  const modulesDir = join(kernelRoot, 'lib', 'modules', release, 'kernel');
  if (!existsSync(modulesDir)) throw new GuestBuildError(`no modules folder ${modulesDir} in the kernel package`);
  walk(modulesDir);
  return index;
}

/** The modinfo `depends=` of a .ko (its .modinfo section holds NUL-separated key=value strings). */
function dependsFromKo(bytes: Buffer, name: string): string[] {
  const match = /\0depends=([A-Za-z0-9_,-]*)\0/.exec(bytes.toString('latin1'));
  if (!match) throw new GuestBuildError(`module ${name} has no modinfo depends= string (compressed .ko?)`);
  return parseModuleDepends(match[1] ?? '');
}

/** Busybox, guest/system, the kernel modules in load order and the arch marker, laid out in `dest`. */
export function buildSystemTree(src: ExtractedArch, guestDir: string, dest: string): string[] {
  mkdirSync(dest, { recursive: true });
  for (const dir of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'proc', 'sys', 'dev', 'tmp', 'run', 'root', 'var/log', 'etc']) {
    mkdirSync(join(dest, dir), { recursive: true });
  }
  const busybox = join(src.busyboxRoot, 'bin', 'busybox');
  copyFileSync(busybox, join(dest, 'bin', 'busybox'));
  chmodSync(join(dest, 'bin', 'busybox'), 0o755);
  linkApplets(busybox, dest);
  cpSync(join(guestDir, 'system'), dest, { recursive: true });
  markExecutable(join(dest, 'sbin'));
  markExecutable(join(dest, 'etc', 'init.d'));
  markExecutable(join(dest, 'etc', 'acpi', 'PWRF'));
  writeFileSync(join(dest, 'etc', 'ardesia-arch'), `${src.arch}\n`);
  return installModules(src, join(dest, 'lib', 'modules', 'ardesia'));
}

/** One symlink per applet, from the package's own `--list-full` (same binary the guest runs; the i386 one runs
 *  through the binfmt emulation setup registers when the kernel has no IA32 support). */
function linkApplets(busybox: string, dest: string): void {
  for (const applet of run(busybox, ['--list-full']).split('\n').filter(Boolean)) {
    const link = join(dest, applet);
    if (existsSync(link)) continue;
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(relative(dirname(link), join(dest, 'bin', 'busybox')), link);
  }
}

function installModules(src: ExtractedArch, dest: string): string[] {
  const index = kernelModuleIndex(src.kernelRoot, src.kernelRelease);
  const dependsOf = (name: string): string[] | undefined => {
    const path = index.get(name);
    return path === undefined ? undefined : dependsFromKo(readFileSync(path), name);
  };
  const order = moduleLoadOrder(GUEST_MODULES, dependsOf);
  mkdirSync(dest, { recursive: true });
  for (const name of order) copyFileSync(index.get(name) ?? '', join(dest, `${name}.ko`));
  writeFileSync(join(dest, 'load-order'), `${order.join('\n')}\n`);
  return order;
}

function markExecutable(dir: string): void {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isFile()) chmodSync(path, 0o755);
  }
}

/** The system tree plus stage-1 /init, as a gzip'd newc cpio archive at `out`. */
export function buildInitramfs(systemTree: string, guestDir: string, out: string): void {
  copyFileSync(join(guestDir, 'initramfs', 'init'), join(systemTree, 'init'));
  chmodSync(join(systemTree, 'init'), 0o755);
  mkdirSync(join(systemTree, 'newroot'), { recursive: true });
  // The kernel opens /dev/console before /init runs; only root may create the node (init copes without).
  if (process.getuid?.() === 0 && !existsSync(join(systemTree, 'dev', 'console'))) run('mknod', ['-m', '600', join(systemTree, 'dev', 'console'), 'c', '5', '1']);
  const list = run('find', ['.', '-print0'], { cwd: systemTree }).split('\0').filter(Boolean).sort().join('\0');
  const cpio = spawnCpio(systemTree, Buffer.from(`${list}\0`));
  writeFileSync(out, gzipSync(cpio, { level: 9 }));
}

function spawnCpio(cwd: string, list: Buffer): Buffer {
  const owner = process.getuid?.() === 0 ? ['-R', '0:0'] : [];
  return runBuffer('cpio', ['--null', '-o', '-H', 'newc', '--quiet', ...owner], { cwd, input: list });
}

/** ext4 made from the folder with `mkfs.ext4 -d`, then converted to qcow2 (no loop mount). */
export function buildRootQcow2(systemTree: string, workDir: string, out: string): void {
  const raw = join(workDir, 'root.raw');
  run('mkfs.ext4', ['-q', '-F', '-L', 'ardesia-root', '-E', 'root_owner=0:0', '-d', systemTree, raw, ROOT_IMAGE_SIZE]);
  run('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, out]);
  rmSync(raw);
}

export interface BootFiles {
  kernel: string;
  initrd: string;
  guestDir: string;
}

/** BIOS-bootable ISO: isolinux from the extracted Debian packages, serial console, no prompt. */
export function buildBiosIso(files: BootFiles, bootloaderRoot: string, workDir: string, out: string): void {
  const iso = join(workDir, 'iso');
  mkdirSync(join(iso, 'isolinux'), { recursive: true });
  copyFileSync(join(bootloaderRoot, 'usr/lib/ISOLINUX/isolinux.bin'), join(iso, 'isolinux', 'isolinux.bin'));
  copyFileSync(join(bootloaderRoot, 'usr/lib/syslinux/modules/bios/ldlinux.c32'), join(iso, 'isolinux', 'ldlinux.c32'));
  copyFileSync(join(files.guestDir, 'boot', 'isolinux.cfg'), join(iso, 'isolinux', 'isolinux.cfg'));
  copyFileSync(files.kernel, join(iso, 'vmlinuz'));
  copyFileSync(files.initrd, join(iso, 'initrd.img'));
  run('xorriso', [
    '-as', 'mkisofs', '-quiet', '-o', out, '-V', 'ARDESIA_GUEST',
    '-isohybrid-mbr', join(bootloaderRoot, 'usr/lib/ISOLINUX/isohdpfx.bin'),
    '-b', 'isolinux/isolinux.bin', '-c', 'isolinux/boot.cat',
    '-no-emul-boot', '-boot-load-size', '4', '-boot-info-table', iso,
  ]);
}

/** Raw FAT ESP for OVMF: the EFI-stub kernel, its initrd and a startup.nsh that launches it. */
export function buildUefiEsp(files: BootFiles, out: string): void {
  rmSync(out, { force: true });
  run('mkfs.vfat', ['-C', '-n', 'ARDESIA-ESP', out, String(ESP_SIZE_KIB)]);
  run('mcopy', ['-i', out, files.kernel, '::/vmlinuz.efi']);
  run('mcopy', ['-i', out, files.initrd, '::/initrd.img']);
  run('mcopy', ['-i', out, join(files.guestDir, 'boot', 'startup.nsh'), '::/startup.nsh']);
}
