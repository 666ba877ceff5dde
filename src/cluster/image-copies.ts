// Image files copied to hosts without shared storage: the agent asks over its link for one file (image-fetch: a
// published version, or an image's kernel or initrd) from the byte its cut copy holds on; the controller answers with a
// stream the agent dials back (agent-streams.ts) and the file's bytes from there on, with the sha256 the whole file must
// have. Only files the store records are sent: an agent's credential reads no home, desktop disk or other file.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import type { AgentMessage } from '../contract/agent.js';
import { ArdesiaError } from '../contract/errors.js';
import { imageGet, versionGet } from '../images/repo.js';
import { sha256File } from '../storage/integrity.js';
import type { Store } from '../store/db.js';
import type { AgentLinks } from './agent-links.js';
import type { AgentStreams } from './agent-streams.js';
import { imageVersionAt } from './image-checks.js';
import { wsSendAll } from '../lib/ws-pipe.js';

/** Bytes read per frame sent. */
const FRAME_BYTES = 1 << 20;
/** The agent dials the copy's stream within this. */
const IMAGE_STREAM_DIAL_MS = 30_000;

type ImageFetch = Extract<AgentMessage, { type: 'image-fetch' }>;

/** Pure: an image's kernel or initrd as the store names it (images/IMAGE/boot/FILE), or undefined for any other path. */
export function bootFileAt(imagesDir: string, path: string): { image: string; file: string } | undefined {
  const boot = dirname(path);
  if (basename(boot) !== 'boot' || dirname(dirname(boot)) !== imagesDir) return undefined;
  return { image: basename(dirname(boot)), file: basename(path) };
}

export class ImageCopies {
  private readonly imagesDir: string;
  /** Boot files' sums, by path and identity (they are frozen once written; a replaced one is read again). */
  private readonly bootSums = new Map<string, { key: string; sha256: string }>();

  constructor(private readonly db: Store, dataDir: string, private readonly links: AgentLinks, private readonly streams: AgentStreams, private readonly log: Logger) {
    this.imagesDir = join(dataDir, 'images');
    links.attachImages((host, m) => void this.send(host, m));
  }

  private async send(host: string, m: ImageFetch): Promise<void> {
    let file: { sha256: string; size: number };
    try {
      file = await this.imageFile(m.path);
      if (m.offset > file.size) throw new ArdesiaError('BAD_REQUEST', `${m.path} has ${file.size} bytes; a copy cannot go on from byte ${m.offset}`);
    } catch (err) {
      const e = err instanceof ArdesiaError ? err : new ArdesiaError('IMAGE_CORRUPT', `${m.path} cannot be read on the controller: ${(err as Error).message}`);
      this.log.warn({ host, path: m.path, code: e.code }, `image file ${m.path} not sent to host ${host}: ${e.message}`);
      this.links.sendTo(host, { type: 'image-stream', id: m.id, error: { code: e.code, message: e.message.slice(0, 1000) } });
      return;
    }
    const { id, secret, socket } = this.streams.expect(host, `image file ${basename(m.path)}`, 'image', IMAGE_STREAM_DIAL_MS);
    if (!this.links.sendTo(host, { type: 'image-stream', id: m.id, stream: { id, secret }, size: file.size, sha256: file.sha256 })) {
      this.streams.cancel(id, `host ${host}'s link closed`);
      return;
    }
    const t0 = Date.now();
    try {
      const ws = await socket;
      ws.resume(); // handed over paused: read on, so the agent's answer to the close is heard and the close is quick
      await fileInto(ws, m.path, m.offset);
      this.log.info({ host, path: m.path, from: m.offset, bytes: file.size - m.offset, ms: Date.now() - t0 }, `image file ${m.path} sent to host ${host} (${Math.round((file.size - m.offset) / 2 ** 20)} MiB from byte ${m.offset})`);
    } catch (err) {
      this.log.warn({ host, path: m.path, err: (err as Error).message }, `sending image file ${m.path} to host ${host} was cut: ${(err as Error).message} (its agent goes on from what it holds)`);
    }
  }

  /** A file the store records as an image version (its published sum) or an image's boot file (summed here). */
  private async imageFile(path: string): Promise<{ sha256: string; size: number }> {
    // Only a path as the store would name it: no `..`, no doubled or trailing slash.
    if (resolve(path) !== path) throw new ArdesiaError('IMAGE_NOT_FOUND', `${path} is no image version, kernel or initrd this controller records`);
    const version = imageVersionAt(this.imagesDir, path);
    if (version) {
      const row = await versionGet(this.db, version.image, version.version);
      if (!row) throw new ArdesiaError('IMAGE_VERSION_NOT_FOUND', `image ${version.image} has no version ${version.version}`);
      return { sha256: row.sha256.toLowerCase(), size: (await stat(path)).size };
    }
    const boot = bootFileAt(this.imagesDir, path);
    const image = boot && (await imageGet(this.db, boot.image));
    if (!boot || !image || (image.kernel !== boot.file && image.initrd !== boot.file)) {
      throw new ArdesiaError('IMAGE_NOT_FOUND', `${path} is no image version, kernel or initrd this controller records`);
    }
    const st = await stat(path);
    const key = `${st.size}:${st.mtimeMs}:${st.ino}`;
    const known = this.bootSums.get(path);
    if (known?.key === key) return { sha256: known.sha256, size: st.size };
    const sha256 = await sha256File(path);
    this.bootSums.set(path, { key, sha256 });
    return { sha256, size: st.size };
  }
}

/** The file from `offset` to its end into the stream, one frame per read, each sent before the next read; closed 1000. */
export function fileInto(ws: WebSocket, path: string, offset: number): Promise<void> {
  return wsSendAll(ws, createReadStream(path, { start: offset, highWaterMark: FRAME_BYTES }) as AsyncIterable<Buffer>, 'end of file');
}
