// What an image operation cut short by a crash (kill -9, power loss) left behind with nothing in the store to own it
// (pure): an edit's or publish's overlay and maintenance VM, a version file written or being deleted (import, publish,
// gc) with no version row, an image folder being made or deleted (create, delete) with no image row. Each is in the way of a later one: a linked clone never overwrites an overlay, a publish
// never overwrites a version file (the next publish takes the number of a version gc removed), and the maintenance
// VM's name is taken while its definition stays.
import type { VmState } from '../contract/vm.js';

export const MAINTENANCE_VM_PREFIX = 'maint-';
export const maintenanceVmName = (image: string): string => `${MAINTENANCE_VM_PREFIX}${image}`;
/** The definition source of a maintenance VM: how a leftover is told from a VM someone named maint-… themselves. */
export const maintenanceVmSource = (image: string): string => `maintenance of image ${image}`;

/** The image a VM definition is the maintenance VM of, or undefined (another VM, whatever its name). */
export function maintenanceImageOf(vm: { name: string; source: string }): string | undefined {
  if (!vm.name.startsWith(MAINTENANCE_VM_PREFIX)) return undefined;
  const image = vm.name.slice(MAINTENANCE_VM_PREFIX.length);
  return vm.source === maintenanceVmSource(image) ? image : undefined;
}

export interface ImageLeftoverFacts {
  sessions: ReadonlyArray<{ image: string; overlay: string }>;
  /** Every defined VM whose definition source is a maintenance VM's. */
  vms: ReadonlyArray<{ name: string; source: string; state: VmState }>;
  /** Overlay files found under the data folder's maintenance/. */
  overlays: readonly string[];
  /** Version files (images/IMAGE/N.qcow2) on disk whose version is not recorded. */
  unrecordedVersionFiles: readonly string[];
  /** Image folders (images/IMAGE/) on disk with no image row: a create or a delete cut short. */
  unrecordedImageFolders: readonly string[];
}

export interface LeftoversPlan {
  undefine: string[];
  /** Files to remove: overlays no session names, and version files no version row names. */
  remove: string[];
  /** Folders to remove with what is in them: image folders no image row names. */
  removeFolders: string[];
  /** Left as they are, and why (logged for the administrator). */
  kept: Array<{ what: string; why: string }>;
}

export function imageLeftovers(facts: ImageLeftoverFacts): LeftoversPlan {
  const plan: LeftoversPlan = { undefine: [], remove: [], removeFolders: [], kept: [] };
  const withSession = new Set(facts.sessions.map((s) => s.image));
  for (const vm of facts.vms) {
    const image = maintenanceImageOf(vm);
    if (image === undefined || withSession.has(image)) continue;
    if (vm.state === 'stopped') plan.undefine.push(vm.name);
    else plan.kept.push({ what: `vm ${vm.name}`, why: `it is ${vm.state} with no maintenance session of image ${image}; stop it (ardesia vm stop -f ${vm.name}) and it is removed at the daemon's next start` });
  }
  const owned = new Set(facts.sessions.map((s) => s.overlay));
  plan.remove.push(...facts.overlays.filter((path) => !owned.has(path)));
  // Written (an import, a publish whose session stays open and publishes again) or being deleted (gc: the row first):
  // no operation runs at start to finish it, and the store is what says which versions exist.
  // A folder that goes takes its files with it.
  const folders = facts.unrecordedImageFolders.map((f) => f.replace(/\/+$/, ''));
  plan.remove.push(...facts.unrecordedVersionFiles.filter((f) => !folders.some((d) => f.startsWith(`${d}/`))));
  // Made before its row (a create: refused while the folder stays, as someone's files) or left after it (a delete: the
  // rows go first): the store says which images exist, and a create of that name is refused until the folder is gone.
  plan.removeFolders.push(...folders);
  return plan;
}
