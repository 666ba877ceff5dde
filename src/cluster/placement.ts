// Where a new desktop VM runs, pure: only hosts that are up, only where its memory fits beside a reserve kept for
// the host itself, the least loaded first; ties broken by name so the same inputs always give the same host.

export type HostState = 'up' | 'draining' | 'down';

export interface HostLoad {
  name: string;
  state: HostState;
  cpus: number;
  memoryMiB: number;
  /** Memory already promised to the VMs on the host. */
  usedMiB: number;
  runningVms: number;
}

export interface PlacementNeed {
  memoryMiB: number;
}

/** Kept free for the host's own OS, QEMU overhead and page cache: the larger of a floor and a share. */
export const HOST_RESERVE_MIN_MIB = 512;
export const HOST_RESERVE_FRACTION = 0.1;

export type Placement =
  | { kind: 'host'; host: HostLoad }
  | { kind: 'refuse'; code: 'PLACEMENT_NO_HOST_UP' | 'PLACEMENT_NO_CAPACITY'; message: string };

export function hostReserveMiB(host: Pick<HostLoad, 'memoryMiB'>): number {
  return Math.max(HOST_RESERVE_MIN_MIB, Math.ceil(host.memoryMiB * HOST_RESERVE_FRACTION));
}

/** Memory a new VM may still take on the host. */
export function hostFreeMiB(host: HostLoad): number {
  return Math.max(0, host.memoryMiB - hostReserveMiB(host) - host.usedMiB);
}

/** Memory share after placing the VM, then VMs per CPU, then name. */
function loadAfter(host: HostLoad, need: PlacementNeed): [number, number] {
  const usable = host.memoryMiB - hostReserveMiB(host);
  return [(host.usedMiB + need.memoryMiB) / usable, (host.runningVms + 1) / Math.max(1, host.cpus)];
}

export function placeDesktop(hosts: readonly HostLoad[], need: PlacementNeed): Placement {
  const up = hosts.filter((h) => h.state === 'up');
  if (up.length === 0) {
    const states = hosts.length ? hosts.map((h) => `${h.name} ${h.state}`).join(', ') : 'no host is known';
    return { kind: 'refuse', code: 'PLACEMENT_NO_HOST_UP', message: `no host is up to run a desktop (${states}): start an agent or end a drain` };
  }
  const fitting = up.filter((h) => hostFreeMiB(h) >= need.memoryMiB);
  if (fitting.length === 0) {
    const roomiest = [...up].sort((a, b) => hostFreeMiB(b) - hostFreeMiB(a) || (a.name < b.name ? -1 : 1))[0]!;
    return {
      kind: 'refuse',
      code: 'PLACEMENT_NO_CAPACITY',
      message: `no host has ${need.memoryMiB} MiB free for a desktop (most is ${hostFreeMiB(roomiest)} MiB on ${roomiest.name}): add a host, stop desktops or lower the pool's memory`,
    };
  }
  const ranked = fitting
    .map((host) => ({ host, load: loadAfter(host, need) }))
    .sort((a, b) => a.load[0] - b.load[0] || a.load[1] - b.load[1] || (a.host.name < b.host.name ? -1 : a.host.name > b.host.name ? 1 : 0));
  return { kind: 'host', host: ranked[0]!.host };
}
