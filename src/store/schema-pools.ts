// Pools, pool desktops with their lifecycle state, and sessions: this domain's table types (part of the store's Database).

export interface PoolTable {
  name: string;
  /** The validated Pool (src/contract/pools.ts) as JSON. */
  spec: string;
  created_at: string;
  created_by: string;
  updated_at: string;
}

export interface PoolDesktopTable {
  name: string;
  pool: string;
  /** DesktopState; changed only through the transition table (src/desktops/lifecycle.ts). */
  state: string;
  /** The session's user, a persistent desktop's owner, or null for a spare. */
  user: string | null;
  host: string | null;
  image: string;
  version: number;
  /** When the desktop entered its state (ISO-8601). */
  since: string;
  /** Why it failed, or why the last action on it went wrong. */
  last_error: string | null;
  /** While failed: the step (DesktopFailureStep), the VM's exit reason, the console's last line. */
  failure_step: string | null;
  failure_vm_exit: string | null;
  failure_console: string | null;
  created_at: string;
}

/** One row per pool that has booted a desktop: the running estimate of a boot (src/desktops/spare-schedule.ts). */
export interface PoolBootTimeTable {
  pool: string;
  estimate_ms: number;
  samples: number;
  updated_at: string;
}

export interface PoolTables {
  pools: PoolTable;
  pool_desktops: PoolDesktopTable;
  pool_boot_times: PoolBootTimeTable;
}
