// The battery's script, from a seed alone: which operations, in which order, and where the daemon is
// SIGKILLed. Pure, so a failing seed replays exactly (`npm run chaos -- --seed N`).
import { mulberry32 } from '../../src/lib/prng.js';

export const OPERATIONS = ['connect', 'logoff', 'reset', 'publish', 'rollback', 'vm-start', 'vm-stop', 'pool-resize'] as const;
export type Operation = (typeof OPERATIONS)[number];

export interface ChaosStep {
  op: Operation;
  /** Which of the test users acts (connect, logoff). */
  user: number;
  /** For pool-resize: the new number of warm spares. */
  spares: number;
  /** SIGKILL the daemon this many ms after the operation was sent (while it runs), or never. */
  killAfterMs: number | null;
}

/** Relative weights: sessions are the daily traffic; image and VM operations are rarer. */
const WEIGHTS: Record<Operation, number> = { connect: 5, logoff: 4, reset: 2, publish: 1, rollback: 1, 'vm-start': 2, 'vm-stop': 2, 'pool-resize': 2 };

export function planChaos(opts: { seed: number; operations: number; users: number; killEvery: number; maxKillDelayMs: number; maxSpares: number }): ChaosStep[] {
  const random = mulberry32(opts.seed);
  const total = Object.values(WEIGHTS).reduce((a, b) => a + b, 0);
  const pick = (): Operation => {
    let r = random() * total;
    for (const op of OPERATIONS) if ((r -= WEIGHTS[op]) < 0) return op;
    return OPERATIONS[OPERATIONS.length - 1]!;
  };
  return Array.from({ length: opts.operations }, () => {
    const op = pick();
    const user = Math.floor(random() * opts.users);
    const spares = Math.floor(random() * (opts.maxSpares + 1));
    const kill = random() < 1 / opts.killEvery;
    const delay = Math.floor(random() * opts.maxKillDelayMs);
    return { op, user, spares, killAfterMs: kill ? delay : null };
  });
}
