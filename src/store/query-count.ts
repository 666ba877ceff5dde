// How many store queries one unit of work ran (an API request): Kysely's log hook counts into the caller's async scope.
import { AsyncLocalStorage } from 'node:async_hooks';

interface QueryTally {
  queries: number;
}

const scope = new AsyncLocalStorage<QueryTally>();

/** Runs `fn`, then reports how many store queries it ran (queries started by work it left running are not counted after). */
export async function countingQueries<T>(fn: () => Promise<T>, done: (queries: number) => void): Promise<T> {
  const tally: QueryTally = { queries: 0 };
  try {
    return await scope.run(tally, fn);
  } finally {
    done(tally.queries);
  }
}

/** Kysely's `log` option: called once per query executed. */
export function queryLogged(): void {
  const tally = scope.getStore();
  if (tally) tally.queries += 1;
}
