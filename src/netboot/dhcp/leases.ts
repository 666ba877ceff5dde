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

export interface LeaseView {
  byMac(mac: string): Lease | undefined;
  byIp(ip: string): Lease | undefined;
}

export type LeaseChange =
  | { kind: 'bind'; lease: Lease }
  | { kind: 'release'; mac: string; ip: string }
  | { kind: 'decline'; ip: string; untilMs: number };

export interface LeaseStore extends LeaseView {
  apply(change: LeaseChange): void;
  list(): Lease[];
}

export class MemoryLeaseStore implements LeaseStore {
  private readonly macs = new Map<string, Lease>();
  private readonly ips = new Map<string, Lease>();

  constructor(initial: Lease[] = []) {
    for (const lease of initial) this.put(lease);
  }

  byMac(mac: string): Lease | undefined { return this.macs.get(mac); }
  byIp(ip: string): Lease | undefined { return this.ips.get(ip); }
  list(): Lease[] { return [...this.ips.values()]; }

  apply(change: LeaseChange): void {
    if (change.kind === 'bind') this.put(change.lease);
    else if (change.kind === 'release') {
      if (this.macs.get(change.mac)?.ip === change.ip) this.drop(change.ip);
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
    if (old.mac && this.macs.get(old.mac) === old) this.macs.delete(old.mac);
  }
}
