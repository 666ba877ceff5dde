// Store access for hosts, and what runs on each host as counted from the store (desired state, not /proc).
import type { Selectable } from 'kysely';
import { ArdesiaError } from '../contract/errors.js';
import { isInSession, isWarm } from '../contract/desktop-states.js';
import { DESKTOP_STATES, type DesktopState } from '../contract/pools.js';
import type { HostAgentReport, HostAgentView, HostCapacityView, HostDetail, HostState, HostStorage, HostUsage, HostView, KsmReport } from '../contract/hosts.js';
import type { Store } from '../store/db.js';
import type { HostTable } from '../store/schema-hosts.js';
import { type HostLoad, type HostQemu, qemuMismatchWithController } from './placement.js';
import { dbNowIso } from './db-clock.js';
import { type HostJudgement, hostLiveness, type StorageLiveness } from './host-liveness.js';

export type HostRow = Selectable<HostTable>;

/** Storage liveness by host name, as the controller's sanlock daemon last saw each host's delta lease; or `fenced-off`:
 *  its fence device confirmed it powered off since its last heartbeat (host-fence.ts). */
export type StorageView = ReadonlyMap<string, StorageLiveness | 'fenced-off'>;

/** Pure: the state and its reason placement and the views use (host-liveness.ts); the controller's own host is never
 *  judged by its heartbeat (the process asking is its embedded agent: alive, even if a stalled event loop delayed it). */
export function hostJudgementNow(row: Pick<HostRow, 'name' | 'state' | 'heartbeat_at'>, nowMs: number, controller?: string, storage?: StorageView): HostJudgement {
  const witness = storage?.get(row.name);
  return hostLiveness(row.state as HostState, nowMs - Date.parse(row.heartbeat_at), row.name === controller, witness === 'fenced-off' ? undefined : witness, witness === 'fenced-off');
}

export function hostStateNow(row: Pick<HostRow, 'name' | 'state' | 'heartbeat_at'>, nowMs: number, controller?: string, storage?: StorageView): HostState {
  return hostJudgementNow(row, nowMs, controller, storage).state;
}

export const hostGet = (db: Store, name: string) => db.selectFrom('hosts').selectAll().where('name', '=', name).executeTakeFirst();

export async function requireHost(db: Store, name: string): Promise<HostRow> {
  const row = await hostGet(db, name);
  if (!row) throw new ArdesiaError('HOST_NOT_FOUND', `host ${name} is not known`);
  return row;
}

export const capacityOf = (row: HostRow): HostCapacityView => ({ memoryMiB: row.memory_mib, vcpus: row.vcpus, memoryOvercommit: row.memory_overcommit, cpuOvercommit: row.cpu_overcommit });

/** A VM's memory and vCPUs from its stored spec, without validating the whole spec again. */
function vmSize(spec: string): { memoryMiB: number; vcpus: number } {
  const s = JSON.parse(spec) as { memoryMiB?: number; vcpus?: number };
  return { memoryMiB: s.memoryMiB ?? 0, vcpus: s.vcpus ?? 1 };
}

export interface HostsSnapshot {
  rows: HostRow[];
  /** The database's clock when the rows were read (ms): heartbeats written by several hosts are judged by it. */
  nowMs?: number;
  usage: Map<string, HostUsage>;
  poolDesktops: Map<string, Record<string, number>>;
}

/** Pool desktop states with a VM on its host: booted spares and sessions (a stopped desktop is only a disk). */
const ON_HOST_STATES = DESKTOP_STATES.filter((s) => isWarm(s) || isInSession(s));

const emptyUsage = (): HostUsage => ({ memoryMiB: 0, vcpus: 0, runningVms: 0, desktopsInSession: 0, spares: 0 });

/** Every host with what runs there, in three queries whatever the number of hosts, VMs and desktops. */
export async function hostsSnapshot(db: Store): Promise<HostsSnapshot> {
  const [rows, vms, desktops] = await Promise.all([
    db.selectFrom('hosts').selectAll().select(dbNowIso(db).as('db_now')).orderBy('name').execute(),
    db.selectFrom('vms').select(['host', 'spec']).where('desired', '=', 'running').where('host', 'is not', null).execute(),
    db.selectFrom('pool_desktops').select(['host', 'pool', 'state', 'user']).where('host', 'is not', null).where('state', 'in', ON_HOST_STATES).execute(),
  ]);
  const usage = new Map<string, HostUsage>(rows.map((r) => [r.name, emptyUsage()]));
  const poolDesktops = new Map<string, Record<string, number>>(rows.map((r) => [r.name, {}]));
  const usageOf = (host: string): HostUsage => usage.get(host) ?? usage.set(host, emptyUsage()).get(host)!;
  for (const vm of vms) {
    const u = usageOf(vm.host!);
    const size = vmSize(vm.spec);
    u.memoryMiB += size.memoryMiB;
    u.vcpus += size.vcpus;
    u.runningVms += 1;
  }
  for (const d of desktops) {
    const state = d.state as DesktopState;
    const inSession = isInSession(state);
    const spare = d.user === null && isWarm(state);
    if (!inSession && !spare) continue;
    const u = usageOf(d.host!);
    if (inSession) u.desktopsInSession += 1;
    else u.spares += 1;
    const counts = poolDesktops.get(d.host!) ?? poolDesktops.set(d.host!, {}).get(d.host!)!;
    counts[d.pool] = (counts[d.pool] ?? 0) + 1;
  }
  const nowMs = rows[0] ? Date.parse(rows[0].db_now) : undefined;
  return { rows: rows.map(({ db_now: _, ...row }) => row), usage, poolDesktops, ...(nowMs === undefined ? {} : { nowMs }) };
}

