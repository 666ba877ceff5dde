// A restore template's RAM after a daemon or agent restart: its holder (ram-hold) ended with the old process, but the
// clones still running map its memfd. Loading ram.bin again would hold the same bytes twice on the host until those
// clones end; instead the memfd is held again from a clone's QEMU. A memfd is taken only when it is sealed against
// writes (nobody, root included, can change its bytes any more) and its bytes hash to the template's sha256: a QEMU
// that swapped its fd for a memfd of its own (a guest that broke out of it) cannot hand other desktops its memory.
import { readdir, readFile, readlink, stat } from 'node:fs/promises';
import { RamHold } from './shared-ram.js';

/** How /proc shows a memfd ram-hold made (memfd_create's name). */
const TEMPLATE_MEMFD_LINK = '/memfd:ardesia-template-ram (deleted)';
/** Candidates hashed at most before ram.bin is loaded instead (a few templates of the same size on one host). */
const MAX_CANDIDATES = 4;

export interface HeldRam {
  hold: RamHold;
  /** The QEMU whose memfd was held again; undefined when ram.bin was loaded. */
  adoptedFrom?: number;
}

/** The template's RAM held on this host: a running clone's sealed memfd with the template's bytes, else ram.bin loaded. */
export async function templateRamHold(ramFile: string, ram: { bytes: number; sha256: string }): Promise<HeldRam> {
  for (const candidate of (await templateMemfds(ram.bytes)).slice(0, MAX_CANDIDATES)) {
    const hold = await RamHold.adopt(candidate.path, ram.bytes).catch(() => undefined);
    if (!hold) continue; // gone meanwhile, or not sealed
    if ((await hold.sha256().catch(() => '')) === ram.sha256) return { hold, adoptedFrom: candidate.pid };
    hold.close();
  }
  return { hold: await RamHold.load(ramFile, ram.bytes) };
}

/** Template memfds of `bytes` that QEMUs on this host hold, one path per memfd (its first QEMU's fd). */
export async function templateMemfds(bytes: number): Promise<Array<{ pid: number; path: string }>> {
  const found = new Map<string, { pid: number; path: string }>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const comm = await readFile(`/proc/${entry}/comm`, 'utf8').catch(() => '');
    if (!comm.startsWith('qemu-system')) continue;
    for (const fd of await readdir(`/proc/${entry}/fd`).catch(() => [] as string[])) {
      const path = `/proc/${entry}/fd/${fd}`;
      if ((await readlink(path).catch(() => '')) !== TEMPLATE_MEMFD_LINK) continue;
      const st = await stat(path).catch(() => undefined);
      if (st?.size !== bytes) continue;
      const inode = `${st.dev}:${st.ino}`;
      if (!found.has(inode)) found.set(inode, { pid: Number(entry), path });
    }
  }
  return [...found.values()];
}
