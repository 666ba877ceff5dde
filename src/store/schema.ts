// Table types of the store (Kysely). One interface per table; JSON columns hold text.
import type { ColumnType, Generated } from 'kysely';

export interface VmTable {
  name: string;
  /** VmSpec as JSON. */
  spec: string;
  /** What the operator asked for; the daemon drives the VM towards it. */
  desired: 'running' | 'stopped';
  /** Where the definition came from: "path/vm.conf:12", "cli", "api". */
  source: string;
  /** Defined by `vm start` with flags only: forgotten when it stops (as vmctl does). */
  transient: number;
  last_stop_reason: string | null;
  started_at: string | null;
  created_at: ColumnType<string, string, never>;
  updated_at: string;
}

export interface ApiTokenTable {
  id: Generated<number>;
  token_sha256: string;
  principal: string;
  created_at: string;
}

export interface Database {
  vms: VmTable;
  api_tokens: ApiTokenTable;
}
