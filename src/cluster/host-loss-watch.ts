// After each heartbeat of the controller, the plain VMs of hosts judged down are dealt with (host-loss.ts decides):
// restarted on another host through the VM manager's own start (placement, the agent link or a local launch), or
// recorded stopped as lost with the reason `vm status` shows. A pool desktop's VM there is recorded lost too, and its
// pool told (onDesktopLost): the session ends, the user is re-served elsewhere. All are audited.
import type { Logger } from 'pino';
import { auditAppend } from '../audit/log.js';
import type { Store } from '../store/db.js';
import type { VmMoveIntent } from '../contract/agent.js';
import { type VmRecord, vmGet, vmListMoving, vmListOnHosts, vmNextGeneration, vmSetDesired, vmSetObserved } from '../store/vms.js';
import { type HostLossAction, hostLossActions, lostReason } from './host-loss.js';
import type { HostService } from './hosts.js';

/** The audit's principal for what the controller does by itself after a host loss. */
import type { StartCaller } from '../contract/vm.js';

const ACTOR = 'host-loss';

/** The VM manager's start: placement picks an up host (never the down one) and starts it there; a VM owner's start again
 *  under that owner's rules (`caller`). */
export interface VmStarter {
  start(name: string, adHoc?: undefined, template?: undefined, caller?: StartCaller): Promise<unknown>;
}

export class HostLossWatch {
  private busy = false;

  constructor(
    private readonly db: Store,
    private readonly hosts: HostService,
    private readonly vms: VmStarter,
    private readonly log: Logger,
    /** A pool desktop's VM was on a down host (the pool's lifecycle takes it from there). */
    private readonly onDesktopLost: (desktop: string, reason: string) => Promise<void> = async () => undefined,
    /** A live migration a controller stopped in, whose destination is down now (vm-migrations.ts destinationDown). */
    private readonly onMoveCut: (rec: VmRecord & { host: string; moving: VmMoveIntent }, why: string) => Promise<unknown> = async () => undefined,
  ) {}

  /** From now on, a pass after each heartbeat of the controller. */
  attach(): void {
    this.hosts.on('heartbeat', () => void this.pass().catch((err) => this.log.warn({ err }, 'dealing with the VMs of down hosts failed; tried again at the next heartbeat')));
  }

  /** One pass; a pass still running makes this one a no-op (the next heartbeat looks again). */
  async pass(): Promise<HostLossAction[]> {
    if (this.busy) return [];
    this.busy = true;
    try {
      const down = await this.hosts.downHosts();
      if (down.size === 0) return [];
      await this.movesCut(down);
      // Only the down hosts' VMs, and of them only those not yet dealt with (desired running, or a stop not confirmed):
      // a host that stays down costs each heartbeat one query, not a read of every VM and desktop.
      const records = (await vmListOnHosts(this.db, [...down.keys()])).filter((r) => r.desired === 'running' || r.observed !== null);
      if (records.length === 0) return [];
      const names = records.map((r) => r.name);
      const [notPlain, poolDesktops] = await Promise.all([this.desktopVmNames(names), this.poolDesktops(names)]);
      const plain = records.filter((r) => !notPlain.has(r.name));
      const actions = hostLossActions(plain.map((r) => ({ name: r.name, host: r.host, desired: r.desired, restartOnHostLoss: r.spec.restartOnHostLoss === true })), down);
      for (const a of actions) await this.carryOut(a);
      // The pools re-serve their desktops' users themselves: for the VM manager they are lost, never restarted here.
      // A desktop whose stop its host never confirmed (a reset cut short by the loss) is as lost as a running one.
      const stopUnconfirmed = (r: (typeof records)[number]) => r.observed !== null && r.observed.state !== 'stopped';
      const desktops = hostLossActions(records.filter((r) => poolDesktops.has(r.name)).map((r) => ({ name: r.name, host: r.host, desired: stopUnconfirmed(r) ? 'running' : r.desired, restartOnHostLoss: false })), down);
      for (const a of desktops) await this.desktopLost(a, poolDesktops.get(a.name) ?? null);
      return [...actions, ...desktops];
    } finally {
      this.busy = false;
    }
  }

