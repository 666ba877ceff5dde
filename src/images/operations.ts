// A small in-memory registry of long actions (import, publish): POST answers 202 with the operation id,
// the CLI polls it for progress. Finished operations are forgotten after OPERATION_KEEP_MS.
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { ArdesiaError, errorForUser, errorRef } from '../contract/errors.js';
import type { Operation } from '../contract/images.js';

export const OPERATION_KEEP_MS = 15 * 60_000;

export interface OperationHandle {
  /** percent 0..100 (clamped) and an optional word on what is happening. */
  progress(percent: number, message?: string): void;
}

export class Operations extends EventEmitter<{ changed: [Operation] }> {
  private readonly ops = new Map<string, Operation>();

  /** `logUnexpected` gets the detail of a failure that is no ArdesiaError; the operation shows only its reference. */
  constructor(private readonly logUnexpected: (err: unknown, ref: string, op: Operation) => void = () => undefined) {
    super();
  }

  /** Starts work in the background and returns the operation at once. */
  start(kind: string, target: string, work: (op: OperationHandle) => Promise<unknown>): Operation {
    const op: Operation = { id: randomUUID(), kind, target, state: 'running', progress: null, message: `${kind} ${target}`, createdAt: new Date().toISOString() };
    this.ops.set(op.id, op);
    const handle: OperationHandle = {
      progress: (percent, message) => {
        const progress = Math.max(0, Math.min(100, Math.round(percent)));
        const changed = progress !== Math.round(op.progress ?? -1) || (message !== undefined && message !== op.message);
        op.progress = Math.max(0, Math.min(100, Math.round(percent * 10) / 10));
        if (message) op.message = message;
        if (changed) this.emit('changed', { ...op }); // whole percents only: a copy of many GiB reports often
      },
    };
    void work(handle).then(
      (result) => this.finish(op, { state: 'succeeded', result, progress: 100 }),
      (err: unknown) => {
        const ref = errorRef();
        if (!(err instanceof ArdesiaError)) this.logUnexpected(err, ref, op);
        const e = errorForUser(err, ref);
        this.finish(op, { state: 'failed', error: e.toBody().error });
      },
    );
    this.emit('changed', { ...op });
    return { ...op };
  }

  get(id: string): Operation {
    const op = this.ops.get(id);
    if (!op) throw new ArdesiaError('OPERATION_NOT_FOUND', `no operation ${id}`);
    return { ...op };
  }

  list(): Operation[] {
    return [...this.ops.values()].map((o) => ({ ...o }));
  }

  private finish(op: Operation, patch: Partial<Operation>): void {
    Object.assign(op, patch, { finishedAt: new Date().toISOString() });
    this.emit('changed', { ...op });
    setTimeout(() => this.ops.delete(op.id), OPERATION_KEEP_MS).unref();
  }
}
