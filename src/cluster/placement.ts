// Where a new desktop, spare or VM runs, pure: only hosts that are up and carry the labels asked for, only where its
// memory and vCPUs fit under the host's overcommit ratios (beside a memory reserve kept for the host itself), only on
// hosts mounting the shared data folder when what it runs keeps files there (a home, a persistent disk); a pool's
// desktops spread over its hosts first, then (a restore template's clone) the hosts whose QEMU can load the template,
// then the least loaded host; ties broken by name so the same inputs always give the same host. A refusal says, for
// every host, which resource is short there.
import type { HostState, PlacementRefusalCode } from '../contract/hosts.js';

export interface HostLoad {
  name: string;
  state: HostState;
  labels: readonly string[];
  memoryMiB: number;
  vcpus: number;
  /** Promised guest memory may reach (memory - reserve) × this. */
  memoryOvercommit: number;
  /** Guest vCPUs may reach vcpus × this. */
  cpuOvercommit: number;
  /** Memory and vCPUs already promised to the VMs meant to run on the host. */
  usedMiB: number;
  usedVcpus: number;
  /** Desktops (booted or in session) of each pool on the host: a pool spreads. */
  poolDesktops: Readonly<Record<string, number>>;
  /** An agent's host whose agent has no link now: nothing can be started there until it relinks. */
  agentUnlinked?: boolean;
  /** An agent's host linked but not yet heartbeating on that link (joining the home leases' lockspace, or carrying out
   *  its first desired set): what is started there now waits that long, so nothing new goes there until it is ready. */
  agentNotReady?: boolean;
  /** `local`: the host does not mount the shared data folder (absent: it does). */
  storage?: 'shared' | 'local';
  /** The QEMU its VMs run under, as its agent (or the controller's host check) reported it; absent: not known. */
  qemu?: HostQemu;
}

/** A host's QEMU build and accelerator: a saved state loads only where both are the ones it was saved under. */
export interface HostQemu {
  version: string | null;
  accel: 'kvm' | 'tcg';
}

export interface PlacementNeed {
  memoryMiB: number;
  vcpus: number;
  /** The pool the desktop belongs to (spread), if any. */
  pool?: string;
  requireLabels?: readonly string[];
  avoidLabels?: readonly string[];
  /** Why it must run where the shared data folder is mounted (a home volume, a persistent disk, a plain VM's files), or
   *  absent when a host with storage of its own will do. */
  sharedStorage?: string;
  /** A restore template's clone: the QEMU the template was saved under. A host with another restores nothing of it (the
   *  clone would boot afresh there), so such hosts come after the others at equal spread; never a refusal. */
  restoreFrom?: { qemuVersion: string; accel: 'kvm' | 'tcg'; vmAccel?: 'auto' | 'kvm' | 'tcg' };
}

export type { PlacementRefusalCode } from '../contract/hosts.js';

export type Placement = { kind: 'host'; host: string } | { kind: 'refuse'; code: PlacementRefusalCode; message: string };

/** Kept free for the host's own OS, QEMU overhead and page cache: the larger of a floor and a share. */
export const HOST_RESERVE_MIN_MIB = 512;
export const HOST_RESERVE_FRACTION = 0.1;

export function hostReserveMiB(host: Pick<HostLoad, 'memoryMiB'>): number {
  return Math.max(HOST_RESERVE_MIN_MIB, Math.ceil(host.memoryMiB * HOST_RESERVE_FRACTION));
}

/** Guest memory the host may hold in all, after its reserve, with overcommit. */
export function hostMemoryLimitMiB(host: Pick<HostLoad, 'memoryMiB' | 'memoryOvercommit'>): number {
  return Math.max(0, Math.floor((host.memoryMiB - hostReserveMiB(host)) * host.memoryOvercommit));
}

/** Memory a new VM may still take on the host. */
export function hostFreeMiB(host: HostLoad): number {
  return Math.max(0, hostMemoryLimitMiB(host) - host.usedMiB);
}

export function hostVcpuLimit(host: Pick<HostLoad, 'vcpus' | 'cpuOvercommit'>): number {
  return Math.floor(host.vcpus * host.cpuOvercommit);
}

export function hostFreeVcpus(host: HostLoad): number {
  return Math.max(0, hostVcpuLimit(host) - host.usedVcpus);
}

