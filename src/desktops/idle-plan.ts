// The idle policy, pure: which desktops get an idle-timeout now. In use with display clients but no input for
// idleDisconnectMinutes → the clients are disconnected; disconnected for idleLogoffMinutes → logged off.
import type { DesktopView, Pool } from '../contract/pools.js';

const MINUTE_MS = 60_000;

export interface ClientActivity {
  /** Display clients connected now. */
  count: number;
  /** Last input from any of them (ms since the epoch). */
  activityAt: number;
}

export type IdleReason = 'no-input' | 'disconnected-too-long';

export function idleTimeouts(
  pool: Pick<Pool, 'idleDisconnectMinutes' | 'idleLogoffMinutes'>,
  desktops: readonly DesktopView[],
  activityOf: (desktop: string) => ClientActivity | undefined,
  now: number,
): Array<{ desktop: string; reason: IdleReason }> {
  const out: Array<{ desktop: string; reason: IdleReason }> = [];
  for (const d of desktops) {
    if (d.state === 'disconnected' && pool.idleLogoffMinutes > 0 && now - Date.parse(d.since) >= pool.idleLogoffMinutes * MINUTE_MS) {
      out.push({ desktop: d.name, reason: 'disconnected-too-long' });
    }
    const activity = activityOf(d.name);
    if (d.state === 'in-use' && pool.idleDisconnectMinutes > 0 && activity && activity.count > 0 && now - activity.activityAt >= pool.idleDisconnectMinutes * MINUTE_MS) {
      out.push({ desktop: d.name, reason: 'no-input' });
    }
  }
  return out;
}
