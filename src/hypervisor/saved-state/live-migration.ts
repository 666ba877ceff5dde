// Live migration between hosts, over streams the agents pipe through the controller (nothing listens on a host's
// network). Source: the running QEMU migrates into a unix socket in its runtime folder the agent listens on (QEMU 7.2
// under -sandbox spawn=deny: `unix:` is the transport it can open, as for a saved state). Destination: a QEMU started
// with `-incoming defer` listens on MIGRATE_IN_SOCKET in its own runtime folder and the agent connects to it
// (vm-runtime.ts). The disks are on the shared data folder: only RAM and devices travel.
import { lchownSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { ArdesiaError } from '../../contract/errors.js';
import { failpoint } from '../../lib/failpoint.js';
import type { QmpCommands } from '../qmp/commands.js';
import { MIGRATE_SOCKET, migrationEnd } from './transfer.js';

/** Where a destination QEMU listens for the state, in its runtime folder. */
export const MIGRATE_IN_SOCKET = 'migrate-in.sock';
/** A migration still going after this (a guest dirtying its RAM faster than the link carries it) is cancelled. */
export const MIGRATION_DEADLINE_MS = 10 * 60_000;

export interface MigrationFigures {
  /** From the migrate command to QEMU's completed. */
  ms: number;
  /** Bytes QEMU wrote into the stream (RAM passes and devices). */
  bytes: number;
  /** How long the guest was stopped at the end, as QEMU measured it (ms). */
  downtimeMs: number | null;
}

/**
 * Migrates the running VM's state, live, into `sink` (the stream to the destination). Resolves when QEMU says
 * completed: the VM is then paused (postmigrate) with its disks handed over, and must not run here again unless the
 * destination fails to take it (then `cont` resumes it). On failure (the destination gone, the deadline passed) the migration is cancelled and the VM runs on here.
 */
export async function liveMigrateOut(vm: string, qmp: QmpCommands, runtimeDir: string, sink: Duplex, deadlineMs = MIGRATION_DEADLINE_MS): Promise<MigrationFigures> {
  const started = Date.now();
  const socketPath = join(runtimeDir, MIGRATE_SOCKET);
  await rm(socketPath, { force: true });
  let bytes = 0;
  let connection: Socket | undefined;
  const server = createServer();
  server.once('connection', (socket) => {
    server.close(); // one stream: nobody else connects after QEMU
    connection = socket;
    socket.on('data', (chunk: Buffer) => (bytes += chunk.length));
    socket.pipe(sink);
    const cut = () => socket.destroy();
    sink.once('close', cut);
    sink.once('error', cut);
    socket.once('error', () => sink.destroy());
  });
  try {
    await new Promise<void>((resolve, reject) => server.listen(socketPath, resolve).once('error', reject));
    // QEMU's own uid (the owner of its runtime folder) connects; lchown, as for a saved state (transfer.ts).
    const owner = statSync(runtimeDir);
    lchownSync(socketPath, owner.uid, owner.gid);
    await qmp.migrate(`unix:${socketPath}`);
    failpoint('migrate-out-sending'); // the agent dies with the state half sent: the VM must run on here
    const end = await migrationEnd(qmp, started + deadlineMs);
    if (end.status === 'deadline') {
      await qmp.migrateCancel().catch(() => undefined);
      throw new Error(`still copying its RAM after ${Math.round(deadlineMs / 1000)} s (the guest writes to it faster than the link carries it): cancelled`);
    }
    if (end.status !== 'completed') throw new Error(end['error-desc'] ?? `the migration ended ${end.status}`);
    // Flushed to the destination before the caller quits this QEMU (the last bytes are the devices' state).
    if (connection && !connection.destroyed) await new Promise<void>((resolve) => (connection!.readableEnded ? resolve() : connection!.once('close', () => resolve())));
    return { ms: Date.now() - started, bytes, downtimeMs: typeof end.downtime === 'number' ? end.downtime : null };
  } catch (err) {
    connection?.destroy();
    sink.destroy();
    throw new ArdesiaError('VM_MIGRATION_FAILED', `vm ${vm}: the live migration did not complete: ${(err as Error).message}; it runs on here`);
  } finally {
    server.close();
    await rm(socketPath, { force: true });
  }
}
