// The thin client's initramfs: busybox-static from the Debian tree, our /init and udhcpc hook
// (guest/thinclient), the NIC/squashfs/overlay modules with a matching modules.dep and alias list.
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { runProgram, ThinClientBuildError } from './exec.js';
import { filterModulesAlias, filterModulesDep, INITRAMFS_APPLETS, INITRAMFS_MODULES, moduleClosure, moduleNameOf, parseModulesDep } from './plan.js';

/** Where the initramfs carries the portal's CA (PEM); /init copies it into the root as the kiosk's only trust anchor. */
export const PORTAL_CA_PATH = 'etc/ardesia/portal-ca.pem';

/** Builds the gzip'd newc cpio at `dest` from the tree `root` (kernel release `release`); returns the module count. */
export async function buildInitramfs(opts: { root: string; release: string; guestDir: string; dest: string; workDir: string; portalCa?: { pem: string; sha256: string } }): Promise<number> {
  const stage = mkdtempSync(join(opts.workDir, 'initramfs-'));
  try {
    for (const dir of ['bin', 'sbin', 'etc', 'proc', 'sys', 'dev', 'run', 'newroot', 'tmp']) mkdirSync(join(stage, dir), { recursive: true });
    copyFileSync(join(opts.root, 'bin', 'busybox'), join(stage, 'bin', 'busybox'));
    chmodSync(join(stage, 'bin', 'busybox'), 0o755);
    for (const applet of INITRAMFS_APPLETS) symlinkSync('busybox', join(stage, 'bin', applet));
    copyFileSync(join(opts.guestDir, 'init'), join(stage, 'init'));
    chmodSync(join(stage, 'init'), 0o755);
    copyFileSync(join(opts.guestDir, 'udhcpc.script'), join(stage, 'etc', 'udhcpc.script'));
    chmodSync(join(stage, 'etc', 'udhcpc.script'), 0o755);
    if (opts.portalCa) {
      mkdirSync(dirname(join(stage, PORTAL_CA_PATH)), { recursive: true });
      writeFileSync(join(stage, PORTAL_CA_PATH), opts.portalCa.pem, { mode: 0o644 });
      // Its fingerprint as `ardesia tls show` prints it: /init reports which CA this OS trusts.
      writeFileSync(join(stage, PORTAL_CA_PATH.replace(/\.pem$/, '.sha256')), `${opts.portalCa.sha256}\n`, { mode: 0o644 });
    }
    // The kernel opens /dev/console for init before /init mounts devtmpfs.
    await runProgram('mknod', ['-m', '600', join(stage, 'dev', 'console'), 'c', '5', '1']);
    const count = copyModules(opts.root, opts.release, stage);
    const cpio = await runProgram('sh', ['-c', 'find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --reproducible --quiet -R 0:0'], { cwd: stage, captureStdout: true });
    writeFileSync(opts.dest, gzipSync(cpio, { level: 9 }));
    return count;
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

function copyModules(root: string, release: string, stage: string): number {
  const moduleDir = join(root, 'usr', 'lib', 'modules', release);
  let depText: string;
  try {
    depText = readFileSync(join(moduleDir, 'modules.dep'), 'utf8');
  } catch {
    throw new ThinClientBuildError(`no modules.dep in ${moduleDir}: the kernel package's depmod did not run; delete the cached tree and rebuild`);
  }
  const paths = moduleClosure(parseModulesDep(depText), INITRAMFS_MODULES, ['squashfs', 'overlay', 'virtio_net']);
  const target = join(stage, 'lib', 'modules', release);
  for (const path of paths) {
    mkdirSync(dirname(join(target, path)), { recursive: true });
    copyFileSync(join(moduleDir, path), join(target, path));
  }
  const included = new Set(paths);
  writeFileSync(join(target, 'modules.dep'), filterModulesDep(depText, included));
  const names = new Set(paths.map(moduleNameOf));
  writeFileSync(join(stage, 'lib', 'modules', 'ardesia.alias'), filterModulesAlias(readFileSync(join(moduleDir, 'modules.alias'), 'utf8'), names));
  return paths.length;
}
