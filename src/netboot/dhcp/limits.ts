// Rate limits in front of the DHCP policy, pure (the clock is passed in): per MAC, so one PC cannot
// take the server's time; overall for MACs with no record here, so a flood of made-up MACs cannot
// either; and a budget of first leases, so such a flood binds addresses only slowly (the pool's
// reserve, in policy.ts, keeps the last addresses for known clients whatever the rate).
import { KeyedTokenBuckets, type BucketRule } from '../../lib/token-bucket.js';

/** A PXE ROM, iPXE and the booted OS each DISCOVER and REQUEST a few times: 20 at once, then 1 a second. */
export const DHCP_PER_MAC: BucketRule = { burst: 20, refillMs: 1_000 };
/** Packets from MACs with no record here: 400 at once, then 200 a second. */
export const DHCP_UNKNOWN_OVERALL: BucketRule = { burst: 400, refillMs: 5 };
/** First leases of new MACs: 64 at once (a room of new PCs), then 2 a second. */
export const DHCP_NEW_CLIENTS: BucketRule = { burst: 64, refillMs: 500 };

export type DhcpAdmission = 'ok' | 'mac-limited' | 'overall-limited';

export class DhcpGuard {
  private readonly perMac = new KeyedTokenBuckets(DHCP_PER_MAC);
  private readonly unknownOverall = new KeyedTokenBuckets(DHCP_UNKNOWN_OVERALL, 1);
  private readonly newClients = new KeyedTokenBuckets(DHCP_NEW_CLIENTS, 1);

  /** Whether to look at a packet from `mac` at all; `known`: the MAC has a lease record or a reservation. */
  admit(mac: string, known: boolean, nowMs: number): DhcpAdmission {
    if (this.perMac.available(mac, nowMs) < 1) return 'mac-limited';
    if (!known && !this.unknownOverall.take('all', nowMs)) return 'overall-limited';
    this.perMac.take(mac, nowMs);
    return 'ok';
  }

  /** Takes one first lease from the budget; false when it is spent (the REQUEST goes unanswered, the client retries). */
  takeNewClient(nowMs: number): boolean {
    return this.newClients.take('all', nowMs);
  }
}
