// Wire types of pools, pool desktops and sessions: a pool is a set of desktops cloned from one gold image
// version, with spare tiers (warm = booted and waiting, cold = cloned but stopped, as OpenUDS' L1/L2 caches).
import { z } from 'zod';
import { DEFAULT_HOME_BYTES } from './images.js';
import { PoolNetwork } from './network.js';
import { PLACEMENT_REFUSAL_CODES, PoolHostLabels, type PlacementRefusal } from './hosts.js';
import { MAX_MEMORY_MIB, MAX_VCPUS, NAME_PATTERN } from './vm.js';
import { type ScheduleStatus, SpareSchedule, spareRuleText } from './pool-schedule.js';

/** Desktop names are `<pool>-<n>`, so a pool name leaves room for the suffix within the 63-character name limit. */
export const POOL_NAME_MAX = 50;
export const MAX_POOL_DESKTOPS = 10_000;
const MIN_DESKTOP_MEMORY_MIB = 64;
const MIN_HOME_BYTES = 1 << 20;
const MAX_HOME_BYTES = 64 * 2 ** 40;
export const MAX_IDLE_MINUTES = 7 * 24 * 60;

const NAME_RULE = 'letters, digits, "_", "." or "-", starting with a letter or digit';
export const PoolName = z
  .string()
  .max(POOL_NAME_MAX, `a pool name is at most ${POOL_NAME_MAX} characters (desktop names add a "-<number>" suffix)`)
  .regex(NAME_PATTERN, `a pool name is ${NAME_RULE}`);
const EntityName = z.string().regex(NAME_PATTERN, `a name is 1-63 ${NAME_RULE}`);

export const PoolVersion = z.union([z.literal('latest'), z.number().int().min(1)]);
export type PoolVersion = z.infer<typeof PoolVersion>;

/** How a desktop starts: `boot` its disk, or `restore` a clone of the pool's template (a booted desktop's saved state). */
export const StartMode = z.enum(['boot', 'restore']);
export type StartMode = z.infer<typeof StartMode>;

/** What happens to a desktop's system disk when its session ends. */
export const OnLogoff = z.enum(['reset', 'keep', 'keep-until-update']);
export type OnLogoff = z.infer<typeof OnLogoff>;

export const Entitlement = z
  .object({ users: z.array(EntityName).default([]), groups: z.array(EntityName).default([]) })
  .strict()
  .default({});

const count = (max: number) => z.number().int().min(0).max(max);
const idleMinutes = z.number().min(0).max(MAX_IDLE_MINUTES).default(0);

/** A destination a restricted NAT desktop may reach (TCP only), at its own address (the kernel filters the VM's uid). */
// The network setting is shared with standalone desktops (contract/network.ts); pools' importers find it here too.
export { NatAllow, PoolNetwork, poolNetworkFromText, poolNetworkText } from './network.js';

export const PoolHome = z.enum(['volume', 'scratch']);
export type PoolHome = z.infer<typeof PoolHome>;

