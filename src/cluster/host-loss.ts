// What becomes of the plain VMs of a host judged `down` (pure): one with `restart-on-host-loss` is started on another
// host (placement picks it; the down host is not up, so never that one); any other is recorded stopped as lost, and
// waits for the administrator. Only `down` counts: a `suspect` host may still run its VMs and write their disks.

/** A plain VM as the controller records it (desktops' VMs are the pools' to re-serve). */
export interface VmOnLostHost {
  name: string;
  host: string | null;
  desired: 'running' | 'stopped';
  restartOnHostLoss: boolean;
}

export type HostLossAction =
  | { kind: 'restart'; name: string; from: string; reason: string }
  | { kind: 'lost'; name: string; from: string; reason: string };

/**
 * `down` maps each down host to why it is down (host-liveness.ts). Level-triggered: a VM restarted elsewhere is no
 * longer on a down host, and a lost one is no longer desired running, so the next pass does nothing for either.
 */
export function hostLossActions(vms: readonly VmOnLostHost[], down: ReadonlyMap<string, string>): HostLossAction[] {
  const actions: HostLossAction[] = [];
  for (const vm of vms) {
    if (vm.desired !== 'running' || vm.host === null) continue;
    const why = down.get(vm.host);
    if (why === undefined) continue;
    const reason = `host ${vm.host} is down (${why})`;
    actions.push({ kind: vm.restartOnHostLoss ? 'restart' : 'lost', name: vm.name, from: vm.host, reason });
  }
  return actions;
}

/** The lastStopReason of a VM left stopped on a lost host: what happened and what the administrator can do. */
export function lostReason(action: HostLossAction, restartFailure?: string): string {
  if (restartFailure !== undefined) return `lost: ${action.reason}; restarting it on another host failed: ${restartFailure}`;
  return `lost: ${action.reason}; it is not restarted elsewhere by itself (vm.conf restart-on-host-loss yes): start it again with \`ardesia vm start ${action.name}\``;
}

/**
 * What a live migration comes to that a controller stopped in and whose destination is judged down before it reported
 * again. A source whose state never left runs the VM already. One whose state left (QEMU paused in `postmigrate`) may be
 * run on only if the destination cannot have resumed it: the destination takes every lease the VM holds before it
 * resumes, so a lease whose leader record still names the source proves it never did. Otherwise (the leases taken
 * there, none to tell by, or the source's QEMU gone) the disks may hold writes the source's older state does not know:
 * the VM is lost with the destination.
 */
export type CutMoveOutcome = 'runs-at-source' | 'resume-at-source' | 'lost-with-destination';

export function cutMoveOutcome(atSource: 'runs' | 'left' | 'gone', source: string, leasesLastTakenBy: ReadonlyArray<string | undefined>): CutMoveOutcome {
  if (atSource === 'runs') return 'runs-at-source';
  if (atSource === 'gone') return 'lost-with-destination';
  return leasesLastTakenBy.some((host) => host === source) ? 'resume-at-source' : 'lost-with-destination';
}