/** Why the host cannot take the need, or null when it can; `rank` orders refusals (higher: closer to fitting). */
function shortfall(host: HostLoad, need: PlacementNeed): { code: PlacementRefusalCode; why: string; rank: number } | null {
  if (host.state !== 'up') return { code: 'PLACEMENT_NO_HOST_UP', why: `${host.name} is ${host.state}`, rank: 0 };
  if (host.agentUnlinked) return { code: 'PLACEMENT_NO_HOST_UP', why: `${host.name}'s agent is not connected (start \`ardesia agent\` there)`, rank: 0 };
  if (host.agentNotReady) return { code: 'PLACEMENT_NO_HOST_UP', why: `${host.name}'s agent is linked but not ready yet (joining the home leases' lockspace after a restart; it takes VMs once its heartbeats begin)`, rank: 0 };
  const missing = (need.requireLabels ?? []).filter((l) => !host.labels.includes(l));
  if (missing.length) return { code: 'PLACEMENT_NO_LABELED_HOST', why: `${host.name} lacks label ${missing.join(', ')}`, rank: 1 };
  if (need.sharedStorage !== undefined && host.storage === 'local') {
    return { code: 'PLACEMENT_NO_SHARED_STORAGE', why: `${host.name} does not mount the shared data folder (agent --storage local), which ${need.sharedStorage} needs`, rank: 1 };
  }
  const avoided = (need.avoidLabels ?? []).filter((l) => host.labels.includes(l));
  if (avoided.length) return { code: 'PLACEMENT_NO_LABELED_HOST', why: `${host.name} has label ${avoided.join(', ')}, which the pool avoids`, rank: 1 };
  if (hostFreeMiB(host) < need.memoryMiB) {
    return { code: 'PLACEMENT_NO_CAPACITY', why: `${host.name} has ${hostFreeMiB(host)} MiB of memory free of ${hostMemoryLimitMiB(host)} (${need.memoryMiB} needed)`, rank: 2 };
  }
  if (hostFreeVcpus(host) < need.vcpus) {
    return { code: 'PLACEMENT_NO_VCPUS', why: `${host.name} has ${hostFreeVcpus(host)} vCPUs free of ${hostVcpuLimit(host)} (${need.vcpus} needed)`, rank: 2 };
  }
  return null;
}

const REFUSAL_ADVICE: Record<PlacementRefusalCode, string> = {
  PLACEMENT_NO_HOST_UP: 'end a drain (`ardesia host undrain NAME`) or bring a host up',
  PLACEMENT_NO_LABELED_HOST: "label a host as the pool asks, or change the pool's host labels",
  PLACEMENT_NO_CAPACITY: "stop desktops or VMs, add a host, raise the memory overcommit (serve --memory-overcommit) or lower the pool's memory",
  PLACEMENT_NO_SHARED_STORAGE: 'run it on a host that mounts the shared data folder (an agent without --storage local)',
  PLACEMENT_NO_VCPUS: "stop desktops or VMs, add a host, raise the vCPU overcommit (serve --cpu-overcommit) or lower the pool's vCPUs",
};

/** Why the host's QEMU cannot load the template a clone restores from, or null when it can (or its QEMU is not known:
 *  the agent's own check at launch then decides). */
export function templateUnfitOn(host: Pick<HostLoad, 'name' | 'qemu'>, need: Pick<PlacementNeed, 'restoreFrom'>): string | null {
  const from = need.restoreFrom;
  if (!from || !host.qemu) return null;
  const differs = qemuDifferences(host.qemu, { version: from.qemuVersion, accel: from.accel }, from.vmAccel ?? 'auto', "the template's");
  return differs.length === 0 ? null : `host ${host.name} runs ${differs.join(' and ')}`;
}

/** The QEMU a saved state was made under, and the accelerator its VM asks for. */
export interface SavedStateQemu {
  qemuVersion: string;
  accel: 'kvm' | 'tcg';
  vmAccel: 'auto' | 'kvm' | 'tcg';
}

/** Why the host's QEMU cannot load a VM's saved state (made under `saved`), or null when it can (or its QEMU is not
 *  known: the agent's own check at launch then decides). */
export function stateUnfitOn(host: Pick<HostLoad, 'name' | 'qemu'>, saved: SavedStateQemu): string | null {
  if (!host.qemu) return null;
  const differs = qemuDifferences(host.qemu, { version: saved.qemuVersion, accel: saved.accel }, saved.vmAccel, "the state's");
  return differs.length === 0 ? null : `host ${host.name} runs ${differs.join(' and ')}`;
}

/** A VM whose state is saved on host `here` (the controller's): resumed there when it can take it (nothing to copy), else
 *  on another host whose QEMU can load the state (it is copied there); refused with why for each host otherwise. */
export function placeStateSavedOn(here: string, hosts: readonly HostLoad[], need: PlacementNeed, saved: SavedStateQemu): { kind: 'host'; host: string } | { kind: 'refuse'; message: string } {
  const onHere = placeDesktop(hosts.filter((h) => h.name === here), need);
  if (onHere.kind === 'host') return onHere;
  const others = hosts.filter((h) => h.name !== here).map((h) => ({ host: h, unfit: stateUnfitOn(h, saved) }));
  const able = others.filter((o) => o.unfit === null).map((o) => o.host);
  const there = placeDesktop(able, need);
  if (there.kind === 'host') return there;
  const why = (host: HostLoad) => shortfall(host, need)?.why ?? `${host.name} cannot take it`;
  const whys = [...hosts.filter((h) => h.name === here).map(why), ...others.map((o) => (o.unfit === null ? why(o.host) : `${o.unfit}, so the state cannot load there`))];
  return { kind: 'refuse', message: whys.join('; ') };
}

