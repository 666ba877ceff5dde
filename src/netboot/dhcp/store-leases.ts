// DHCP leases kept in the store so that a restarted server remembers who holds which address.
// The policy reads leases synchronously, so reads come from memory; every change is written
// through to SQLite in order (flush() waits for the writes, close paths call it).
import type { Store } from '../../store/db.js';
import { type Lease, type LeaseChange, type LeaseStore, MemoryLeaseStore } from './leases.js';

export type LeaseWriteErrorLog = (event: Record<string, unknown>) => void;

export class SqliteLeaseStore implements LeaseStore {
  private writes: Promise<void> = Promise.resolve();

  private constructor(
    private readonly store: Store,
    private readonly memory: MemoryLeaseStore,
    private readonly log: LeaseWriteErrorLog,
  ) {}

  /** Loads the persisted leases; leases expired for longer than `forgetAfterMs` are dropped. */
  static async open(store: Store, opts: { log?: LeaseWriteErrorLog; now?: number; forgetAfterMs?: number } = {}): Promise<SqliteLeaseStore> {
    const cutoff = (opts.now ?? Date.now()) - (opts.forgetAfterMs ?? 24 * 3600_000);
    await store.deleteFrom('dhcp_leases').where('expires_at_ms', '<', cutoff).execute();
    const rows = await store.selectFrom('dhcp_leases').selectAll().execute();
    const leases: Lease[] = rows.map((r) => ({
      mac: r.mac, ip: r.ip, expiresAtMs: r.expires_at_ms,
      ...(r.hostname ? { hostname: r.hostname } : {}),
      ...(r.declined ? { declined: true } : {}),
    }));
    return new SqliteLeaseStore(store, new MemoryLeaseStore(leases), opts.log ?? (() => {}));
  }

  byMac(mac: string): Lease | undefined { return this.memory.byMac(mac); }
  byIp(ip: string): Lease | undefined { return this.memory.byIp(ip); }
  list(): Lease[] { return this.memory.list(); }
  offerTo(mac: string, nowMs: number) { return this.memory.offerTo(mac, nowMs); }
  knows(mac: string): boolean { return this.memory.knows(mac); }

  apply(change: LeaseChange): void {
    this.memory.apply(change);
    if (change.kind === 'offer') return; // offers live seconds: memory only
    this.writes = this.writes.then(() => this.persist(change)).catch((err: Error) => {
      this.log({ event: 'dhcp-lease-write-error', change, error: err.message });
    });
  }

  /** Resolves once every change applied so far is in the store. */
  flush(): Promise<void> {
    return this.writes;
  }

  private async persist(change: LeaseChange): Promise<void> {
    await this.store.transaction().execute(async (tx) => {
      if (change.kind === 'release') {
        await tx.updateTable('dhcp_leases').set({ expires_at_ms: 0 }).where('ip', '=', change.ip).where('mac', '=', change.mac).execute();
        return;
      }
      if (change.kind === 'offer') return;
      const lease: Lease = change.kind === 'bind' ? change.lease : { mac: '', ip: change.ip, expiresAtMs: change.untilMs, declined: true };
      await tx.deleteFrom('dhcp_leases').where('ip', '=', lease.ip).execute();
      if (lease.mac) await tx.deleteFrom('dhcp_leases').where('mac', '=', lease.mac).execute();
      await tx.insertInto('dhcp_leases').values({
        ip: lease.ip, mac: lease.mac, expires_at_ms: lease.expiresAtMs, hostname: lease.hostname ?? null, declined: lease.declined ? 1 : 0,
      }).execute();
    });
  }
}
