// What an edit, publish or discard cut short by a crash (kill -9, power loss) left behind with no maintenance session
// to own it (pure). Each is in the way of the next edit of that image: a linked clone never overwrites an overlay,
// a publish never overwrites a version file, and the maintenance VM's name is taken while its definition stays.
import type { VmState } from '../contract/vm.js';

export const maintenanceVmName = (image: string): string => `maint-${image}`;
/** The definition source of a maintenance VM: how a leftover is told from a VM someone named maint-… themselves. */
export const maintenanceVmSource = (image: string): string => `maintenance of image ${image}`;

export interface MaintenanceFacts {
  sessions: ReadonlyArray<{ image: string; overlay: string; targetVersion: number }>;
  /** Every defined VM whose definition source is a maintenance VM's. */
  vms: ReadonlyArray<{ name: string; source: string; state: VmState }>;
  /** Overlay files found under the data folder's maintenance/. */
  overlays: readonly string[];
  /** Each session's target version file, when it is on disk but no version of that number is recorded. */
  unrecordedTargets: ReadonlyArray<{ image: string; version: number; path: string }>;
}

export interface LeftoversPlan {
  undefine: string[];
  /** Files to remove: overlays no session names, and version files a publish wrote but did not record. */
  remove: string[];
  /** Left as they are, and why (logged for the administrator). */
  kept: Array<{ what: string; why: string }>;
}

export function maintenanceLeftovers(facts: MaintenanceFacts): LeftoversPlan {
  const plan: LeftoversPlan = { undefine: [], remove: [], kept: [] };
  const withSession = new Set(facts.sessions.map((s) => s.image));
  for (const vm of facts.vms) {
    const image = vm.name.startsWith('maint-') ? vm.name.slice('maint-'.length) : undefined;
    if (image === undefined || vm.source !== maintenanceVmSource(image) || withSession.has(image)) continue;
    if (vm.state === 'stopped') plan.undefine.push(vm.name);
    else plan.kept.push({ what: `vm ${vm.name}`, why: `it is ${vm.state} with no maintenance session of image ${image}; stop it (ardesia vm stop -f ${vm.name}) and it is removed at the daemon's next start` });
  }
  const owned = new Set(facts.sessions.map((s) => s.overlay));
  plan.remove.push(...facts.overlays.filter((path) => !owned.has(path)));
  // Written and frozen, then cut off before the version was recorded: the session is still open and publishes again.
  plan.remove.push(...facts.unrecordedTargets.filter((t) => facts.sessions.some((s) => s.image === t.image && s.targetVersion === t.version)).map((t) => t.path));
  return plan;
}