/** Why restore templates, built on the controller's host, cannot load on another host for a pool that leaves the
 *  accelerator to the host: its QEMU build or accelerator differs from the controller's. null when both match or
 *  either is not known. */
export function qemuMismatchWithController(host: HostQemu | null, controller: HostQemu | null): string | null {
  if (!host || !controller || controller.version === null) return null;
  const differs = qemuDifferences(host, { version: controller.version, accel: controller.accel }, 'auto', "the controller's");
  return differs.length === 0 ? null : `runs ${differs.join(' and ')}: restore templates cannot load here, so restore pools' desktops boot afresh on this host`;
}

/** The differences, worded, between the QEMU a host runs and the one a saved state was (or is) made under. */
function qemuDifferences(host: HostQemu, saved: { version: string; accel: 'kvm' | 'tcg' }, vmAccel: 'auto' | 'kvm' | 'tcg', whose: string): string[] {
  const differs: string[] = [];
  if (host.version !== saved.version) differs.push(`QEMU ${host.version ?? 'of an unknown version'} (${whose}: ${saved.version})`);
  // A VM that asks for TCG runs under TCG on any host; otherwise under the host's own accelerator.
  const accel = vmAccel === 'tcg' ? 'tcg' : host.accel;
  if (accel !== saved.accel) differs.push(`${accel.toUpperCase()} (${whose}: ${saved.accel.toUpperCase()})`);
  return differs;
}

/** Sort key of a fitting host: the pool's desktops there, whether a clone restores there, memory share after placing,
 *  vCPU share after placing, name. */
function loadAfter(host: HostLoad, need: PlacementNeed): [number, number, number, number] {
  const spread = need.pool === undefined ? 0 : (host.poolDesktops[need.pool] ?? 0);
  const unfit = templateUnfitOn(host, need) === null ? 0 : 1;
  const mem = (host.usedMiB + need.memoryMiB) / Math.max(1, hostMemoryLimitMiB(host));
  const cpu = (host.usedVcpus + need.vcpus) / Math.max(1, hostVcpuLimit(host));
  return [spread, unfit, mem, cpu];
}

export function placeDesktop(hosts: readonly HostLoad[], need: PlacementNeed): Placement {
  let best: { host: HostLoad; key: [number, number, number, number] } | undefined;
  const refusals: Array<{ code: PlacementRefusalCode; why: string; rank: number }> = [];
  for (const host of hosts) {
    const short = shortfall(host, need);
    if (short) {
      refusals.push(short);
      continue;
    }
    const key = loadAfter(host, need);
    if (!best || compareKeys(key, host.name, best.key, best.host.name) < 0) best = { host, key };
  }
  if (best) return { kind: 'host', host: best.host.name };
  if (refusals.length === 0) return { kind: 'refuse', code: 'PLACEMENT_NO_HOST_UP', message: `no host is known to run ${what(need)}: ${REFUSAL_ADVICE.PLACEMENT_NO_HOST_UP}` };
  // The code of the hosts closest to fitting (a full host says more than a drained one); every host's reason, by name.
  const top = Math.max(...refusals.map((r) => r.rank));
  const code = refusals.filter((r) => r.rank === top).map((r) => r.code).sort()[0]!;
  const reasons = refusals.map((r) => r.why).sort();
  return { kind: 'refuse', code, message: `no host can run ${what(need)}: ${reasons.join('; ')} — ${REFUSAL_ADVICE[code]}` };
}

function what(need: PlacementNeed): string {
  return `${need.pool === undefined ? 'the VM' : `a desktop of pool ${need.pool}`} (${need.memoryMiB} MiB, ${need.vcpus} vCPU${need.vcpus === 1 ? '' : 's'})`;
}

function compareKeys(a: readonly number[], an: string, b: readonly number[], bn: string): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return an < bn ? -1 : an > bn ? 1 : 0;
}

/** Desktops of the need's size its pool can run at once: those it runs now, plus what still fits on each host it may use. */
export function desktopsThatFit(hosts: readonly HostLoad[], need: PlacementNeed): number {
  let total = 0;
  for (const host of hosts) {
    if (shortfall(host, { ...need, memoryMiB: 0, vcpus: 0 }) !== null) continue;
    const running = need.pool === undefined ? 0 : (host.poolDesktops[need.pool] ?? 0);
    total += running + Math.min(Math.floor(hostFreeMiB(host) / Math.max(1, need.memoryMiB)), Math.floor(hostFreeVcpus(host) / Math.max(1, need.vcpus)));
  }
  return total;
}
