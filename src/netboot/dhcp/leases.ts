// Lease state: the policy reads it through LeaseView; the server applies changes through
// LeaseStore. The in-memory store lives here; a store-backed (SQLite) one implements the same.

export interface Lease {
  mac: string;
  ip: string;
  expiresAtMs: number;
  hostname?: string;
  /** A client declined this address (in use by someone else): held back until expiresAtMs. */
  declined?: boolean;
}

/** An address offered to a client, remembered briefly (memory only): its REQUEST or DECLINE must name it. */
export interface Offer {
  mac: string;
  ip: string;
  untilMs: number;
}

export interface LeaseView {
  byMac(mac: string): Lease | undefined;
  byIp(ip: string): Lease | undefined;
  /** Whether `mac` holds or held a lease here (an expired lease given to another client still counts, while remembered). */
  knows(mac: string): boolean;
  /** The unexpired offer made to `mac`, if any. */
  offerTo(mac: string, nowMs: number): Offer | undefined;
  list(): Lease[];
}

export type LeaseChange =
  | { kind: 'bind'; lease: Lease }
  | { kind: 'release'; mac: string; ip: string }
  | { kind: 'decline'; ip: string; untilMs: number }
  | { kind: 'offer'; offer: Offer };

export interface LeaseStore extends LeaseView {
  apply(change: LeaseChange): void;
}

/** Offers remembered at most: a flood of made-up MACs forgets the oldest offers, never grows memory. */
export const MAX_OFFERS_REMEMBERED = 4096;

export class MemoryLeaseStore implements LeaseStore {
  private readonly macs = new Map<string, Lease>();
  private readonly ips = new Map<string, Lease>();
  private readonly offers = new Map<string, Offer>();
  /** MACs whose lease record was taken over by another client: still known (bounded, oldest forgotten first). */
  private readonly former = new Map<string, true>();

  constructor(initial: Lease[] = []) {
    for (const lease of initial) this.put(lease);
  }

  byMac(mac: string): Lease | undefined { return this.macs.get(mac); }
  byIp(ip: string): Lease | undefined { return this.ips.get(ip); }
  list(): Lease[] { return [...this.ips.values()]; }
  knows(mac: string): boolean { return this.macs.has(mac) || this.former.has(mac); }

  offerTo(mac: string, nowMs: number): Offer | undefined {
    const offer = this.offers.get(mac);
    return offer && offer.untilMs > nowMs ? offer : undefined;
  }

  apply(change: LeaseChange): void {
    if (change.kind === 'offer') {
      this.offers.delete(change.offer.mac); // re-insert: Map order = oldest offer first
      this.offers.set(change.offer.mac, change.offer);
      while (this.offers.size > MAX_OFFERS_REMEMBERED) this.offers.delete(this.offers.keys().next().value!);
      return;
    }
    if (change.kind !== 'decline') this.offers.delete(change.kind === 'bind' ? change.lease.mac : change.mac);
    if (change.kind === 'bind') this.put(change.lease);
    else if (change.kind === 'release') {
      // Kept as expired (RFC 2131 §4.3.4): the address is free, the client stays known (its address first, the pool's reserve).
      const held = this.macs.get(change.mac);
      if (held?.ip === change.ip) this.put({ ...held, expiresAtMs: 0 });
    } else this.put({ mac: '', ip: change.ip, expiresAtMs: change.untilMs, declined: true });
  }

  private put(lease: Lease): void {
    const previous = lease.mac ? this.macs.get(lease.mac) : undefined;
    if (previous && previous.ip !== lease.ip) this.drop(previous.ip);
    this.drop(lease.ip);
    this.ips.set(lease.ip, lease);
    if (lease.mac) this.macs.set(lease.mac, lease);
  }

  private drop(ip: string): void {
    const old = this.ips.get(ip);
    if (!old) return;
    this.ips.delete(ip);
    if (old.mac && this.macs.get(old.mac) === old) {
      this.macs.delete(old.mac);
      this.former.delete(old.mac);
      this.former.set(old.mac, true);
      while (this.former.size > MAX_OFFERS_REMEMBERED) this.former.delete(this.former.keys().next().value!);
    }
  }
}
