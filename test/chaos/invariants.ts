// What must hold after every restart of a killed daemon, as a pure function of one snapshot of the store, the
// data folder and the host's QEMU processes (gathered by snapshot.ts). Each violation names what it found.
import type { DesktopState } from '../../src/contract/pools.js';
import { maintenanceImageOf } from '../../src/images/leftovers.js';

export interface ChaosSnapshot {
  /** Rows of the vms table (every defined VM, pool desktops' VMs included) and where each definition came from. */
  vms: Array<{ name: string; desired: string; source: string }>;
  poolDesktops: Array<{ name: string; pool: string; state: DesktopState; user: string | null }>;
  pools: Array<{ name: string; maxDesktops: number; persistent: boolean }>;
  /** Standalone desktops (desktops table) and the VM each runs as. */
  desktops: Array<{ name: string; vm: string }>;
  homes: Array<{ user: string; leasedTo: string | null }>;
  maintenance: Array<{ image: string; overlay: string; vm: string }>;
  /** Folder names under DATA_DIR/desktops (one per clone). */
  cloneDirs: string[];
  /** Absolute paths of the files under DATA_DIR/maintenance. */
  maintenanceFiles: string[];
  /** Recorded image versions, and the version files under DATA_DIR/images (IMAGE/N.qcow2). */
  imageVersions: Array<{ image: string; version: number }>;
  versionFiles: Array<{ image: string; version: number }>;
  /** Live QEMU processes of this data folder: the VM name from `-name guest=`, the users whose home file is open. */
  qemus: Array<{ pid: number; vm: string; homes: string[] }>;
}

export interface Violation {
  invariant: 'orphan-qemu' | 'duplicate-qemu' | 'home-twice' | 'home-lease' | 'leaked-clone' | 'lost-desktop' | 'leaked-overlay' | 'leaked-maintenance-vm' | 'unrecorded-version' | 'store-vs-process' | 'duplicate-session' | 'pool-size';
  detail: string;
}

/** States in which a pool desktop's QEMU must be running, and those in which none may run, once the daemon settled. */
const MUST_RUN: ReadonlySet<DesktopState> = new Set(['ready', 'assigned', 'in-use', 'disconnected']);
const MUST_NOT_RUN: ReadonlySet<DesktopState> = new Set(['stopped', 'failed']);
/** States the planner passes through; the battery waits for none of these before it checks. */
export const TRANSIENT_STATES: ReadonlySet<DesktopState> = new Set(['provisioning', 'booting', 'assigned', 'logging-off', 'resetting', 'retiring']);

export function findViolations(s: ChaosSnapshot): Violation[] {
  const out: Violation[] = [];
  const add = (invariant: Violation['invariant'], detail: string) => out.push({ invariant, detail });
  const defined = new Set([...s.vms.map((v) => v.name), ...s.desktops.map((d) => d.vm), ...s.maintenance.map((m) => m.vm)]);
  const poolDesktopNames = new Set(s.poolDesktops.map((d) => d.name));
  const desktopNames = new Set([...poolDesktopNames, ...s.desktops.map((d) => d.name)]);

  const qemusByVm = new Map<string, number[]>();
  for (const q of s.qemus) {
    if (!defined.has(q.vm) && !poolDesktopNames.has(q.vm)) add('orphan-qemu', `QEMU pid ${q.pid} runs VM ${q.vm}, which the store does not know`);
    qemusByVm.set(q.vm, [...(qemusByVm.get(q.vm) ?? []), q.pid]);
  }
  for (const [vm, pids] of qemusByVm) if (pids.length > 1) add('duplicate-qemu', `VM ${vm} runs twice: pids ${pids.join(', ')}`);

  const holders = new Map<string, string[]>();
  for (const q of s.qemus) for (const user of q.homes) holders.set(user, [...(holders.get(user) ?? []), q.vm]);
  for (const [user, vms] of holders) {
    if (vms.length > 1) add('home-twice', `home of ${user} is open in ${vms.join(' and ')}`);
    const lease = s.homes.find((h) => h.user === user)?.leasedTo ?? null;
    for (const vm of vms) if (lease !== vm) add('home-lease', `home of ${user} is open in ${vm} but leased to ${lease ?? 'nobody'}`);
  }
  for (const h of s.homes) {
    if (h.leasedTo !== null && !desktopNames.has(h.leasedTo)) add('home-lease', `home of ${h.user} is leased to ${h.leasedTo}, which is no desktop`);
  }

  for (const dir of s.cloneDirs) if (!desktopNames.has(dir)) add('leaked-clone', `desktops/${dir} belongs to no desktop`);
  const clones = new Set(s.cloneDirs);
  for (const d of s.poolDesktops) {
    if (d.state !== 'provisioning' && d.state !== 'retiring' && !clones.has(d.name)) add('lost-desktop', `${d.name} (${d.state}) has no system disk`);
    const running = qemusByVm.has(d.name);
    if (MUST_RUN.has(d.state) && !running) add('store-vs-process', `${d.name} is ${d.state} but no QEMU runs it`);
    if (MUST_NOT_RUN.has(d.state) && running) add('store-vs-process', `${d.name} is ${d.state} but QEMU pid ${qemusByVm.get(d.name)!.join(', ')} runs it`);
  }

  const overlays = new Set(s.maintenance.map((m) => m.overlay));
  for (const f of s.maintenanceFiles) if (!overlays.has(f)) add('leaked-overlay', `${f} belongs to no maintenance session`);
  const inMaintenance = new Set(s.maintenance.map((m) => m.image));
  for (const vm of s.vms) {
    const image = maintenanceImageOf(vm);
    if (image !== undefined && !inMaintenance.has(image)) add('leaked-maintenance-vm', `${vm.name} is defined with no maintenance session of image ${image}`);
  }
  const recorded = new Set(s.imageVersions.map((v) => `${v.image}/${v.version}`));
  for (const f of s.versionFiles) if (!recorded.has(`${f.image}/${f.version}`)) add('unrecorded-version', `images/${f.image}/${f.version}.qcow2 is no recorded version`);

  for (const pool of s.pools) {
    const mine = s.poolDesktops.filter((d) => d.pool === pool.name);
    if (mine.length > pool.maxDesktops) add('pool-size', `pool ${pool.name} has ${mine.length} desktops, at most ${pool.maxDesktops} allowed`);
    if (pool.persistent) continue; // a persistent desktop keeps its owner beside a session elsewhere
    const sessions = new Map<string, string[]>();
    for (const d of mine) if (d.user && d.state !== 'stopped') sessions.set(d.user, [...(sessions.get(d.user) ?? []), d.name]);
    for (const [user, ds] of sessions) if (ds.length > 1) add('duplicate-session', `${user} has ${ds.length} desktops in pool ${pool.name}: ${ds.join(', ')}`);
  }
  return out;
}
