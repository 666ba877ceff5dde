// What `ardesia serve` is started with (cli/commands/serve.ts parses the flags into it; daemon.ts starts from it).
import type { ListenTlsFlags } from '../tls/listen-plan.js';

export interface ServeOptions {
  dataDir: string;
  /** This host's own folder: the socket, the lock (with PostgreSQL), VM runtime and logs, the NAT guard's table
   *  (default: the data folder; several controllers sharing one data folder each have their own). */
  runDir?: string;
  socket?: string;
  listen?: string;
  config?: string;
  /** Stop every VM when the daemon stops (default: VMs keep running, as vmd's do not). */
  stopVmsOnExit?: boolean;
  logLevel?: string;
  /** Desktops starting at once, over every pool (default 2: a boot under TCG takes a core). */
  bootStormLimit?: number;
  /** The IANA time zone spare schedules are read in (default: the process's local zone). */
  timeZone?: string;
  /** A desktop whose guest helper has not said "ready" this long after its start failed (default 600). */
  bootTimeoutSeconds?: number;
  /** Netboot configuration file (YAML/JSON): DHCP, TFTP and HTTP boot of thin clients. */
  netboot?: string;
  /** A group whose members may connect to the API socket (0660); default root-only (0600). */
  socketGroup?: string;
  /** What VM owners who are not administrators may use (YAML/JSON; docs/security/20-owners.md); built-in defaults otherwise. */
  ownerPolicy?: string;
  /** How --listen speaks: HTTPS off loopback unless --insecure-http (src/tls/listen-plan.ts). */
  tls?: ListenTlsFlags;
  /** Reverse proxies whose X-Forwarded-For gives the client's address (addresses or IPv4 CIDRs); default none. */
  trustedProxies?: string[];
  /** How long a login token (`ardesia login`) lives; default 30 days. */
  tokenTtlMs?: number;
  /** Start NAT VMs even when the NAT guard could not be installed (their guests then reach the host). */
  allowUnguardedNat?: boolean;
  /** serve --vm-uid-base: the first uid of the range VMs with a NAT allow-list take theirs from. */
  vmUidBase?: number;
  /** The store: `sqlite` (DATA_DIR/ardesia.db, the default) or a postgres:// URL. */
  database?: string;
  /** This host's name in the cluster (default: the machine's hostname). */
  hostName?: string;
  /** Placement's overcommit ratios for this host (defaults 1.5 memory, 16 vCPUs). */
  memoryOvercommit?: number;
  cpuOvercommit?: number;
  /** Labels of this host that pools may require or avoid (serve --host-label). */
  hostLabels?: string[];
  /** serve --home-leases: sanlock leases a home to the QEMU that has it attached (off: the one-host store lease only). */
  homeLeases?: 'off' | 'sanlock';
  /** serve --lease-io-timeout: sanlock's io timeout for the site lockspace (seconds, default 10). */
  leaseIoTimeoutS?: number;
  /** Directory sources (YAML/JSON): LDAP and Active Directory logins (README "Directory logins"). */
  directory?: string;
  /** PostgreSQL: how long the leading controller's lease lasts, and how often it renews it (defaults 15 s, 5 s). */
  controllerLeaseMs?: number;
  controllerRenewMs?: number;
  /** PostgreSQL, several serve: the address only the leader holds (service-address.ts). */
  serviceAddress?: { cidr: string; iface: string | undefined };
  /** serve --fence-config: each host's fence agent command (a root-owned JSON file, host-fence.ts). */
  fenceConfig?: string;
  /** When this controller's term is lost (another leads now): default, exit with EXIT_DEPOSED (75). */
  onDeposed?(reason: string): void;
}
