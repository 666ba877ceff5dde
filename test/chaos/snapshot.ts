// Gathers a ChaosSnapshot: the store read directly (read-only, the daemon may be dead or alive), the data
// folder's clones and maintenance overlays, and every QEMU of this data folder with the home files it holds open.
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { DesktopState } from '../../src/contract/pools.js';
import type { ChaosSnapshot } from './invariants.js';

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? listFiles(join(dir, e.name)) : [join(dir, e.name)]));
}

/** The QEMUs whose command line names this data folder, with the users whose home.qcow2 each has open. */
function qemusOf(dataDir: string): ChaosSnapshot['qemus'] {
  const homesDir = join(dataDir, 'homes') + '/';
  const out: ChaosSnapshot['qemus'] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (!/^(\S*\/)?qemu-system-/.test(argv[0] ?? '') || !argv.some((a) => a.includes(dataDir))) continue;
      const nameArg = argv[argv.indexOf('-name') + 1] ?? '';
      const vm = /guest=([^,]+)/.exec(nameArg)?.[1] ?? `?pid-${entry}`;
      const homes = new Set<string>();
      for (const fd of readdirSync(`/proc/${entry}/fd`)) {
        let target = '';
        try {
          target = readlinkSync(`/proc/${entry}/fd/${fd}`);
        } catch {
          continue;
        }
        if (target.startsWith(homesDir)) homes.add(target.slice(homesDir.length).split('/')[0]!);
      }
      out.push({ pid: Number(entry), vm, homes: [...homes] });
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** images/IMAGE/N.qcow2 files (boot/ and other files are not versions). */
function versionFilesOf(dataDir: string): ChaosSnapshot['versionFiles'] {
  const root = join(dataDir, 'images');
  if (!existsSync(root)) return [];
  return readdirSync(root).flatMap((image) =>
    readdirSync(join(root, image)).flatMap((file) => {
      const n = /^(\d+)\.qcow2$/.exec(file)?.[1];
      return n === undefined ? [] : [{ image, version: Number(n) }];
    }),
  );
}

export function takeSnapshot(dataDir: string): ChaosSnapshot {
  const db = new Database(join(dataDir, 'ardesia.db'), { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    const all = <T>(sqlText: string) => db.prepare(sqlText).all() as T[];
    const pools = all<{ name: string; spec: string }>('select name, spec from pools').map((p) => {
      const spec = JSON.parse(p.spec) as { maxDesktops: number; persistent?: boolean };
      return { name: p.name, maxDesktops: spec.maxDesktops, persistent: spec.persistent === true };
    });
    return {
      vms: all<{ name: string; desired: string; source: string }>('select name, desired, source from vms'),
      poolDesktops: all<{ name: string; pool: string; state: DesktopState; user: string | null }>('select name, pool, state, user from pool_desktops'),
      pools,
      desktops: all<{ name: string; vm: string }>('select name, vm_name as vm from desktops'),
      homes: all<{ user: string; leasedTo: string | null }>('select user, leased_to as leasedTo from homes'),
      maintenance: all<{ image: string; overlay: string; vm: string }>('select image, overlay, vm_name as vm from maintenance_sessions'),
      cloneDirs: existsSync(join(dataDir, 'desktops')) ? readdirSync(join(dataDir, 'desktops')) : [],
      maintenanceFiles: listFiles(join(dataDir, 'maintenance')),
      imageVersions: all<{ image: string; version: number }>('select image, version from image_versions'),
      versionFiles: versionFilesOf(dataDir),
      qemus: qemusOf(dataDir),
    };
  } finally {
    db.close();
  }
}
