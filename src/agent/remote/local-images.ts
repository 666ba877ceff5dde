// A host without shared storage (agent --storage local): the image files its VMs rest on are copied here over the link
// on demand (image-fetch, cluster/image-copies.ts), each at DATA_DIR/image-copies/<the controller's path>, so a copied
// version's backing names the copy of its own backing. A cut copy goes on from the bytes it holds (PATH.part); the
// whole file must have the sha256 the controller vouches for, and the published one the start carries, or it is
// thrown away. A VM's disks are made here at each start (a throwaway clone, a blank scratch home: both are wiped at
// every reset anyway). Copies are kept while a VM this host holds rests on them, then removed.
import { createWriteStream, existsSync } from 'node:fs';
import { chmod, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import type { ImageFileCheck, LocalFiles } from '../../contract/agent.js';
import { ArdesiaError } from '../../contract/errors.js';
import type { VmSpec } from '../../contract/vm.js';
import { createLinkedClone, readHead, readQcow2Header } from '../../storage/clone.js';
import { detectImageFormat } from '../../storage/foreign-headers.js';
import { sha256File } from '../../storage/integrity.js';
import { qemuImg } from '../../storage/qemu-img.js';
import { failpoint } from '../../lib/failpoint.js';
import { homeCreate } from '../../storage/homes.js';

/** The stream the controller opened for one file's bytes from `offset` on, the file's size and its whole sha256. */
export interface ImageStream {
  ws: WebSocket;
  size: number;
  sha256: string;
}

/** Asks the controller (over the live link) for a file from `offset` on; throws when there is no link. */
export type ImageFetcher = (path: string, offset: number) => Promise<ImageStream>;

/** Pure: the VM's files this host would have to read from the shared data folder, which it does not mount. */
export function filesOffHost(spec: VmSpec, local: LocalFiles): string[] {
  const made = new Set(local.disks.map((d) => d.disk));
  const copied = new Set(local.boot);
  return [
    ...spec.disks.filter((_, i) => !made.has(i)).map((d) => d.path),
    ...[spec.cdrom, spec.boot.bios].filter((p): p is string => p !== undefined),
    ...[spec.boot.kernel, spec.boot.initrd].filter((p): p is string => p !== undefined && !copied.has(p)),
  ];
}

export class LocalImages {
  /** Set while a link is up (agent-run.ts). */
  fetcher: ImageFetcher | undefined;
  private readonly copying = new Map<string, Promise<void>>();
  private readonly copiesDir: string;
  private readonly disksDir: string;

  constructor(dataDir: string, private readonly host: string, private readonly log: Logger) {
    this.copiesDir = join(dataDir, 'image-copies');
    this.disksDir = join(dataDir, 'local-disks');
  }

  /** Where this host keeps its copy of the controller's file `path`. */
  copyOf(path: string): string {
    return join(this.copiesDir, resolve(path));
  }

  /** The VM's spec as it runs here: its image files copied (or found copied), its disks made afresh, every path local. */
  async prepare(spec: VmSpec, images: readonly ImageFileCheck[], local: LocalFiles): Promise<VmSpec> {
    const off = filesOffHost(spec, local);
    if (off.length > 0) {
      throw new ArdesiaError('PLACEMENT_NO_SHARED_STORAGE', `vm ${spec.name} needs ${off.join(', ')} from the shared data folder, which host ${this.host} does not mount (agent --storage local)`);
    }
    const published = new Map(images.map((i) => [resolve(i.path), i.sha256]));
    for (const d of local.disks) if ('base' in d) await this.copyChain(d.base, published);
    for (const path of local.boot) await this.copy(path, undefined);
    const dir = join(this.disksDir, spec.name);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const disks = [...spec.disks];
    for (const d of local.disks) {
      const path = join(dir, `disk${d.disk}.qcow2`);
      if ('base' in d) await createLinkedClone({ base: this.copyOf(d.base), overlay: path });
      else await homeCreate(path, d.blankBytes);
      disks[d.disk] = { ...disks[d.disk]!, path };
    }
    const boot = { ...spec.boot };
    if (boot.kernel) boot.kernel = this.copyOf(boot.kernel);
    if (boot.initrd) boot.initrd = this.copyOf(boot.initrd);
    return { ...spec, disks, boot };
  }

  /** A version and the versions it rests on, each copied here once. */
  private async copyChain(path: string, published: ReadonlyMap<string, string>): Promise<void> {
    for (let at: string | undefined = resolve(path), depth = 0; at !== undefined; depth++) {
      if (depth > 64) throw new ArdesiaError('IMAGE_INVALID', `${path} has a backing chain deeper than 64`);
      await this.copy(at, published.get(at));
      at = await this.backingOf(at);
    }
  }

  /** The controller's path of the file a copied qcow2 rests on (the copy's own header names the copy of it). */
  private async backingOf(path: string): Promise<string | undefined> {
    const copy = this.copyOf(path);
    if (detectImageFormat(await readHead(copy)) !== 'qcow2') return undefined;
    const header = await readQcow2Header(copy);
    if (header.backingFile === undefined) return undefined;
    return resolve('/', relative(this.copiesDir, resolve(dirname(copy), header.backingFile)));
  }

  /** One copy at a time per file: starts that share an image wait for the same copy. */
  private copy(path: string, published: string | undefined): Promise<void> {
    if (existsSync(this.copyOf(path))) return Promise.resolve();
    const running = this.copying.get(path);
    if (running) return running;
    const copying = this.fetchWhole(path, published).finally(() => this.copying.delete(path));
    this.copying.set(path, copying);
    return copying;
  }

  private async fetchWhole(path: string, published: string | undefined): Promise<void> {
    const copy = this.copyOf(path);
    const part = `${copy}.part`;
    await mkdir(dirname(copy), { recursive: true, mode: 0o700 });
    const offset = await stat(part).then((st) => st.size, () => 0);
    if (!this.fetcher) throw new ArdesiaError('AGENT_NOT_LINKED', `host ${this.host} has no link to the controller: image file ${path} cannot be copied here now`);
    const t0 = Date.now();
    const stream = await this.fetcher(path, offset);
    if (published !== undefined && stream.sha256 !== published) {
      stream.ws.terminate();
      throw new ArdesiaError('IMAGE_CORRUPT', `the controller's ${path} has sha256 ${stream.sha256.slice(0, 12)}…, not the published ${published.slice(0, 12)}…; it is not copied to host ${this.host}`);
    }
    const received = await streamInto(stream.ws, part);
    if (offset + received !== stream.size) {
      throw new ArdesiaError('IMAGE_COPY_INCOMPLETE', `the copy of ${path} to host ${this.host} was cut at byte ${offset + received} of ${stream.size}; the next start goes on from there`);
    }
    const actual = await sha256File(part);
    if (actual !== stream.sha256) {
      await rm(part, { force: true });
      throw new ArdesiaError('IMAGE_CORRUPT', `the copy of ${path} on host ${this.host} has sha256 ${actual.slice(0, 12)}…, not ${stream.sha256.slice(0, 12)}…; it was thrown away`);
    }
    // Its backing named as the copy of it: the chain resolves on this host (only the header changes).
    if (detectImageFormat(await readHead(part)) === 'qcow2') {
      const header = await readQcow2Header(part);
      if (header.backingFile !== undefined) {
        const backing = this.copyOf(resolve(dirname(path), header.backingFile));
        await qemuImg(['rebase', '-q', '-u', '-f', 'qcow2', '-F', header.backingFormat === 'raw' ? 'raw' : 'qcow2', '-b', backing, part]);
      }
    }
    await chmod(part, 0o400);
    await rename(part, copy);
    this.log.info({ path, bytes: stream.size, resumedFrom: offset, ms: Date.now() - t0 }, `image file ${path} copied to host ${this.host} (${Math.round(stream.size / 2 ** 20)} MiB${offset > 0 ? `, going on from byte ${offset}` : ''}), sha256 checked`);
  }

  /** Removes copies (and cut copies) no VM this host holds rests on, and made disks of VMs it no longer holds. */
  async collect(keepFiles: ReadonlySet<string>, keepVms: ReadonlySet<string>): Promise<void> {
    // The made disks first: they rest on the copies.
    for (const vm of await readdir(this.disksDir).catch(() => [] as string[])) {
      if (!keepVms.has(vm)) await rm(join(this.disksDir, vm), { recursive: true, force: true });
    }
    const keep = new Set([...keepFiles].map((p) => this.copyOf(p)));
    for (const file of await filesUnder(this.copiesDir)) {
      if (keep.has(file.replace(/\.part$/, ''))) continue;
      await rm(file, { force: true });
      this.log.info({ file }, `image copy ${file} removed: no VM on host ${this.host} rests on it`);
    }
  }
}

/** Appends the stream's binary frames to `path` until it closes: the bytes written (all of them on a close 1000). */
function streamInto(ws: WebSocket, path: string): Promise<number> {
  const out = createWriteStream(path, { flags: 'a', mode: 0o600 });
  let written = 0;
  return new Promise((resolve, reject) => {
    ws.on('message', (data: Buffer) => {
      written += data.length;
      // Crash tests: the agent killed with part of a copy on disk.
      if (!out.write(data, () => failpoint('image-copy-written'))) ws.pause();
    });
    out.on('drain', () => ws.resume());
    out.on('error', (err) => {
      ws.terminate();
      reject(err);
    });
    ws.on('error', () => undefined); // its close follows
    ws.on('close', () => out.end(() => resolve(written)));
    ws.resume();
  });
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath ?? e.path, e.name));
}
