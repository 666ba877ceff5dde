// A fixed pool of transfer worker threads; each job goes to the worker with the fewest running.
import { Worker } from 'node:worker_threads';
import type { TransferJob, TransferJobResult } from './transfer-worker.js';
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

  run(job: Omit<TransferJob, 'id'>): Promise<TransferEnd> {
    const slot = this.slots.reduce((a, b) => (b.running < a.running ? b : a));
    const id = this.nextId++;
    slot.running++;
    return new Promise((resolve) => {
      this.waiting.set(id, { slot, resolve });
      slot.worker.postMessage({ ...job, id } satisfies TransferJob);
    });
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