const PoolFields = z
  .object({
    name: PoolName,
    image: EntityName,
    version: PoolVersion.default('latest'),
    minDesktops: count(MAX_POOL_DESKTOPS).default(0),
    maxDesktops: z.number().int().min(1).max(MAX_POOL_DESKTOPS).default(10),
    warmSpares: count(MAX_POOL_DESKTOPS).default(1),
    coldSpares: count(MAX_POOL_DESKTOPS).default(0),
    vcpus: z.number().int().min(1).max(MAX_VCPUS).default(1),
    memoryMiB: z.number().int().min(MIN_DESKTOP_MEMORY_MIB).max(MAX_MEMORY_MIB).default(1024),
    homeSizeBytes: z.number().int().min(MIN_HOME_BYTES).max(MAX_HOME_BYTES).default(DEFAULT_HOME_BYTES),
    /** volume: each user's own home volume, kept across sessions (on the shared data folder: only hosts that mount it);
     *  scratch: a blank disk of homeSizeBytes made with the desktop and wiped at every reset (nothing kept: the pool's
     *  desktops may run on hosts without shared storage). */
    home: PoolHome.default('volume'),
    /** A persistent desktop stays its first user's (its owner) across sessions; a non-persistent one returns to the spares. */
    persistent: z.boolean().default(false),
    /** Defaults to 'reset' for non-persistent pools and 'keep' for persistent ones. */
    onLogoff: OnLogoff.optional(),
    /** In use but no client input for this long → clients disconnected (0 = never). Fractions allowed (0.5 = 30 s). */
    idleDisconnectMinutes: idleMinutes,
    /** Disconnected for this long → the session is logged off (0 = never). Counts from the disconnect. */
    idleLogoffMinutes: idleMinutes,
    maxDesktopsPerUser: z.number().int().min(1).max(MAX_POOL_DESKTOPS).default(1),
    /** Desktops also get a SPICE display for native clients (remote-viewer, a .vv file from the portal), bound to `listen`; null turns it off. */
    spice: z.object({ listen: z.string().ip('the SPICE listen address is an IPv4 or IPv6 address').default('127.0.0.1') }).strict().nullable().optional(),
    /** Users may reset their own desktop (the session ends; the system disk is re-cloned, the home stays). */
    userReset: z.boolean().default(false),
    network: PoolNetwork.default({ mode: 'none' }),
    entitled: Entitlement,
    /** Host labels the pool's desktops require and avoid (placement, src/cluster/placement.ts). */
    hostLabels: PoolHostLabels.default({ require: [], avoid: [] }),
    /** Warm spares by day and time (contract/pool-schedule.ts); while set, it replaces warmSpares. */
    spareSchedule: SpareSchedule.default([]),
    /** boot: each desktop boots; restore: desktops are clones of a template restored from its saved state. Left out at
     *  creation: restore when the image's guest helper can take a restored clone's identity, boot otherwise (start-mode.ts). */
    startMode: StartMode.optional(),
  })
  .strict();

type PoolFieldsOut = z.output<typeof PoolFields>;

/** Cross-field rules, each message naming the fields and what to change. */
function poolCrossFieldIssues(p: PoolFieldsOut): Array<{ path: string; message: string }> {
  const issues: Array<{ path: string; message: string }> = [];
  if (p.minDesktops > p.maxDesktops) {
    issues.push({ path: 'minDesktops', message: `minDesktops (${p.minDesktops}) is above maxDesktops (${p.maxDesktops}): lower minDesktops or raise maxDesktops` });
  }
  if (p.warmSpares + p.coldSpares > p.maxDesktops) {
    issues.push({
      path: 'warmSpares',
      message: `warmSpares + coldSpares (${p.warmSpares} + ${p.coldSpares}) exceed maxDesktops (${p.maxDesktops}): lower the spares or raise maxDesktops`,
    });
  }
  for (const rule of p.spareSchedule.filter((r) => r.warm + p.coldSpares > p.maxDesktops)) {
    issues.push({
      path: 'spareSchedule',
      message: `schedule rule '${spareRuleText(rule)}' plus coldSpares (${p.coldSpares}) exceeds maxDesktops (${p.maxDesktops}): lower its count or raise maxDesktops`,
    });
  }
  if (p.maxDesktopsPerUser > p.maxDesktops) {
    issues.push({ path: 'maxDesktopsPerUser', message: `maxDesktopsPerUser (${p.maxDesktopsPerUser}) is above maxDesktops (${p.maxDesktops}): lower it to at most ${p.maxDesktops}` });
  }
  if (!p.persistent && p.onLogoff !== undefined && p.onLogoff !== 'reset') {
    issues.push({
      path: 'onLogoff',
      message: `a non-persistent pool hands desktops to other users, so it always resets them on logoff: remove onLogoff "${p.onLogoff}" or set persistent: true`,
    });
  }
  if (p.home === 'scratch' && p.persistent) {
    issues.push({ path: 'home', message: 'a persistent desktop keeps its owner\'s files on their home volume: use home "volume" for a persistent pool, or make it non-persistent' });
  }
  if (p.home === 'scratch' && p.startMode === 'restore') {
    issues.push({ path: 'home', message: 'a restored clone has only its template\'s disks: use startMode "boot" for a pool with scratch homes, or home "volume"' });
  }
  if (p.startMode === 'restore' && p.network.mode === 'bridge') {
    issues.push({
      path: 'startMode',
      message: 'a restored clone keeps its template\'s network card, and desktops on a bridge each need their own locked MAC: use startMode "boot" for a bridged pool, or network "nat"',
    });
  }
  return issues;
}

