// What a pool's view counts of its desktops (by state, by image version, those whose session ends on an older version),
// from its desktops' rows (one pool's view) or from grouped counts (the list of every pool, without every row).
import { isInSession } from '../contract/desktop-states.js';
import type { DesktopState, DesktopView } from '../contract/pools.js';
import { versionCounts } from './spares-plan.js';

export interface PoolTally {
  total: number;
  byState: Partial<Record<DesktopState, number>>;
  /** Desktops per image version, retiring ones left out (they are on their way out). */
  byVersion: Record<string, number>;
  /** Every desktop in a session (with their state and version: what a rollout at logoff looks at). */
  inSession: Array<Pick<DesktopView, 'name' | 'state' | 'imageVersion'>>;
}

/** How many desktops of a pool are in each state on each version (one row of a grouped count). */
export interface DesktopGroup {
  state: DesktopState;
  version: number;
  count: number;
}

export function tallyOfDesktops(desktops: readonly DesktopView[]): PoolTally {
  const byState: Partial<Record<DesktopState, number>> = {};
  for (const d of desktops) byState[d.state] = (byState[d.state] ?? 0) + 1;
  const byVersion = Object.fromEntries(versionCounts(desktops).map((c) => [String(c.version), c.count]));
  const inSession = desktops.filter((d) => isInSession(d.state)).map((d) => ({ name: d.name, state: d.state, imageVersion: d.imageVersion }));
  return { total: desktops.length, byState, byVersion, inSession };
}

/** The same tally from a pool's grouped counts and its desktops in session. */
export function tallyOfGroups(groups: readonly DesktopGroup[], inSession: PoolTally['inSession']): PoolTally {
  const byState: Partial<Record<DesktopState, number>> = {};
  const versions = new Map<number, number>();
  let total = 0;
  for (const g of groups) {
    total += g.count;
    byState[g.state] = (byState[g.state] ?? 0) + g.count;
    if (g.state !== 'retiring') versions.set(g.version, (versions.get(g.version) ?? 0) + g.count);
  }
  const byVersion = Object.fromEntries([...versions].sort(([a], [b]) => a - b).map(([v, n]) => [String(v), n]));
  return { total, byState, byVersion, inSession: inSession.filter((d) => isInSession(d.state)) };
}