  /** Moves recorded under way into a down host are settled before its VMs are dealt with: a VM whose state may have
   *  run there is recorded there, and so dealt with below. One whose source is down too is lost at its source. */
  private async movesCut(down: ReadonlyMap<string, string>): Promise<void> {
    for (const rec of await vmListMoving(this.db)) {
      const why = down.get(rec.moving!.to);
      if (why === undefined || rec.host === null) continue;
      if (down.has(rec.host)) {
        await vmSetDesired(this.db, rec.name, { moving: null });
        continue;
      }
      await this.onMoveCut({ ...rec, host: rec.host, moving: rec.moving! }, why).catch((err: Error) =>
        this.log.warn({ vm: rec.name, from: rec.host, to: rec.moving!.to, err: err.message }, `vm ${rec.name}: settling its move into host ${rec.moving!.to}, which is down, failed (tried again at the next heartbeat): ${err.message}`));
    }
  }

  private async carryOut(a: HostLossAction): Promise<void> {
    // Its dead host's last report is no longer true: it runs nowhere now.
    await vmSetObserved(this.db, a.name, null);
    if (a.kind === 'lost') return this.recordLost(a);
    try {
      const confinedBy = (await vmGet(this.db, a.name))?.confinedBy ?? null;
      await this.vms.start(a.name, undefined, undefined, confinedBy === null ? undefined : { name: confinedBy, admin: false });
    } catch (err) {
      return this.recordLost(a, (err as Error).message);
    }
    const to = (await vmGet(this.db, a.name))?.host ?? null;
    await vmSetDesired(this.db, a.name, { hostLoss: `restarted on host ${to} at ${new Date().toISOString()}: ${a.reason}` });
    await auditAppend(this.db, ACTOR, 'vm.restart-on-host-loss', a.name, { from: a.from, to, reason: a.reason });
    this.log.warn({ vm: a.name, from: a.from, to, reason: a.reason }, `vm ${a.name} restarted on host ${to} after ${a.reason}`);
  }

  private async recordLost(a: HostLossAction, restartFailure?: string): Promise<void> {
    const reason = lostReason(a, restartFailure);
    // A new generation: should its host come back with it still running, its agent stops it (rejoin empty).
    const generation = vmNextGeneration((await vmGet(this.db, a.name))?.generation ?? 0);
    await vmSetDesired(this.db, a.name, { desired: 'stopped', lastStopReason: reason, startedAt: null, generation });
    await auditAppend(this.db, ACTOR, 'vm.lost', a.name, { host: a.from, reason });
    this.log.warn({ vm: a.name, host: a.from }, `vm ${a.name} ${reason}`);
  }

  private async desktopLost(a: HostLossAction, user: string | null): Promise<void> {
    await vmSetObserved(this.db, a.name, null);
    const generation = vmNextGeneration((await vmGet(this.db, a.name))?.generation ?? 0);
    const reason = `lost: ${a.reason}`;
    await vmSetDesired(this.db, a.name, { desired: 'stopped', lastStopReason: reason, startedAt: null, generation });
    await auditAppend(this.db, ACTOR, 'desktop.lost', a.name, { host: a.from, user, reason: a.reason });
    this.log.warn({ desktop: a.name, host: a.from, user }, `desktop ${a.name} ${reason}${user ? `: the session of ${user} ended; they are served a new desktop` : ''}`);
    await this.onDesktopLost(a.name, reason);
  }

  /** Which of these VMs are pool desktops, with their users (null for a spare). */
  private async poolDesktops(names: readonly string[]): Promise<Map<string, string | null>> {
    const rows = await this.db.selectFrom('pool_desktops').select(['name', 'user']).where('name', 'in', names).execute();
    return new Map(rows.map((r) => [r.name, r.user]));
  }

  /** Which of these VMs are desktops', pool desktops' or image maintenance sessions'. */
  private async desktopVmNames(names: readonly string[]): Promise<Set<string>> {
    const [desktops, poolDesktops, maintenance] = await Promise.all([
      this.db.selectFrom('desktops').select('vm_name').where('vm_name', 'in', names).execute(),
      this.db.selectFrom('pool_desktops').select('name').where('name', 'in', names).execute(),
      this.db.selectFrom('maintenance_sessions').select('vm_name').where('vm_name', 'in', names).execute(),
    ]);
    return new Set([...desktops.map((d) => d.vm_name), ...poolDesktops.map((d) => d.name), ...maintenance.map((m) => m.vm_name)].filter((n): n is string => n !== null));
  }
}
