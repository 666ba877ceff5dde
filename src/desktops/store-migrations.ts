// Pools, pool desktops with their lifecycle state, and sessions: this domain's schema migrations (merged with the others in src/store/db.ts; names sort globally).
import type { Migration } from 'kysely';

export const POOL_MIGRATIONS: Record<string, Migration> = {};
