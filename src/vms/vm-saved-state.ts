// A VM's saved state in the data folder (states/NAME/: manifest.json + state.bin, the raw QEMU stream) and on
// the wire (`vm send`: the header of saved-state/manifest.ts, then the stream). Files and streams only; what
// must match is decided by the pure manifest.ts.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, open, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ArdesiaError } from '../contract/errors.js';
import type { VmSpec } from '../contract/vm.js';
import { handleWriter } from '../hypervisor/saved-state/transfer.js';
import { FIRST_HANDED_FD } from '../hypervisor/qemu/handed-files.js';
import type { QemuLaunch } from '../hypervisor/qemu/argv.js';
import { hasClipboardAgent, withoutClipboardAgent } from '../hypervisor/saved-state/clipboard-agent.js';
import { type LaunchIdentity, launchFingerprint, machineOf, type SavedDisk, savedStateHeader, savedStateHeaderParse, SavedStateManifest, savedStateProblems, stateSeal, stateSealValid } from '../hypervisor/saved-state/manifest.js';

/**
 * The site's key sealing saved states (tls/state-seal.key, 0600, made once): QEMU trusts an incoming migration
 * stream as it trusts its own memory, so a VM owner may load only streams this site wrote. Backed up with tls/.
 */
export function stateSealKey(dataDir: string): Buffer {
  const path = join(dataDir, 'tls', 'state-seal.key');
  try {
    return readFileSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(join(dataDir, 'tls'), { recursive: true, mode: 0o700 });
  try {
    writeFileSync(path, randomBytes(32), { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err; // made meanwhile by another start: use that one
  }
  return readFileSync(path);
}

export interface SavedStateFiles {
  dir: string;
  manifest: string;
  stream: string;
}

export function savedStateFiles(dataDir: string, name: string): SavedStateFiles {
  const dir = join(dataDir, 'states', name);
  return { dir, manifest: join(dir, 'manifest.json'), stream: join(dir, 'state.bin') };
}

/** The VM's saved state, if it has one (a damaged manifest is refused, never guessed). */
export function savedStateRead(files: SavedStateFiles): SavedStateManifest | undefined {
  let text: string;
  try {
    text = readFileSync(files.manifest, 'utf8');
  } catch {
    return undefined;
  }
  const parsed = SavedStateManifest.safeParse(JSON.parse(text) as unknown);
  if (!parsed.success) throw new ArdesiaError('VM_STATE_INVALID', `the saved state's manifest ${files.manifest} is damaged`);
  return parsed.data;
}

export async function savedStateRemove(files: SavedStateFiles): Promise<void> {
  await rm(files.dir, { recursive: true, force: true });
}

/** The disks as they are now: a writable one by its content (sha256), a read-only one by size and mtime. */
export async function diskIdentities(spec: VmSpec): Promise<SavedDisk[]> {
  const disks: Array<{ path: string; writable: boolean }> = spec.disks.map((d) => ({ path: d.path, writable: !d.readonly }));
  if (spec.cdrom) disks.push({ path: spec.cdrom, writable: false });
  return Promise.all(disks.map(async (d, index): Promise<SavedDisk> => {
    const st = await stat(d.path);
    if (!d.writable) return { index, path: d.path, writable: false, sizeBytes: st.size, mtimeMs: st.mtimeMs };
    return { index, path: d.path, writable: true, sizeBytes: st.size, sha256: await fileSha256(d.path) };
  }));
}

async function fileSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

/** What a launch is, in the manifest's terms. */
export function launchIdentity(spec: VmSpec, argv: { binary: string; args: readonly string[] }, runtimeDir: string, accel: 'kvm' | 'tcg', qemuVersion: string, disks: SavedDisk[]): LaunchIdentity {
  return {
    qemuVersion,
    machine: machineOf(argv.args),
    memoryMiB: spec.memoryMiB,
    vcpus: spec.vcpus,
    accel,
    launchSha256: launchFingerprint({ ...argv, vm: spec.name, runtimeDir }),
    disks,
  };
}

/**
 * The launch that restores `file`: refused with every difference before anything starts; otherwise the same
 * launch with the state inherited as the last descriptor and `-incoming defer`.
 */
export function launchWithState(launch: QemuLaunch, saved: SavedStateManifest, now: LaunchIdentity, file: string, vm: string): { launch: QemuLaunch; fd: number; clipboardAgent: boolean; identicalArgs: string[] } {
  const problems = savedStateProblems(saved, now);
  if (problems.length > 0) throw new ArdesiaError('VM_STATE_MISMATCH', `vm ${vm}: the saved state does not fit this VM: ${problems.join('; ')}`, { problems });
  const fd = FIRST_HANDED_FD + launch.handed.length;
  return {
    launch: { ...launch, args: [...withoutClipboardAgent(launch.args), '-incoming', 'defer'], handed: [...launch.handed, { path: file, writable: false, fd, daemonFile: true }] },
    fd,
    clipboardAgent: hasClipboardAgent(launch.args),
    identicalArgs: launch.args,
  };
}

/** A live migration's destination: the identical argv, listening for the state (`-incoming defer`, then migrate-incoming). */
export function launchForMigration(launch: QemuLaunch): { launch: QemuLaunch; clipboardAgent: boolean; identicalArgs: string[] } {
  return { launch: { ...launch, args: [...withoutClipboardAgent(launch.args), '-incoming', 'defer'] }, clipboardAgent: hasClipboardAgent(launch.args), identicalArgs: launch.args };
}

/** Writes the manifest last (atomically): a state without one is an unfinished save, never resumed. */
export async function savedStateCommit(files: SavedStateFiles, manifest: SavedStateManifest): Promise<void> {
  const tmp = `${files.manifest}.tmp`;
  await writeFile(tmp, `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, files.manifest);
}

export async function savedStateFolder(files: SavedStateFiles): Promise<void> {
  await mkdir(files.dir, { recursive: true, mode: 0o700 });
}

const SEND_CHUNK_BYTES = 1 << 20;

/** `vm send`'s body: the header, then the stream. */
export function savedStateSendStream(files: SavedStateFiles, manifest: SavedStateManifest): Readable {
  const out = new PassThrough({ highWaterMark: SEND_CHUNK_BYTES });
  out.write(savedStateHeader(manifest));
  // Read in 1 MiB chunks: over an agent's link each is one WebSocket frame (64 KiB ones cost the sender 2.5× the CPU).
  const body = createReadStream(files.stream, { highWaterMark: SEND_CHUNK_BYTES });
  body.pipe(out);
  body.once('error', (err) => out.destroy(err));
  return out;
}

/**
 * `vm receive`'s body into states/NAME/ (manifest last): the header parsed, the stream written while hashed,
 * and refused unless its length and sha256 are the manifest's; with `sealKey` (a VM owner's receive), unless the
 * manifest carries the site's seal, before a byte of the stream is written. Nothing is left behind on a refusal.
 */
export async function savedStateReceive(files: SavedStateFiles, body: Readable, vm: string, sealKey?: Buffer): Promise<SavedStateManifest> {
  await savedStateFolder(files);
  const out = await open(files.stream, 'wx', 0o600);
  try {
    let head: Buffer = Buffer.alloc(0);
    let manifest: SavedStateManifest | undefined;
    const hash = createHash('sha256');
    let bytes = 0;
    const split = new Transform({
      transform(chunk: Buffer, _enc, next) {
        if (manifest) return count(chunk, next);
        head = Buffer.concat([head, chunk]);
        const r = savedStateHeaderParse(head);
        if (r.kind === 'more') return next();
        if (r.kind === 'invalid') return next(new ArdesiaError('VM_STATE_INVALID', `vm ${vm}: the file sent is no VM state: ${r.problem}`));
        if (sealKey && !stateSealValid(r.manifest, sealKey)) return next(new ArdesiaError('VM_STATE_NOT_SEALED', `vm ${vm}: the state sent ${r.manifest.seal ? 'carries a seal that is not this site\'s' : 'carries no seal'}; a VM owner can receive only a state this site sent`));
        manifest = r.manifest;
        count(head.subarray(r.length), next);
      },
    });
    const count = (chunk: Buffer, next: (err?: Error | null, data?: Buffer) => void) => {
      hash.update(chunk);
      bytes += chunk.length;
      if (manifest && bytes > manifest.state.bytes) return next(new ArdesiaError('VM_STATE_INVALID', `vm ${vm}: the file sent is longer than its manifest says (${manifest.state.bytes} bytes)`));
      next(null, chunk);
    };
    await pipeline(body, split, handleWriter(out));
    if (!manifest) throw new ArdesiaError('VM_STATE_INVALID', `vm ${vm}: the file sent is empty or ends inside its header`);
    if (bytes !== manifest.state.bytes) throw new ArdesiaError('VM_STATE_INVALID', `vm ${vm}: the file sent is cut short (${bytes} of ${manifest.state.bytes} bytes)`);
    const sha256 = hash.digest('hex');
    if (sha256 !== manifest.state.sha256) throw new ArdesiaError('VM_STATE_INVALID', `vm ${vm}: the file sent is damaged (its sha256 is ${sha256}, its manifest says ${manifest.state.sha256})`);
    await out.sync();
    await out.close();
    await savedStateCommit(files, manifest);
    return manifest;
  } catch (err) {
    await out.close().catch(() => undefined);
    await savedStateRemove(files);
    throw err;
  }
}

/**
 * A sent state with its header sealed anew under `key` as it passes, the rest unchanged: a state an agent's host sends
 * carries that host's seal, and the controller relaying it to `vm send` gives it the site's (a VM owner may receive only
 * that). A stream that does not start as a state fails.
 */
export function savedStateResealed(key: Buffer, vm: string): Transform {
  let head: Buffer | undefined = Buffer.alloc(0);
  return new Transform({
    transform(chunk: Buffer, _enc, next) {
      if (head === undefined) return next(null, chunk);
      head = Buffer.concat([head, chunk]);
      const r = savedStateHeaderParse(head);
      if (r.kind === 'more') return next();
      if (r.kind === 'invalid') return next(new ArdesiaError('VM_STATE_INVALID', `vm ${vm}: the state its host sent is no VM state: ${r.problem}`));
      const rest = head.subarray(r.length);
      head = undefined;
      const { seal: _theirs, ...unsealed } = r.manifest;
      next(null, Buffer.concat([savedStateHeader({ ...unsealed, seal: stateSeal(unsealed, key) }), rest]));
    },
    flush(done) {
      done(head === undefined ? null : new ArdesiaError('VM_STATE_INVALID', `vm ${vm}: the state its host sent ends inside its header`));
    },
  });
}

/** A stored state file whose bytes are not the manifest's: damaged on disk since it was saved. */
export async function savedStateVerify(files: SavedStateFiles, manifest: SavedStateManifest, vm: string): Promise<void> {
  const st = await stat(files.stream).catch(() => undefined);
  if (!st || st.size !== manifest.state.bytes || (await fileSha256(files.stream)) !== manifest.state.sha256) {
    throw new ArdesiaError('VM_STATE_INVALID', `vm ${vm}: its saved state ${files.stream} is missing or damaged (not the sha256 of its manifest)`);
  }
}

