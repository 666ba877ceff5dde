// The spare planner's actions under placement, pure: free warm spares on a host that takes no new desktops (draining,
// maintenance, down) are stopped at once (with several hosts they boot again elsewhere), and boots are dropped while
// the pool cannot place a desktop anywhere (the pool then says why).
import { isWarm } from '../contract/desktop-states.js';
import type { DesktopView } from '../contract/pools.js';
import type { SpareAction } from './spares-plan.js';

export function placeSpareActions(actions: readonly SpareAction[], desktops: readonly DesktopView[], hostsNotUp: ReadonlySet<string>, canPlace: boolean): SpareAction[] {
  const evicted = new Set(desktops.filter((d) => d.user === null && isWarm(d.state) && d.host !== null && hostsNotUp.has(d.host)).map((d) => d.name));
  const out: SpareAction[] = [];
  for (const action of actions) {
    if (action.kind === 'boot' && !canPlace) continue;
    // A retire ends the spare anyway; any other action on an evicted spare gives way to its stop.
    if (action.kind !== 'create' && evicted.has(action.desktop) && action.kind !== 'retire') continue;
    out.push(action);
  }
  const retiring = new Set(out.filter((a) => a.kind === 'retire').map((a) => (a as { desktop: string }).desktop));
  for (const name of [...evicted].sort()) if (!retiring.has(name)) out.push({ kind: 'stop', desktop: name });
  return out;
}

/** Whether the actions would start a desktop VM (and so need a host). */
export const needsPlacement = (actions: readonly SpareAction[]): boolean => actions.some((a) => a.kind === 'boot');