/** `controllerKsm`: KSM as read on the controller's own host (other hosts' sysfs is not readable from here). */
export function hostViewOf(row: HostRow, snap: HostsSnapshot, controller: string, nowMs: number, controllerKsm: KsmReport | null = null, storage?: StorageView, controllerQemu: HostQemu | null = null): HostView {
  const judged = hostJudgementNow(row, nowMs, controller, storage);
  const qemu = row.name === controller ? controllerQemu : (qemuOf(row).qemu ?? null);
  return {
    name: row.name,
    state: judged.state,
    stateReason: judged.reason,
    labels: JSON.parse(row.labels) as string[],
    labelsFrom: row.labels_from === 'serve' ? 'serve' : 'api',
    capacity: capacityOf(row),
    used: snap.usage.get(row.name) ?? emptyUsage(),
    heartbeatAt: row.heartbeat_at,
    controller: row.name === controller,
    storage: storageOf(row),
    ksm: row.name === controller ? controllerKsm : null,
    agent: agentViewOf(row),
    qemu,
    qemuMismatch: row.name === controller ? null : qemuMismatchWithController(qemu, controllerQemu),
  };
}

/** What the host's agent said of its storage at its last hello (the controller's own host, and agents before protocol 7:
 *  shared). */
export function storageOf(row: Pick<HostRow, 'agent_report'>): HostStorage {
  if (row.agent_report === null) return 'shared';
  return (JSON.parse(row.agent_report) as { storage?: HostStorage }).storage === 'local' ? 'local' : 'shared';
}

/** A remote agent's stored report, whether its link lives now, and whether it is ready on that link. */
export function agentViewOf(row: Pick<HostRow, 'agent_report' | 'agent_linked_at' | 'heartbeat_at'>): HostAgentView | null {
  if (row.agent_report === null) return null;
  const { storage: _storage, ...report } = JSON.parse(row.agent_report) as HostAgentReport & { storage?: HostStorage };
  return { ...report, linked: row.agent_linked_at !== null, ready: agentReady(row) };
}

/** An agent is ready once it heartbeats on its current link: the link's hello and each heartbeat are stamped by the
 *  controller with the database's clock, and the agent sends its first heartbeat only once its host joined the lockspace
 *  and carried out the link's full desired set. */
export function agentReady(row: Pick<HostRow, 'agent_linked_at' | 'heartbeat_at'>): boolean {
  return row.agent_linked_at !== null && Date.parse(row.heartbeat_at) >= Date.parse(row.agent_linked_at);
}

/** Hosts placement may choose: with `remoteAgents`, hosts run by a remote agent count too (a start that needs the
 *  controller's own host leaves them out). */
export function hostLoadsOf(snap: HostsSnapshot, nowMs: number, controller?: string, storage?: StorageView, remoteAgents = false): HostLoad[] {
  return snap.rows.filter((row) => remoteAgents || row.agent_credential_sha256 === null).map((row) => {
    const used = snap.usage.get(row.name) ?? emptyUsage();
    return {
      name: row.name,
      state: hostStateNow(row, nowMs, controller, storage),
      labels: JSON.parse(row.labels) as string[],
      memoryMiB: row.memory_mib,
      vcpus: row.vcpus,
      memoryOvercommit: row.memory_overcommit,
      cpuOvercommit: row.cpu_overcommit,
      usedMiB: used.memoryMiB,
      usedVcpus: used.vcpus,
      poolDesktops: snap.poolDesktops.get(row.name) ?? {},
      ...(row.agent_credential_sha256 !== null && row.agent_linked_at === null ? { agentUnlinked: true } : {}),
      ...(row.agent_credential_sha256 !== null && row.agent_linked_at !== null && !agentReady(row) ? { agentNotReady: true } : {}),
      storage: storageOf(row),
      ...qemuOf(row),
    };
  });
}

/** The QEMU an agent's host runs, as its last hello said (the controller's own host: its host check, HostService). */
function qemuOf(row: Pick<HostRow, 'agent_report'>): Pick<HostLoad, 'qemu'> {
  if (row.agent_report === null) return {};
  const report = JSON.parse(row.agent_report) as Partial<HostAgentReport>;
  return report.accel === undefined ? {} : { qemu: { version: report.qemuVersion ?? null, accel: report.accel } };
}

/** What is left on a host: pool desktops booted or in session there, and VMs meant to run there. */
export async function hostContents(db: Store, host: string): Promise<Pick<HostDetail, 'desktops' | 'vms' | 'savedStates'>> {
  const [desktops, vms, stopped] = await Promise.all([
    db.selectFrom('pool_desktops').select(['name', 'pool', 'state', 'user']).where('host', '=', host).orderBy('name').execute(),
    db.selectFrom('vms').select('name').where('host', '=', host).where('desired', '=', 'running').orderBy('name').execute(),
    db.selectFrom('vms').select(['name', 'observed']).where('host', '=', host).where('desired', '=', 'stopped').where('observed', 'is not', null).orderBy('name').execute(),
  ]);
  const pooled = new Set(desktops.map((d) => d.name));
  return {
    desktops: desktops.filter((d) => isInSession(d.state as DesktopState) || (d.user === null && isWarm(d.state as DesktopState))),
    vms: vms.map((v) => v.name).filter((n) => !pooled.has(n)),
    savedStates: stopped.filter((v) => (JSON.parse(v.observed!) as { savedState?: boolean }).savedState === true).map((v) => v.name),
  };
}
