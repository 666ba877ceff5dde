// KSM's sysfs folder, read and written (the I/O around ksm.ts). The daemon runs as root; a read-only /sys
// (a container) or a kernel without CONFIG_KSM is reported, never hidden.
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ArdesiaError } from '../../contract/errors.js';
import type { KsmMode, KsmReport } from '../../contract/hosts.js';
import { KSM_FILES, KSM_SYSFS_DIR, type KsmFile, ksmReportOf, ksmUnmergeRefusal, ksmWrites, memAvailableBytes } from './ksm.js';

/** Left free when unmerging: what the density benchmark keeps free as well. */
export const KSM_UNMERGE_RESERVE_BYTES = 1.5 * 1024 * 1024 * 1024;

/** The page size KSM counts in (4096 on x86; node has no getpagesize, and sysconf is not exposed). */
export const PAGE_SIZE_BYTES = 4096;

export class KsmSysfs {
  constructor(
    readonly dir: string = KSM_SYSFS_DIR,
    private readonly meminfoPath = '/proc/meminfo',
  ) {}

  async read(): Promise<KsmReport> {
    const present = existsSync(this.dir);
    const files: Partial<Record<KsmFile, string>> = {};
    if (present) {
      await Promise.all(
        KSM_FILES.map(async (f) => {
          try {
            files[f] = await readFile(join(this.dir, f), 'utf8');
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
          }
        }),
      );
    }
    return ksmReportOf(files, PAGE_SIZE_BYTES, present);
  }

  /** Sets the mode; returns the report read back after the writes. */
  async set(mode: KsmMode): Promise<KsmReport> {
    const before = await this.read();
    if (!before.available) throw new ArdesiaError('KSM_UNAVAILABLE', `this host's kernel has no KSM (${this.dir} does not exist)`);
    if (mode === 'unmerge') {
      const available = memAvailableBytes(await readFile(this.meminfoPath, 'utf8')) ?? 0;
      const refusal = ksmUnmergeRefusal(before, available, KSM_UNMERGE_RESERVE_BYTES);
      if (refusal) throw new ArdesiaError('KSM_UNMERGE_NO_ROOM', refusal);
    }
    for (const [file, value] of ksmWrites(mode)) {
      try {
        await writeFile(join(this.dir, file), value);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? 'error';
        throw new ArdesiaError('KSM_UNAVAILABLE', `could not write ${value} to ${join(this.dir, file)} (${code}): the daemon needs root and a writable /sys`);
      }
    }
    return this.read();
  }
}
