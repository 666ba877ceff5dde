// Hosts of the cluster as the API, CLI and console see them. A single install is a one-node cluster: its
// daemon registers its own host at start and heartbeats it.
import { z } from 'zod';

/** suspect: silent but maybe alive (cut off); down: silent and its storage lease expired (src/cluster/host-liveness.ts). */
export const HOST_STATES = ['up', 'draining', 'maintenance', 'suspect', 'down'] as const;
export const HostState = z.enum(HOST_STATES);
export type HostState = z.infer<typeof HostState>;

/** A host name as hostnames are spelled (RFC 1123 labels), at most 63 characters per label. */
export const HostName = z
  .string()
  .max(253)
  .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i, 'a host name (letters, digits, hyphens and dots, like blade1 or blade1.example.org)');

/** A label pools may require or avoid: `ssd`, `rack=a`. */
export const HostLabel = z.string().regex(/^[a-z0-9][a-z0-9._=-]{0,62}$/i, 'a label (letters, digits and . _ = -, like ssd or rack=a)');

/** Labels a pool requires on its hosts (all of them) and avoids (none of them). */
export const HOST_LABELS_FROM = ['serve', 'api'] as const;
export type HostLabelsFrom = (typeof HOST_LABELS_FROM)[number];
/** PUT /v1/hosts/:name/labels: the host's whole set of labels. */
export const HostLabelsBody = z.object({ labels: z.array(HostLabel).max(16) }).strict();
export type HostLabelsBody = z.infer<typeof HostLabelsBody>;

export const PoolHostLabels = z
  .object({ require: z.array(HostLabel).max(16).default([]), avoid: z.array(HostLabel).max(16).default([]) })
  .strict();
export type PoolHostLabels = z.infer<typeof PoolHostLabels>;

export interface HostCapacityView {
  memoryMiB: number;
  vcpus: number;
  memoryOvercommit: number;
  cpuOvercommit: number;
}

/** What runs on a host, as counted from the store. */
export interface HostUsage {
  /** Memory and vCPUs promised to the VMs meant to run there. */
  memoryMiB: number;
  vcpus: number;
  runningVms: number;
  /** Pool desktops in a session (in use or disconnected) and spares booted there. */
  desktopsInSession: number;
  spares: number;
}

/** What a remote agent reported: its version, QEMU, accelerator and KVM probe at hello, its load at each heartbeat. */
/** Whether a host mounts the shared data folder (images/, desktops/, homes/) or keeps copies of image versions of its own. */
export const HostStorage = z.enum(['shared', 'local']);
export type HostStorage = z.infer<typeof HostStorage>;

export interface HostAgentView {
  version: string;
  qemuVersion: string | null;
  accel: 'kvm' | 'tcg';
  kvmProbe: { ok: boolean; detail: string };
  load: { loadAverage1m: number; memoryFreeMiB: number } | null;
  /** Its link to the controller lives now. */
  linked: boolean;
  /** Linked and heartbeating on that link: its host is as the controller wants and takes new VMs (false while the agent
   *  joins the home leases' lockspace after a restart, which can take host_dead_seconds, or carries out its first set). */
  ready: boolean;
}

/** What an agent's hello and heartbeats tell (stored as the host's agent report): the view less its link's state. */
export type HostAgentReport = Omit<HostAgentView, 'linked' | 'ready'>;

export interface HostView {
  name: string;
  state: HostState;
  /** Why the host is suspect or down (its heartbeat, its storage lease); null otherwise. */
  stateReason: string | null;
  labels: string[];
  /** `serve`: the host's `serve --host-label` sets the labels at each start (change them there); `api`: edited here. */
  labelsFrom: HostLabelsFrom;
  capacity: HostCapacityView;
  used: HostUsage;
  heartbeatAt: string;
  /** The host this daemon runs on (and embeds the agent of). */
  controller: boolean;
  /** shared: it mounts the shared data folder; local: its agent keeps copies of image versions (agent --storage local). */
  storage: HostStorage;
  /** KSM on that host, read live; null for a host other than the controller's (its sysfs is not readable from here). */
  ksm: KsmReport | null;
  /** The remote agent of the host; null for the controller's own host (its agent is embedded). */
  agent: HostAgentView | null;
  /** The QEMU build and accelerator the host runs (the controller's own: its host check; an agent's: its hello); null
   *  while not known. */
  qemu: { version: string | null; accel: 'kvm' | 'tcg' } | null;
  /** Why restore templates (built on the controller's host) cannot load on this host, so that restore pools' desktops
   *  boot afresh here: its QEMU build or accelerator differs from the controller's. null when they can, or not known. */
  qemuMismatch: string | null;
}

