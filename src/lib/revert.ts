// The Incus "revert" pattern: each finished step of a multi-step change registers its undo; on
// failure the undos run newest-first, on success `success()` forgets them.
export type UndoStep = () => Promise<void> | void;

export class Reverter {
  private steps: UndoStep[] = [];
  readonly failures: Error[] = [];

  add(undo: UndoStep): void {
    this.steps.push(undo);
  }

  /** The change is complete: nothing will be undone. */
  success(): void {
    this.steps = [];
  }

  /** Runs every undo newest-first; an undo that fails is recorded, the others still run. */
  async fail(): Promise<void> {
    const steps = this.steps.reverse();
    this.steps = [];
    for (const step of steps) {
      try {
        await step();
      } catch (err) {
        this.failures.push(err as Error);
      }
    }
  }
}

/** Runs fn with a reverter; if fn throws, the registered undos run and the original error is rethrown. */
export async function withRevert<T>(fn: (revert: Reverter) => Promise<T>): Promise<T> {
  const revert = new Reverter();
  try {
    const result = await fn(revert);
    revert.success();
    return result;
  } catch (err) {
    await revert.fail();
    throw err;
  }
}
