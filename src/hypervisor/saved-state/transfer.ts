// Moving a VM's state in and out of a confined QEMU (QEMU 7.2: no `file:` transport). Out: QEMU runs under
// -sandbox spawn=deny, so `exec:` (a shell) is refused, and `fd:` outgoing takes only a descriptor named with
// `getfd`; instead the daemon listens on a unix socket in the VM's runtime folder and QEMU connects to it
// (`migrate unix:`). In: the state file is inherited at spawn and loaded with `migrate-incoming fd:N` (incoming
// `fd:` takes a number). Measured which works: tested by hand with QEMU 7.2 (fd:N outgoing → "File descriptor
// named 'N' has not been found").
import { createHash } from 'node:crypto';
import { constants, lchownSync, statSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { Transform, Writable } from 'node:stream';
import type { FileHandle } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { ArdesiaError } from '../../contract/errors.js';
import type { QmpCommands, QmpMigrateInfo } from '../qmp/commands.js';
import { IGNORE_SHARED } from './shared-ram.js';

/** Between query-migrate polls: a busybox guest's state takes ~0.1–1 s under TCG. */
const MIGRATE_POLL_MS = 20;
export const MIGRATE_SOCKET = 'migrate.sock';

export interface SavedStream {
  bytes: number;
  sha256: string;
  ms: number;
}

/**
 * Pauses the VM and writes its state (devices + RAM) to `file` (created, 0600; never an existing one). The VM is
 * left paused with its block devices handed over (QEMU's postmigrate): the caller quits it. On failure the file
 * is removed and the VM left paused (the caller resumes it).
 */
export async function vmStateSave(vm: string, qmp: QmpCommands, runtimeDir: string, file: string, opts: { ignoreShared?: boolean } = {}): Promise<SavedStream> {
  const started = Date.now();
  const socketPath = join(runtimeDir, MIGRATE_SOCKET);
  await rm(socketPath, { force: true });
  const out = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  const hash = createHash('sha256');
  let bytes = 0;
  let connection: Socket | undefined;
  const server = createServer();
  const received = new Promise<void>((resolve, reject) => {
    server.once('connection', (socket) => {
      server.close(); // one stream: nobody else connects after QEMU
      connection = socket;
      const meter = new Transform({
        transform(chunk: Buffer, _enc, done) {
          hash.update(chunk);
          bytes += chunk.length;
          done(null, chunk);
        },
      });
      pipeline(socket, meter, handleWriter(out)).then(resolve, reject);
    });
  });
  received.catch(() => undefined);
  try {
    await new Promise<void>((resolve, reject) => server.listen(socketPath, resolve).once('error', reject));
    // QEMU's own uid (the owner of its runtime folder) must be able to connect. lchown: that uid can swap the
    // name for a link meanwhile, and chown would then give it the link's target.
    const owner = statSync(runtimeDir);
    lchownSync(socketPath, owner.uid, owner.gid);
    if ((await qmp.queryStatus()).running) await qmp.stop();
    // A template's shared RAM stays in its memfd: only the devices go into the state.
    if (opts.ignoreShared) await qmp.migrateSetCapabilities({ [IGNORE_SHARED]: true });
    await qmp.migrate(`unix:${socketPath}`);
    const end = await migrationEnd(qmp);
    if (end.status !== 'completed') throw new Error(end['error-desc'] ?? `the migration ended ${end.status}`);
    await received;
    await out.sync();
    return { bytes, sha256: hash.digest('hex'), ms: Date.now() - started };
  } catch (err) {
    connection?.destroy();
    await out.close().catch(() => undefined);
    await rm(file, { force: true });
    throw new ArdesiaError('VM_STATE_SAVE_FAILED', `vm ${vm}: its state could not be saved: ${(err as Error).message}`);
  } finally {
    server.close();
    await out.close().catch(() => undefined);
    await rm(socketPath, { force: true });
  }
}

/**
 * Loads the state from descriptor `fd` (inherited by a QEMU started with `-incoming defer`) and waits for the
 * end. QEMU 7.2 exits when an incoming migration fails: the caller sees it as QMP disconnecting.
 */
export async function vmStateLoad(qmp: QmpCommands, uri: string, opts: { ignoreShared?: boolean; listening?: () => Promise<void>; lateBlockActivate?: boolean } = {}): Promise<void> {
  if (opts.ignoreShared) await qmp.migrateSetCapabilities({ [IGNORE_SHARED]: true });
  // The disks stay inactive (unlocked, unwritten) past the load, until `cont`: what must happen first happens in between.
  if (opts.lateBlockActivate) await qmp.migrateSetCapabilities({ 'late-block-activate': true });
  await qmp.migrateIncoming(uri);
  // A live migration's destination (unix:PATH): QEMU listens now, and the state's source is connected to it.
  await opts.listening?.();
  const end = await migrationEnd(qmp);
  if (end.status !== 'completed') throw new Error(end['error-desc'] ?? `loading the state ended ${end.status}`);
}

export async function migrationEnd(qmp: QmpCommands, deadline = Infinity): Promise<QmpMigrateInfo> {
  for (;;) {
    if (Date.now() > deadline) return { status: 'deadline' };
    const info = await qmp.queryMigrate();
    if (info.status === 'completed' || info.status === 'failed' || info.status === 'cancelled') return info;
    await new Promise((resolve) => setTimeout(resolve, MIGRATE_POLL_MS));
  }
}

/**
 * Writes to an open file without closing it (the caller syncs and closes it): a FileHandle's own write stream with
 * autoClose off never emits 'close', and pipeline() would wait for that forever.
 */
export function handleWriter(handle: FileHandle): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      handle.write(chunk).then(() => done(), done);
    },
  });
}