/** A host and what is left on it: `host show`, and what a drain waits for. */
export interface HostDetail extends HostView {
  desktops: Array<{ name: string; pool: string; state: string; user: string | null }>;
  vms: string[];
  /** Stopped VMs whose state is saved on this host (vm stop --to-disk on its agent): their next start resumes it there. */
  savedStates: string[];
}

/** `host evict`'s default: how long each guest has to power off before its QEMU is stopped by force. */
export const EVICT_GRACE_DEFAULT_S = 30;
/** What `host evict` did with each VM of the host: powered off, stopped by force after the grace, or (its agent not
 *  linked) ordered stopped, carried out when the agent reconnects. */
export interface HostEviction {
  host: string;
  graceSeconds: number;
  vms: Array<{ name: string; outcome: 'stopped' | 'forced' | 'ordered' | 'failed'; detail: string | null }>;
}

export const PLACEMENT_REFUSAL_CODES = ['PLACEMENT_NO_HOST_UP', 'PLACEMENT_NO_LABELED_HOST', 'PLACEMENT_NO_CAPACITY', 'PLACEMENT_NO_VCPUS', 'PLACEMENT_NO_SHARED_STORAGE'] as const;
export type PlacementRefusalCode = (typeof PLACEMENT_REFUSAL_CODES)[number];

/** Why a pool could not place a desktop or spare: the registry code and which resource is short on which host. */
export interface PlacementRefusal {
  code: PlacementRefusalCode;
  message: string;
}

/** What a user who is not an administrator is told: the code, not the cluster's hosts and capacities. */
export function placementRefusalForUser(refusal: PlacementRefusal, pool: string): PlacementRefusal {
  return { code: refusal.code, message: `no host can start a desktop of pool ${pool} now; an administrator sees why in \`ardesia pool show ${pool}\`` };
}

/** What `ardesia host ksm` sets: on = scanning, off = no scanning (merged pages stay merged until written),
 *  unmerge = every merged page copied back now (only when asked: memory use grows by what KSM saved). */
export const KSM_MODES = ['on', 'off', 'unmerge'] as const;
export const KsmMode = z.enum(KSM_MODES);
export type KsmMode = z.infer<typeof KsmMode>;

/** Kernel same-page merging on a host, as read from /sys/kernel/mm/ksm (null fields: the kernel has no such file). */
export interface KsmReport {
  /** The kernel has KSM (CONFIG_KSM): /sys/kernel/mm/ksm exists. */
  available: boolean;
  /** run: 0 off, 1 on, 2 unmerging; null when unavailable. */
  mode: KsmMode | null;
  enabled: boolean;
  pageSizeBytes: number;
  /** Memory KSM saves now: pages_sharing × the page size. */
  savedBytes: number;
  pagesSharing: number;
  pagesShared: number;
  pagesUnshared: number;
  fullScans: number;
  /** The kernel's own net figure (saved less KSM's bookkeeping; 6.1 lacks it). */
  generalProfitBytes: number | null;
  pagesToScan: number | null;
  sleepMillisecs: number | null;
}

/** A live migration done (POST /v1/vms/NAME/migrate, or a drain's): where from, where to, how long. */
export const VmMigrationView = z.object({ vm: z.string(), from: HostName, to: HostName, ms: z.number().int().min(0) }).strict();
export type VmMigrationView = z.infer<typeof VmMigrationView>;
