// When an agent cut off from every controller stops its host's VMs by itself (`ardesia agent --fence-after`), pure:
// as Proxmox's local resource manager does, so that the administrator may start them elsewhere once the time is over.
// Off unless given: a host only cut off from the management network keeps its VMs (and their storage leases).

export interface FenceClock {
  /** --fence-after in ms; undefined: never. */
  fenceAfterMs: number | undefined;
  /** Since when the agent has had no accepted link (its start, or its last link's end); null while linked. */
  lostSinceMs: number | null;
  /** Whether it already stopped its VMs since it lost the controller (once per loss). */
  fenced: boolean;
}

export function fenceDue(c: FenceClock, nowMs: number): boolean {
  return c.fenceAfterMs !== undefined && c.lostSinceMs !== null && !c.fenced && nowMs - c.lostSinceMs >= c.fenceAfterMs;
}

/** The stop reason the controller records when the agent reconnects. */
export function fenceReason(fenceAfterMs: number): string {
  return `stopped by its host's agent: no controller for ${Math.round(fenceAfterMs / 1000)} s (ardesia agent --fence-after)`;
}
