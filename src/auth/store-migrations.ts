// Users, groups, roles, browser sessions and login attempts: this domain's schema migrations (merged with the others in src/store/db.ts; names sort globally).
import type { Migration } from 'kysely';

export const AUTH_MIGRATIONS: Record<string, Migration> = {};
