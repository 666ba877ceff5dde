// A worker thread that runs read transfers: node spends ~20 µs per datagram, so one event loop
// per core moves more blocks a second than one loop for every client. The main thread keeps
// the request socket, the path checks and the open file; the worker reads through its fd.
import { createSocket } from 'node:dgram';
import { read } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import type { NativeTransferSpec } from './native-sender.js';
import { ReadTransfer, type FileReader, type TransferEnd } from './transfer.js';

/** A transfer as the native sender gets it, plus the job's id and the open file's descriptor. */
export interface TransferJob extends NativeTransferSpec {
  id: number;
  fd: number;
}

export interface TransferJobResult { id: number; end: TransferEnd }

/** Ends job `stop` without a word to its client (a new request came from its port). */
export interface TransferStop { stop: number }

function fdReader(fd: number): FileReader {
  return {
    read: (buffer, offset, length, position) =>
      new Promise((resolve, reject) => read(fd, buffer, offset, length, position, (err, bytesRead) => (err ? reject(err) : resolve({ bytesRead })))),
    close: async () => {}, // the main thread owns the descriptor and closes it
  };
}

async function runJob(job: TransferJob): Promise<TransferEnd> {
  binding.add(job.id);
  const socket = createSocket({ type: 'udp4' });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ address: job.localAddress, port: 0 }, () => socket.connect(job.client.port, job.client.address, () => {
      socket.removeAllListeners('error');
      resolve();
    }));
  }).finally(() => binding.delete(job.id));
  const transfer = new ReadTransfer({ socket, handle: fdReader(job.fd), size: job.size, blksize: job.blksize, timeoutMs: job.timeoutMs, oack: job.oack });
  running.set(job.id, transfer);
  if (stopBeforeStart.delete(job.id)) transfer.stop('superseded');
  else transfer.start();
  return transfer.done.finally(() => running.delete(job.id));
}

const running = new Map<number, ReadTransfer>();
/** Jobs whose socket is being bound, and the stops that came meanwhile. */
const binding = new Set<number>();
const stopBeforeStart = new Set<number>();

parentPort?.on('message', (job: TransferJob | TransferStop) => {
  if ('stop' in job) {
    const transfer = running.get(job.stop);
    if (transfer) transfer.stop('superseded');
    else if (binding.has(job.stop)) stopBeforeStart.add(job.stop);
    return;
  }
  runJob(job).then(
    (end) => parentPort!.postMessage({ id: job.id, end } satisfies TransferJobResult),
    (err: Error) => parentPort!.postMessage({ id: job.id, end: { ok: false, why: `worker: ${err.message}`, resends: 0 } } satisfies TransferJobResult),
  );
});
