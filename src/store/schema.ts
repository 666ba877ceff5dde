// Table types of the store (Kysely). One interface per table; JSON columns hold text.
import type { ColumnType, Generated } from 'kysely';
import type { AuthTables } from './schema-auth.js';
import type { PoolTables } from './schema-pools.js';
import type { NetbootTables } from './schema-netboot.js';
import type { HostTables } from './schema-hosts.js';
import type { TimelineTables } from './schema-timeline.js';

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
  /** The host it runs on or last ran on (placement's choice); null only before the daemon's first start after 0010_hosts. */
  host: ColumnType<string | null, string | null | undefined, string | null>;
  /** The generation of its last desired change (a VM on a remote host: its agent applies each once). */
  generation: ColumnType<number, number | undefined, number>;
  /** VmObserved as JSON: the agent's last report of it (a VM on a remote host), null when it reported none. */
  observed: ColumnType<string | null, string | null | undefined, string | null>;
  /** Set when the controller restarted it elsewhere after its host was lost; cleared by the next start. */
  host_loss: ColumnType<string | null, string | null | undefined, string | null>;
  /** VmMoveIntent as JSON: a live migration under way (or one a controller stopped in), null otherwise. */
  moving: ColumnType<string | null, string | null | undefined, string | null>;
  restore_from: ColumnType<string | null, string | null | undefined, string | null>;
  /** The VM owner (not an administrator) whose start it runs under, their owner rules applied wherever it runs; null otherwise. */
  confined_by: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface ApiTokenTable {
  id: Generated<number>;
  token_sha256: string;
  principal: string;
  created_at: string;
  /** Set for tokens issued by a login (POST /v1/auth/tokens); null for the root and vm-owner file tokens. */
  label: string | null;
  /** Whose token: root, a web user (login tokens) or a unix account (vm.conf owner token files). */
  kind: ColumnType<'root' | 'user' | 'unix', 'root' | 'user' | 'unix', never>;
  /** Login tokens end then (serve --token-ttl); null: file tokens, which end when their file is replaced. */
  expires_at: string | null;
}

export interface Database extends AuthTables, PoolTables, NetbootTables, HostTables, TimelineTables {
  vms: VmTable;
  api_tokens: ApiTokenTable;
  images: ImageTable;
  image_versions: ImageVersionTable;
  maintenance_sessions: MaintenanceSessionTable;
  desktops: DesktopTable;
  homes: HomeTable;
  audit: AuditTable;
}

export interface ImageTable {
  name: string;
  arch: 'amd64' | 'i386';
  firmware: 'bios' | 'uefi';
  memory_mib: number;
  /** File names inside images/<name>/boot/, or null (boot from the disk). */
  kernel: string | null;
  initrd: string | null;
  cmdline: string | null;
  /** The version of the Ardesia guest helper the image carries, when known (images built by Ardesia); null otherwise. */
  guest_helper: number | null;
  /** The version desktops on "latest" get; null until the first publish. */
  current_version: number | null;
  created_at: string;
  created_by: string;
}

export interface ImageVersionTable {
  image: string;
  version: number;
  sha256: string;
  /** The version this file is a qcow2 overlay on; null for a flat (self-contained) file. */
  backing_version: number | null;
  /** Files in the chain, this one included (1 = flat). */
  depth: number;
  virtual_size: number;
  created_at: string;
  created_by: string;
}

export interface MaintenanceSessionTable {
  image: string;
  /** The version the overlay is on; null for an ISO install on a blank disk. */
  base_version: number | null;
  target_version: number;
  overlay: string;
  vm_name: string;
  iso: string | null;
  started_by: string;
  started_at: string;
}

export interface DesktopTable {
  name: string;
  image: string;
  version: number;
  /** 1: re-cloned from the image's current version at each reset. */
  follows_latest: number;
  home_user: string | null;
  vm_name: string;
  created_at: string;
  /** The desktop's network card: PoolNetwork as JSON. */
  network: string;
}

export interface HomeTable {
  user: string;
  size_bytes: number;
  /** The desktop that holds the lease, or null. */
  leased_to: string | null;
  leased_at: string | null;
  created_at: string;
}

export interface AuditTable {
  id: Generated<number>;
  at: string;
  principal: string;
  action: string;
  target: string;
  detail: string | null;
  /** The client's address (null for entries before 0003_auth and for the daemon's own actions). */
  address: string | null;
}
