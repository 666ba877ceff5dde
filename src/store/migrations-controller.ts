// Controller leadership (PostgreSQL): the row with a term that one `serve` of several holds, and the fence
// that refuses writes of a term that no longer leads. SQLite is one controller's own file: nothing to lead.
import type { Kysely, Migration } from 'kysely';
import { dialectOf } from './dialect.js';
import { fenceEveryTable, leadershipTableCreate } from './controller-fence.js';

export const CONTROLLER_MIGRATIONS: Record<string, Migration> = {
  '0021_controller_leadership': {
    async up(db: Kysely<any>) {
      if (dialectOf(db) !== 'postgres') return;
      await leadershipTableCreate(db);
      await fenceEveryTable(db);
    },
  },
};
