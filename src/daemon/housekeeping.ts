// The daemon's periodic chores: what expires must also go away when nobody comes by. Browser sessions past
// their end and display tickets past theirs are otherwise only dropped when someone logs in or asks again.
import { EventEmitter } from 'node:events';

/** How often the chores run (each is cheap: one DELETE, one walk of the expired front of a Map). */
export const HOUSEKEEPING_EVERY_MS = 60_000;

/** One chore: returns how many things it removed. */
export interface HousekeepingTask {
  name: string;
  run(): Promise<number> | number;
}

export interface HousekeepingLog {
  debug(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

/** `ran`: one round finished, with what each chore removed (a chore that failed is left out and logged). */
export interface HousekeepingEvents {
  ran: [Record<string, number>];
}

export class Housekeeping extends EventEmitter<HousekeepingEvents> {
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly tasks: readonly HousekeepingTask[],
    private readonly log: HousekeepingLog,
    private readonly everyMs = HOUSEKEEPING_EVERY_MS,
  ) {
    super();
  }

  /** A first round now (what expired while the daemon was down), then one every `everyMs`; rounds never overlap. */
  start(): void {
    this.round = this.runRound();
  }

  /** No round starts after this; resolves when the one running (if any) has finished. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.round;
  }

  private async runRound(): Promise<void> {
    const removed: Record<string, number> = {};
    for (const task of this.tasks) {
      try {
        removed[task.name] = await task.run();
      } catch (err) {
        this.log.warn({ err, task: task.name }, `housekeeping: ${task.name} failed; it is tried again next round`);
      }
    }
    this.log.debug(removed, 'housekeeping round');
    this.emit('ran', removed);
    if (this.closed) return;
    // Unref'd: a daemon that is otherwise done must not be kept alive by its chores.
    this.timer = setTimeout(() => (this.round = this.runRound()), this.everyMs).unref();
  }
}
