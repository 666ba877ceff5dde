// Thin-client inventory and persisted DHCP leases: this domain's schema migrations (merged with the others in src/store/db.ts; names sort globally).
import type { Migration } from 'kysely';

export const NETBOOT_MIGRATIONS: Record<string, Migration> = {};