export const Pool = PoolFields.superRefine((p, ctx) => {
  for (const issue of poolCrossFieldIssues(p)) ctx.addIssue({ code: z.ZodIssueCode.custom, path: [issue.path], message: issue.message });
}).transform((p) => ({ ...p, onLogoff: p.onLogoff ?? (p.persistent ? 'keep' : 'reset'), startMode: p.startMode ?? 'boot' }) as Pool);

/** A new pool as the API takes it: a start mode left out is chosen from the image (PoolService.create), not defaulted here. */
export const PoolCreate = PoolFields.superRefine((p, ctx) => {
  for (const issue of poolCrossFieldIssues(p)) ctx.addIssue({ code: z.ZodIssueCode.custom, path: [issue.path], message: issue.message });
});

/** A validated pool: every default applied, onLogoff and startMode resolved. */
export interface Pool extends Omit<PoolFieldsOut, 'onLogoff' | 'startMode'> {
  onLogoff: OnLogoff;
  startMode: StartMode;
}
export type PoolInput = z.input<typeof PoolFields>;

/** All problems of a pool definition at once, as "field: what to fix" lines. */
export function poolProblems(input: unknown): string[] {
  const result = Pool.safeParse(input);
  if (result.success) return [];
  return result.error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message));
}

/**
 * provisioning: overlay being cloned · stopped: cold (overlay ready, VM off) · booting · ready: warm, unassigned
 * (or its persistent owner's, idle) · assigned: handed to a user, session starting · in-use · disconnected: session
 * alive, no client · logging-off · resetting: system disk being re-cloned · failed · retiring: being destroyed.
 */
export const DesktopState = z.enum([
  'provisioning',
  'stopped',
  'booting',
  'ready',
  'assigned',
  'in-use',
  'disconnected',
  'logging-off',
  'resetting',
  'failed',
  'retiring',
]);
export type DesktopState = z.infer<typeof DesktopState>;
/** A persistent desktop moves live (a drain, `vm migrate`) in these states: its VM runs, no lifecycle step is under way. */
export const DESKTOP_LIVE_MOVE_STATES: ReadonlySet<string> = new Set<DesktopState>(['ready', 'in-use', 'disconnected']);
export const DESKTOP_STATES: readonly DesktopState[] = DesktopState.options;

/** The step a desktop failed in: its first clone, its boot (before the guest helper said ready), while it waited
 *  as a warm spare, or the re-clone of a reset. */
export const DesktopFailureStep = z.enum(['clone', 'boot', 'spare', 'reset']);
export type DesktopFailureStep = z.infer<typeof DesktopFailureStep>;

/** Why a desktop is failed: what went wrong, the VM's exit reason and the last line its console printed. */
export const DesktopFailure = z.object({
  step: DesktopFailureStep,
  message: z.string(),
  vmExit: z.string().nullable(),
  consoleLine: z.string().nullable(),
});
export type DesktopFailure = z.infer<typeof DesktopFailure>;

export const DesktopView = z.object({
  name: EntityName,
  pool: PoolName,
  state: DesktopState,
  /** The session's user, a persistent desktop's owner, or null for a spare. */
  user: EntityName.nullable(),
  /** The host running (or last running) its VM; null before placement. */
  host: z.string().nullable(),
  imageVersion: z.number().int().min(1),
  /** ISO-8601 time the desktop entered its current state. */
  since: z.string(),
  /** Set while the desktop is failed: why (the API always sends it, null unless failed). */
  failure: DesktopFailure.nullable().optional(),
});
export type DesktopView = z.infer<typeof DesktopView>;

