// `ardesia backup FILE` and `ardesia restore FILE --data-dir DIR`. A backup goes through the daemon when it runs
// (admin only), or reads the data folder itself when it is stopped (holding the folder's lock meanwhile).
import { closeSync, existsSync, openSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { ArdesiaError } from '../../contract/errors.js';
import { dataDirLock } from '../../lib/data-dir-lock.js';
import type { BackupWritten } from '../../ops/backup-file.js';
import { type GlobalOptions, resolveDataDir } from '../client.js';
import { output } from '../output.js';
import { client, wantsJson } from './image.js';

interface BackupFlags {
  withImages?: boolean;
  withHomes?: boolean;
  database?: string;
}

/** `1 home`, `2 homes`. */
const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;

function summary(w: BackupWritten): string {
  const images = w.manifest.images.filter((i) => i.included).length;
  const homes = w.manifest.homes.filter((h) => h.included).length;
  return `backup written: ${w.file} (${w.bytes} bytes): the ${w.manifest.store.kind} store, ${count(w.manifest.config.length, 'configuration file')}, ${images} of ${count(w.manifest.images.length, 'image version')}, ${homes} of ${count(w.manifest.homes.length, 'home')}`;
}

async function backupOffline(dataDir: string, flags: BackupFlags, file: string): Promise<BackupWritten> {
  // Loaded on demand: the store and tar code would slow every other command's start-up.
  const [{ backupToFile }, { openStoreAsIs, storeLocation }] = await Promise.all([import('../../ops/backup-file.js'), import('../../store/db.js')]);
  const lock = dataDirLock(dataDir, 'ardesia backup');
  try {
    const storeAt = storeLocation(flags.database, dataDir);
    const store = openStoreAsIs(storeAt);
    try {
      return await backupToFile({ dataDir, store, storeAt }, { withImages: flags.withImages === true, withHomes: flags.withHomes === true }, file);
    } finally {
      await store.destroy();
    }
  } finally {
    lock.release();
  }
}

async function backupOnline(cmd: Command, flags: BackupFlags, file: string): Promise<BackupWritten> {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    closeSync(openSync(tmp, 'w', 0o600)); // a folder that is missing or not writable is said before the daemon works
  } catch (err) {
    throw new ArdesiaError('BACKUP_FAILED', `cannot write the backup beside ${file}: ${(err as Error).message}`);
  }
  try {
    await client(cmd).download('POST', '/v1/backup', { withImages: flags.withImages === true, withHomes: flags.withHomes === true }, tmp);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  // Checked whole before it replaces FILE: a stream cut short (tar failed in the daemon) is refused here.
  const { backupAccept } = await import('../../ops/backup-file.js');
  return backupAccept(tmp, file);
}

export function registerBackupCommands(program: Command): void {
  program
    .command('backup')
    .description('back up the site into one tar file: the store, TLS and token files, a manifest of image versions and homes with sha256 (README "Backup and restore")')
    .argument('<file>', 'the archive to write (replaced atomically when complete and checked)')
    .option('--with-images', 'include the image files (every version, and boot files)')
    .option('--with-homes', "include the home volumes (one plugged into a running pool desktop is copied by QEMU, crash-consistent; a standalone desktop's in use is refused)")
    .addOption(new Option('--database <sqlite|postgres://…>', 'with the daemon stopped: where the store is (as `serve --database`)').env('ARDESIA_DATABASE'))
    .action(async (file: string, flags: BackupFlags, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions>();
      const out = resolve(file);
      const dataDir = resolveDataDir(opts);
      // Through the daemon when one runs (or --url names one); the data folder itself when its lock is free.
      let written: BackupWritten;
      if (opts.url === undefined && existsSync(dataDir)) {
        try {
          written = await backupOffline(dataDir, flags, out);
        } catch (err) {
          if (!(err instanceof ArdesiaError && err.code === 'DATA_DIR_IN_USE')) throw err;
          written = await backupOnline(cmd, flags, out);
        }
      } else {
        written = await backupOnline(cmd, flags, out);
      }
      output(wantsJson(cmd), wantsJson(cmd) ? { file: written.file, bytes: written.bytes, manifest: written.manifest } : summary(written));
    });

  program
    .command('restore')
    .description('restore a backup onto an empty data folder (--data-dir), and an empty PostgreSQL database (--database) for a PostgreSQL backup')
    .argument('<file>', 'an archive written by `ardesia backup`')
    .addOption(new Option('--database <postgres://…>', 'the empty database to load a PostgreSQL backup into'))
    .action(async (file: string, flags: { database?: string }, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions>();
      if (opts.dataDir === undefined && process.env.ARDESIA_DATA_DIR === undefined) {
        throw new ArdesiaError('BAD_REQUEST', 'restore needs the data folder to restore into: give --data-dir DIR (empty or new)', undefined, 'Run `ardesia --data-dir DIR restore FILE` with an empty or new folder.');
      }
      const { restoreBackup } = await import('../../ops/restore.js');
      const r = await restoreBackup({ file, dataDir: resolveDataDir(opts), database: flags.database });
      const images = r.manifest.images.filter((i) => i.included).length;
      const homes = r.manifest.homes.filter((h) => h.included).length;
      output(wantsJson(cmd), wantsJson(cmd) ? r : `restored into ${r.dataDir}: the ${r.store} store (taken ${r.manifest.createdAt} by Ardesia ${r.manifest.release}), ${images} image versions, ${homes} homes, sha256 verified; start it with \`ardesia --data-dir ${r.dataDir} serve${r.store === 'postgres' ? ' --database …' : ''}\``);
    });
}
