// Pure: what an agent does to bring its host to the controller's desired VMs. Level-triggered and idempotent: the same
// desired set, observation and applied generations always give the same actions, and once they are carried out, none.
import type { ImageFileCheck, LocalFiles, VmConfined, VmDesired, VmRestoreFrom } from '../../contract/agent.js';
import type { VmSpec } from '../../contract/vm.js';

/** One VM as the agent finds it on its host: defined in its own store, and whether a QEMU of it runs. */
export interface VmOnHost {
  name: string;
  running: boolean;
}

export type VmAction =
  /** Define (or redefine) it with the spec, then start its QEMU. */
  | { kind: 'start'; name: string; spec: VmSpec; generation: number; images?: ImageFileCheck[]; local?: LocalFiles; restoreFrom?: VmRestoreFrom; confined?: VmConfined }
  /** ACPI power button. */
  | { kind: 'stop'; name: string; generation: number }
  /** QEMU quit at once (a forced stop, or a VM the controller no longer wants here). */
  | { kind: 'kill'; name: string; generation: number | null }
  /** Forget its definition on this host (after its QEMU is gone). */
  | { kind: 'remove'; name: string }
  /** Already as desired (a running QEMU found again, a stopped VM left stopped): the generation is recorded as applied. */
  | { kind: 'adopt'; name: string; generation: number };

export interface VmPlanInput {
  /** The controller's desired VMs for this host (by name). */
  desired: ReadonlyMap<string, VmDesired>;
  /** Whether `desired` is a full set: only then is a VM missing from it absent (before the first full set, nothing is removed). */
  desiredComplete: boolean;
  onHost: readonly VmOnHost[];
  /** The last generation carried out per VM (0 or missing: none). */
  applied: ReadonlyMap<string, number>;
}

/** The actions of one pass, in the order to carry them out (kills and removals first: they free memory and disks). */
export function vmActions({ desired, desiredComplete, onHost, applied }: VmPlanInput): VmAction[] {
  const freeing: VmAction[] = [];
  const others: VmAction[] = [];
  const found = new Map(onHost.map((v) => [v.name, v]));
  for (const v of onHost) {
    const want = desired.get(v.name);
    if (want ? want.desired !== 'absent' : !desiredComplete) continue;
    if (v.running) freeing.push({ kind: 'kill', name: v.name, generation: want?.generation ?? null });
    freeing.push({ kind: 'remove', name: v.name });
  }
  for (const want of desired.values()) {
    if (want.desired === 'absent' || want.generation <= (applied.get(want.name) ?? 0)) continue;
    const running = found.get(want.name)?.running ?? false;
    const { name, generation } = want;
    if (want.desired === 'running') others.push(running ? { kind: 'adopt', name, generation } : { kind: 'start', name, spec: want.spec, generation, ...(want.images ? { images: want.images } : {}), ...(want.local ? { local: want.local } : {}), ...(want.restoreFrom ? { restoreFrom: want.restoreFrom } : {}), ...(want.confined ? { confined: want.confined } : {}) });
    else if (!running) others.push({ kind: 'adopt', name, generation });
    else others.push({ kind: want.force ? 'kill' : 'stop', name, generation });
  }
  return [...freeing, ...others];
}

/** What the agent holds besides the desired set while VMs move live (agent-vms.ts). */
export interface MovesHeld {
  /** Arriving by a migration under way (not desired here yet). */
  arriving: ReadonlySet<string>;
  /** Left by a migration, with the move's generation. */
  departed: ReadonlyMap<string, number>;
  /** Arrived by a migration, with the move's generation, not yet named by the controller at it. */
  arrivals: ReadonlyMap<string, number>;
}

/** A pass's input without what moves hold: a VM arriving; one that left and is still named below the move's generation
 *  (it waits paused until the controller records the move); an arrival the controller does not name (its record may
 *  still name the source: a controller that stopped before recording the move). A departed VM no longer named at all,
 *  or named at the move's generation, is the pass's like any other: quit. */
export function passScope(desired: ReadonlyMap<string, VmDesired>, onHost: readonly VmOnHost[], held: MovesHeld): { desired: Map<string, VmDesired>; onHost: VmOnHost[] } {
  const waitsPaused = (name: string) => desired.has(name) && (held.departed.get(name) ?? -1) > desired.get(name)!.generation;
  const unconfirmed = (name: string) => held.arrivals.has(name) && !desired.has(name);
  return {
    desired: new Map([...desired].filter(([name]) => !held.arriving.has(name) && !waitsPaused(name))),
    onHost: onHost.filter((v) => !held.arriving.has(v.name) && !waitsPaused(v.name) && !unconfirmed(v.name)),
  };
}

/** The arrivals the controller now names at their move's generation or later (the move recorded, or an absent order). */
export function arrivalsSettled(arrivals: ReadonlyMap<string, number>, desired: ReadonlyMap<string, VmDesired>): string[] {
  return [...arrivals].filter(([name, generation]) => (desired.get(name)?.generation ?? -1) >= generation).map(([name]) => name);
}

/** A full set replaces what the agent holds; a change replaces its VMs only. */
export function desiredMerge(held: ReadonlyMap<string, VmDesired>, incoming: readonly VmDesired[], full: boolean): Map<string, VmDesired> {
  const next = new Map(full ? [] : held);
  for (const d of incoming) {
    const before = held.get(d.name);
    // An older generation arriving late (a full set read just before a change that overtook it) never undoes a newer one.
    next.set(d.name, before && before.generation > d.generation ? before : d);
  }
  return next;
}

/** The spec QEMU runs with on an agent's host: its SPICE server on the host's loopback, on a port picked at start,
 *  whatever the controller's spec says (native clients reach it through the controller, which holds the certificate). */
export function specOnAgentHost(spec: VmSpec): VmSpec {
  if (!spec.display?.spice) return spec;
  return { ...spec, display: { ...spec.display, spice: { listen: '127.0.0.1' } } };
}

/** The restore template builds the desired VMs of this host start from (their ram.bin): their RAM stays held here. */
export function templatesWanted(desired: Iterable<VmDesired>): Set<string> {
  const files = new Set<string>();
  for (const d of desired) if (d.desired === 'running' && d.restoreFrom) files.add(d.restoreFrom.ramFile);
  return files;
}
