// A fixed pool of transfer worker threads; each job goes to the worker with the fewest running.
import { Worker } from 'node:worker_threads';
import type { TransferJob, TransferJobResult, TransferStop } from './transfer-worker.js';
import type { TransferEnd } from './transfer.js';

interface Slot { worker: Worker; running: number }

export class TransferPool {
  private readonly slots: Slot[] = [];
  private readonly waiting = new Map<number, { slot: Slot; resolve: (end: TransferEnd) => void }>();
  private nextId = 1;

  constructor(size: number) {
    for (let i = 0; i < size; i++) {
      const worker = new Worker(new URL('./transfer-worker.js', import.meta.url));
      const slot: Slot = { worker, running: 0 };
      worker.on('message', (msg: TransferJobResult) => this.settle(msg.id, msg.end));
      worker.on('error', (err) => this.failAll(slot, `worker crashed: ${err.message}`));
      worker.unref();
      this.slots.push(slot);
    }
  }

  /** Runs a transfer in the least busy worker; `stop` ends it without an ERROR to its client. */
  run(job: Omit<TransferJob, 'id'>): { done: Promise<TransferEnd>; stop: () => void } {
    const slot = this.slots.reduce((a, b) => (b.running < a.running ? b : a));
    const id = this.nextId++;
    slot.running++;
    const done = new Promise<TransferEnd>((resolve) => {
      this.waiting.set(id, { slot, resolve });
      slot.worker.postMessage({ ...job, id } satisfies TransferJob);
    });
    return { done, stop: () => { if (this.waiting.has(id)) slot.worker.postMessage({ stop: id } satisfies TransferStop); } };
  }

  private settle(id: number, end: TransferEnd): void {
    const entry = this.waiting.get(id);
    if (!entry) return;
    this.waiting.delete(id);
    entry.slot.running--;
    entry.resolve(end);
  }

  private failAll(slot: Slot, why: string): void {
    for (const [id, entry] of this.waiting) if (entry.slot === slot) this.settle(id, { ok: false, why, resends: 0 });
  }

  async close(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}
