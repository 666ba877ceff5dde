// An agent's host checks each image file a VM rests on against the sha256 recorded at its publish, before the file's
// first use here: the shared storage as this host sees it (its own mount, its own cache) must hold the published bytes.
// What was checked is kept in DATA_DIR/image-checks.json with the file's identity, so a file replaced or touched since is
// read again; an unchanged one is not (images are gigabytes).
import { readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { ImageFileCheck } from '../../contract/agent.js';
import { ArdesiaError } from '../../contract/errors.js';
import { sha256File } from '../../storage/integrity.js';

/** A file as it was when its sum was read: any change of these and it is read again. */
interface CheckedFile {
  sha256: string;
  size: number;
  mtimeMs: number;
  ino: number;
  dev: number;
}

type Identity = Omit<CheckedFile, 'sha256'>;

/** Pure: whether a file checked before may be used without reading it again. */
export function stillChecked(before: CheckedFile | undefined, now: Identity, sha256: string): boolean {
  return before !== undefined && before.sha256 === sha256 && before.size === now.size && before.mtimeMs === now.mtimeMs && before.ino === now.ino && before.dev === now.dev;
}

export class HostImageChecks {
  private readonly checked: Map<string, CheckedFile>;
  /** One read per file at a time: starts that share an image wait for the same sum. */
  private readonly reading = new Map<string, Promise<void>>();

  constructor(private readonly path: string, private readonly host: string, private readonly log: Logger) {
    this.checked = checkedRead(path);
  }

  /** IMAGE_CORRUPT, naming this host and the file, unless every file has its recorded sum. */
  async verify(files: readonly ImageFileCheck[]): Promise<void> {
    for (const file of files) await this.verifyOne(file);
  }

  private verifyOne(file: ImageFileCheck): Promise<void> {
    const running = this.reading.get(file.path);
    if (running) return running.then(() => this.verifyOne(file));
    const identity = identityOf(file.path, this.host);
    if (stillChecked(this.checked.get(file.path), identity, file.sha256)) return Promise.resolve();
    const read = this.readSum(file, identity).finally(() => this.reading.delete(file.path));
    this.reading.set(file.path, read);
    return read;
  }

  private async readSum(file: ImageFileCheck, identity: Identity): Promise<void> {
    const t0 = Date.now();
    const actual = await sha256File(file.path);
    if (actual !== file.sha256) {
      this.checked.delete(file.path);
      checkedWrite(this.path, this.checked);
      this.log.error({ file: file.path, expected: file.sha256, actual }, `image file ${file.path} does not match its published checksum on host ${this.host}; no VM uses it here`);
      throw new ArdesiaError('IMAGE_CORRUPT', `${file.path} as host ${this.host} reads it does not match its published checksum (sha256 ${actual.slice(0, 12)}…, published ${file.sha256.slice(0, 12)}…); it will not be used there`);
    }
    this.checked.set(file.path, { sha256: actual, ...identity });
    checkedWrite(this.path, this.checked);
    this.log.info({ file: file.path, bytes: identity.size, ms: Date.now() - t0 }, `image file ${file.path} checked on host ${this.host} before its first use here (${Math.round(identity.size / 2 ** 20)} MiB in ${Date.now() - t0} ms)`);
  }
}

function identityOf(path: string, host: string): Identity {
  try {
    const st = statSync(path);
    return { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, dev: st.dev };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    throw new ArdesiaError('IMAGE_CORRUPT', `${path} is missing on host ${host} (is the shared data folder mounted there? A host without it runs its agent with --storage local); it will not be used there`);
  }
}

function checkedRead(path: string): Map<string, CheckedFile> {
  try {
    return new Map(Object.entries(JSON.parse(readFileSync(path, 'utf8')) as Record<string, CheckedFile>));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || err instanceof SyntaxError) return new Map(); // none yet, or torn: read again
    throw err;
  }
}

/** Written whole (temp file, then rename). */
function checkedWrite(path: string, checked: ReadonlyMap<string, CheckedFile>): void {
  writeFileSync(`${path}.tmp`, `${JSON.stringify(Object.fromEntries(checked))}\n`, { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
}
