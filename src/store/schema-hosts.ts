// Hosts of the cluster (a single install is a one-node cluster): this domain's table types (part of the store's Database).
import type { Generated } from 'kysely';

export interface HostTable {
  name: string;
  /** HostState (src/contract/hosts.ts): only `up` hosts take new desktops, spares and VMs. */
  state: string;
  /** Labels pools may require or avoid, as a JSON array of strings. */
  labels: string;
  /** 'serve' while the host's serve --host-label sets its labels at each start; 'api' when they are edited in the store. */
  labels_from: Generated<string>;
  memory_mib: number;
  vcpus: number;
  /** How far promised guest memory may exceed the host's usable memory (1 = none). */
  memory_overcommit: number;
  /** Guest vCPUs per host CPU. */
  cpu_overcommit: number;
  heartbeat_at: string;
  /** For remote agents (later): the hash of the agent's credential and its certificate's SHA-256; null for the embedded agent. */
  agent_credential_sha256: string | null;
  cert_fingerprint: string | null;
  created_at: string;
  updated_at: string;
  /** A remote agent's report as JSON (HostAgentReport); null for the embedded agent. */
  agent_report: Generated<string | null>;
  /** When the remote agent's current link was accepted; null while none lives. */
  agent_linked_at: Generated<string | null>;
}

/** One-time tokens of `ardesia host add`: only the secret's SHA-256 is kept. */
export interface HostJoinTokenTable {
  id: string;
  host: string;
  secret_sha256: string;
  expires_at: string;
  used_at: string | null;
  created_by: string;
  created_at: string;
}

/** Each host's sanlock host id in the site lockspace (1..2000), given once. */
export interface LeaseHostIdTable {
  host: string;
  host_id: number;
}

/** Each home's sanlock resource (its slot in DATA_DIR/leases/homes) and, for the console and the audit, its holder;
 *  the sanlock lease is what enforces, this row only records. */
export interface HomeLeaseTable {
  user: string;
  slot: number;
  resource: string;
  /** 0 new, 2 while one host initialises the resource's area on the storage, 1 once it is initialised. */
  ready: number;
  /** Counts the acquisitions of this home's lease. */
  generation: number;
  holder_host: string | null;
  holder_desktop: string | null;
  holder_pid: number | null;
  acquired_at: string | null;
}

export interface HostTables {
  hosts: HostTable;
  host_join_tokens: HostJoinTokenTable;
  lease_host_ids: LeaseHostIdTable;
  home_leases: HomeLeaseTable;
}