/** A user's live session: their home volume is attached to this desktop. */
export const SessionView = z.object({ user: EntityName, pool: PoolName, desktop: EntityName });
export type SessionView = z.infer<typeof SessionView>;

/** Why the broker refused; codes to add to the error registry (see broker-plan.ts for the status of each). */
export const BrokerRefusalCode = z.enum([
  'POOL_NOT_ENTITLED',
  'POOL_FULL',
  'POOL_USER_LIMIT',
  'POOL_BOOT_STORM',
  'POOL_DESKTOP_BUSY',
  'HOME_LEASED',
  'DESKTOP_HOST_UNREACHABLE',
  'IMAGE_NO_VERSION',
  ...PLACEMENT_REFUSAL_CODES,
]);
export type BrokerRefusalCode = z.infer<typeof BrokerRefusalCode>;

/** A change to a pool: any field but the name; the merged result is validated as a whole. */
export const PoolPatch = PoolFields.omit({ name: true }).partial().strict();
export type PoolPatch = z.infer<typeof PoolPatch>;

/** A pool as the API shows it: its definition, the version new desktops get, and its desktops counted. */
export interface PoolView extends Pool {
  currentVersion: number | null;
  counts: { total: number; byState: Partial<Record<DesktopState, number>>; byVersion: Record<string, number> };
  /** Desktops in session on an older version: they move to the current one at their user's logoff. */
  pendingAtLogoff: string[];
  /** Set while the pool cannot place a new desktop or spare: which resource is short on which host. */
  cannotPlace: PlacementRefusal | null;
  /** What the planner makes of the spare schedule now; null without a schedule (or before its first pass). */
  schedule: ScheduleStatus | null;
  /** The restore template of a pool in start mode restore (null in boot mode): desktops boot while it is not ready. */
  template: TemplateStatus | null;
}

/** building: the template desktop boots and is saved · ready: desktops start as its clones · failed: they boot (reason says why). */
export interface TemplateStatus {
  state: 'building' | 'ready' | 'failed';
  /** Why desktops boot instead of restoring (building, failed), or null when ready. */
  reason: string | null;
  /** The template's key (image version, VM shape, QEMU) once known. */
  key: string | null;
  since: string;
  /** Boot → guest `ready` and the save of the template, in ms (ready only). */
  bootMs: number | null;
  saveMs: number | null;
  /** The last clone's spawn → state loaded, in ms. */
  lastRestoreMs: number | null;
  /** The image kernel's CONFIG_VMGENID (its helper read /boot/config-*): `no` makes the pool boot; `unknown` (no config in
   *  the guest) restores, and clones' kernel random numbers may repeat the template's. null until a template booted. */
  kernelVmgenid: 'yes' | 'no' | 'unknown' | null;
}

const MacAddress = z.string().regex(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i, 'a MAC address like 52:54:00:12:34:56');

export const ConnectBody = z
  .object({
    /** Return once the guest reports the session started (default), or at once with the desktop as it is. */
    wait: z.boolean().default(true),
    waitSeconds: z.number().int().min(1).max(1800).default(600),
    client: z.object({ thinClient: MacAddress.optional() }).strict().default({}),
  })
  .strict()
  .default({});
export type ConnectBody = z.infer<typeof ConnectBody>;

export interface ClientInfo {
  address: string;
  thinClient?: string;
  at: string;
}

/** A session as the API shows it: the desktop it holds, its state, and the display clients on it. */
export interface SessionInfo extends SessionView {
  state: DesktopState;
  since: string;
  imageVersion: number;
  clients: number;
  lastClient: ClientInfo | null;
  /** The guest's clipboard agent is up in the session: a paste sent now reaches it (the portal holds one made before). */
  clipboardReady: boolean;
}
