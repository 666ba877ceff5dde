// Live migration of a VM between agents' hosts (a drain moves plain VMs this way): the destination's agent starts the
// VM listening for its state, the source's agent migrates it; each dials a stream back to the controller, which splices
// the two. The VM keeps running throughout; only once the destination has it is the source's QEMU quit and the VM
// recorded there. Both agents refuse to run it twice: the destination holds it as arriving until the move is recorded,
// the source never starts it again below the move's generation. A controller that stops between the destination's
// resume and the record finds the move by the destination's report when it is back, and records it then.
import type { Logger } from 'pino';
import { createWebSocketStream, type WebSocket } from 'ws';
import { auditAppend } from '../audit/log.js';
import { ArdesiaError } from '../contract/errors.js';
import type { MigratingDisk, MigratingLease, VmMoveIntent, VmObserved } from '../contract/agent.js';
import type { VmMigrationView } from '../contract/hosts.js';
import { DESKTOP_LIVE_MOVE_STATES } from '../contract/pools.js';
import { type CutMoveOutcome, cutMoveOutcome } from './host-loss.js';
import type { LocalMigrationSide } from './migration-sides.js';
import type { PlacementNeed } from './placement.js';
import { PLAIN_VM_NEED } from './hosts.js';
import type { Store } from '../store/db.js';
import { type VmRecord, vmGet, vmNextGeneration, vmSetDesired } from '../store/vms.js';
import { failpoint } from '../lib/failpoint.js';
import type { AgentStreams } from './agent-streams.js';
import type { RemoteDesktopVms } from './remote-desktop-vms.js';
import type { RemoteVms } from './remote-vms.js';
import { wsSplice } from '../lib/ws-pipe.js';
import { socketConnect } from '../hypervisor/qemu-socket.js';

/** The whole migration's answer: QEMU's own deadline (live-migration.ts) is 10 minutes; this leaves it time to say so. */
const MIGRATION_ANSWER_MS = 11 * 60_000;
/** The destination's QEMU starts and listens within this (a start's own bound under TCG on a loaded host). */
const DESTINATION_READY_MS = 90_000;
/** After the destination failed, how long the source's own answer may take: completed (then resumed there) or failed. */
const SOURCE_ANSWER_AFTER_FAILURE_MS = 30_000;
/** The destination's agent reports the VM it has at once (the move's desired set): a few heartbeats at most. */
const ARRIVAL_REPORT_MS = 15_000;

/** Whether a pool's stored spec is a persistent pool's. */
function persistentSpec(spec: string | null): boolean {
  if (spec === null) return false;
  return (JSON.parse(spec) as { persistent?: boolean }).persistent === true;
}

export type MigrationOutcome = VmMigrationView;

export interface MigrationDeps {
  db: Store;
  streams: AgentStreams;
  commands: Pick<RemoteDesktopVms, 'command'>;
  remote: RemoteVms;
  /** Where the VM goes: placement over agents' hosts that take new VMs (not `from`), or only `onto` when the caller names it. */
  place(need: PlacementNeed, from: string, onto?: string): Promise<string>;
  /** The controller's own host as a source (its VMs run under the daemon's VM manager, not an agent). */
  local: Pick<LocalMigrationSide, 'check' | 'migrateOut' | 'resume' | 'handOff' | 'quitUnresumed' | 'migrateIn'>;
  /** Pool desktops' part: persistent ones move live, held still meanwhile (desktops/desktop-migration.ts). */
  desktops?: DesktopMoves;
  /** With home leases: the host that took a lease last, by its leader record on the shared storage. */
  leaseLastTakenBy?: (lease: MigratingLease) => Promise<string | undefined>;
  log: Logger;
}

/** What a persistent pool desktop carries when it moves live, and where it may go (its pool's placement). */
export interface DesktopCarried {
  need: PlacementNeed;
  disks: MigratingDisk[];
  leases: MigratingLease[];
}

export interface DesktopMoves {
  /** Runs `move` with the desktop held still (no lifecycle step meanwhile) and follows it on its new host after;
   *  refuses, with the reason, a desktop that does not move live (a non-persistent one moves at its logoff). */
  moving<T>(desktop: string, move: (carried: DesktopCarried) => Promise<T>): Promise<T>;
  /** A move found finished but unrecorded: `record` run with the desktop held still, then the desktop followed on its
   *  new host if it recorded the move; whether it did. */
  arrived(desktop: string, record: () => Promise<boolean>): Promise<boolean>;
  /** A move whose destination may have run the desktop before it went down: `record` run with the desktop held still,
   *  then the desktop and its home's lease recorded on that host (the host-loss rules re-serve its user); whether it did. */
  lostWith(desktop: string, host: string, record: () => Promise<boolean>): Promise<boolean>;
}

export class VmMigrations {
  constructor(private readonly d: MigrationDeps) {
    d.remote.onUnrecordedArrival((rec, to, o) => this.arrivedUnrecorded(rec, to, o));
    d.remote.onUnfinishedMove((rec) => this.unfinished(rec));
  }

  /** VMs on `host` a drain moves by live migration: running plain VMs and persistent pool desktops in use or kept
   *  (non-persistent desktops move at their logoff, spares at once). */
  async movable(host: string): Promise<string[]> {
    const rows = await this.d.db
      .selectFrom('vms')
      .leftJoin('pool_desktops', 'pool_desktops.name', 'vms.name')
      .leftJoin('pools', 'pools.name', 'pool_desktops.pool')
      .select(['vms.name', 'pool_desktops.name as desktop', 'pool_desktops.state', 'pools.spec'])
      .where('vms.host', '=', host)
      .where('vms.desired', '=', 'running')
      .orderBy('vms.name')
      .execute();
    return rows.filter((r) => r.desktop === null || (this.d.desktops !== undefined && DESKTOP_LIVE_MOVE_STATES.has(r.state ?? '') && persistentSpec(r.spec))).map((r) => r.name);
  }

  async migrate(name: string, who: { name: string; address?: string }, to?: string): Promise<MigrationOutcome> {
    const rec = await vmGet(this.d.db, name);
    if (!rec) throw new ArdesiaError('VM_NOT_FOUND', `vm ${name} is not defined`);
    const from = rec.host;
    if (from === null) throw new ArdesiaError('VM_NOT_MIGRATABLE', `vm ${name} has no host recorded (it last ran before this controller knew hosts): stop it and start it again, then migrate it`);
    // An agent's VM as its reports say; the controller's own as its VM manager has it (moveLive checks).
    const reportedRunning = !this.d.remote.isRemote(from) || rec.observed?.state === 'running';
    if (rec.desired !== 'running' || !reportedRunning) throw new ArdesiaError('VM_NOT_MIGRATABLE', `vm ${name} is not running on host ${from} (${rec.observed?.state ?? 'no report'})`);
    // Its files were checked by that owner's rules on the host it runs on; a destination would open them unchecked.
    if (rec.confinedBy !== null && this.d.remote.isRemote(from)) throw new ArdesiaError('VM_NOT_MIGRATABLE', `vm ${name} was started by ${rec.confinedBy} under the owner rules, its files checked for that user on host ${from}; stop it and start it again elsewhere`);
    const pool = await this.d.db.selectFrom('pool_desktops').select('pool').where('name', '=', name).executeTakeFirst();
    const started = Date.now();
    const plain: DesktopCarried = { need: { memoryMiB: rec.spec.memoryMiB, vcpus: rec.spec.vcpus, sharedStorage: PLAIN_VM_NEED }, disks: [], leases: [] };
    let target: string;
    if (pool) {
      if (!this.d.desktops) throw new ArdesiaError('VM_NOT_MIGRATABLE', `vm ${name} is a desktop of pool ${pool.pool}: it moves at its next logoff`);
      target = await this.d.desktops.moving(name, (carried) => this.moveLive({ ...rec, host: from }, to, carried));
    } else target = await this.moveLive({ ...rec, host: from }, to, plain);
    const outcome = { vm: name, from, to: target, ms: Date.now() - started };
    await auditAppend(this.d.db, who.name, 'vm.migrate', name, outcome, who.address);
    this.d.log.info(outcome, `vm ${name} migrated live from host ${from} to host ${target} in ${outcome.ms} ms`);
    return outcome;
  }

  /** Placed, then carried out with the VM's reports held meanwhile; the host it went to. */
  private async moveLive(rec: VmRecord & { host: string }, to: string | undefined, carried: DesktopCarried): Promise<string> {
    const target = await this.d.place(carried.need, rec.host, to);
    if (target === rec.host) throw new ArdesiaError('VM_NOT_MIGRATABLE', `vm ${rec.name} already runs on host ${rec.host}`);
    // Onto the controller's own host only when named: placement sends VMs to agents' hosts.
    if (!this.d.remote.isRemote(target) && to !== target) throw new ArdesiaError('VM_NOT_MIGRATABLE', `host ${target} is the controller's own host: name it (--to) to move a VM there`);
    for (const side of [rec.host, target]) {
      if (this.d.remote.isRemote(side)) this.d.remote.requireLinked(side);
    }
    if (!this.d.remote.isRemote(rec.host)) this.d.local.check(rec.name, carried.leases);
    const generation = vmNextGeneration(rec.generation);
    await this.d.remote.whileMoving(rec.name, () => this.carryOut(rec, target, generation, carried));
    return target;
  }

  /**
   * A move this controller did not record (it stopped after the destination resumed the VM, before the record), found by
   * the destination's report of it running at the move's generation: recorded there now, the source's paused QEMU quit
   * (an agent's by the absent order, this host's handed off), a desktop followed as after any move. The destination's
   * agent held the VM meanwhile (agent-vms.ts: arrivals), so the one running copy was never killed as a stranger.
   */
  private async arrivedUnrecorded(rec: VmRecord & { host: string }, to: string, o: VmObserved): Promise<void> {
    const name = rec.name;
    const record = () =>
      this.d.remote.whileMoving(name, async () => {
        if (!(await this.d.remote.movedFound(rec, to, o))) return false;
        if (!this.d.remote.isRemote(rec.host)) await this.d.local.handOff(name, to);
        return true;
      });
    const pool = await this.d.db.selectFrom('pool_desktops').select('pool').where('name', '=', name).executeTakeFirst();
    const recorded = pool && this.d.desktops ? await this.d.desktops.arrived(name, record) : await record();
    if (!recorded) return;
    const outcome = { vm: name, from: rec.host, to, generation: o.generation, recordedLate: true };
    await auditAppend(this.d.db, 'controller', 'vm.migrate', name, outcome);
    this.d.log.warn(outcome, `vm ${name}: its live migration from host ${rec.host} to host ${to} had finished, unrecorded, when this controller stopped: recorded there now`);
  }

  /**
   * A move a controller stopped in whose destination, back, does not have the VM running at the move's generation: it
   * failed there (or never began). The source is told to run the VM on, taking back the leases it gave (a source whose
   * state never left runs already and is left as it is); the destination's unresumed QEMU, if any, is quit by its agent
   * as one the cluster never gave it.
   */
  private async unfinished(rec: VmRecord & { host: string; moving: VmMoveIntent }): Promise<void> {
    const name = rec.name;
    const { to, generation, leases } = rec.moving;
    const ended = await this.d.remote.whileMoving(name, async () => {
      const now = await vmGet(this.d.db, name);
      if (now?.moving?.generation !== generation || now.host !== rec.host) return false;
      // A QEMU that listened on this controller's own host and never resumed: quit first (it may hold leases it took).
      if (!this.d.remote.isRemote(to)) await this.d.local.quitUnresumed(name, rec.host);
      await this.resumeSource(rec.host, name, leases);
      await vmSetDesired(this.d.db, name, { moving: null });
      return true;
    });
    if (!ended) return;
    await auditAppend(this.d.db, 'controller', 'vm.migrate.failed', name, { vm: name, from: rec.host, to, generation, reason: 'the controller stopped during the move; the destination does not have it' });
    this.d.log.warn({ vm: name, from: rec.host, to }, `vm ${name}: its live migration from host ${rec.host} to host ${to} was cut short when this controller stopped; it runs on at host ${rec.host}`);
  }

  /**
   * A move a controller stopped in whose destination was judged down before it reported again (host-loss-watch.ts),
   * settled by what can be known (host-loss.ts cutMoveOutcome): the source asked to run the VM on only if its state never
   * left; if it left, the leases' leader records say whether the destination took them. Not taken: the source runs it
   * on, taking them back. Taken, or none to tell by: the move is recorded where the state went and the source's paused
   * QEMU quit, and the host-loss rules deal with the VM as the down host's (restarted, recorded lost, its user
   * re-served). The outcome, or undefined when the move was settled otherwise meanwhile.
   */
  async destinationDown(rec: VmRecord & { host: string; moving: VmMoveIntent }, why: string): Promise<CutMoveOutcome | undefined> {
    const { name, host: source } = rec;
    const { to, generation, leases } = rec.moving;
    if (this.d.remote.isMoving(name)) return undefined; // a move of this controller's own: it ends by itself
    const here = !this.d.remote.isRemote(source);
    const isDesktop = (await this.d.db.selectFrom('pool_desktops').select('name').where('name', '=', name).executeTakeFirst()) !== undefined;
    const outcome = await this.d.remote.whileMoving(name, async () => {
      const now = await vmGet(this.d.db, name);
      if (now?.moving?.generation !== generation || now.host !== source) return undefined;
      const atSource = await this.sourceRunsOn(source, name).then(
        (runs): 'runs' | 'left' => (runs ? 'runs' : 'left'),
        (err: unknown) => {
          if (err instanceof ArdesiaError && err.code === 'VM_NOT_RUNNING') return 'gone' as const;
          throw err;
        },
      );
      const takenBy = atSource === 'left' ? await Promise.all(leases.map((l) => this.d.leaseLastTakenBy?.(l))) : [];
      const decided = cutMoveOutcome(atSource, source, takenBy);
      if (decided === 'lost-with-destination') {
        const record = async () => {
          await this.d.remote.moved({ ...now, host: source }, to, generation);
          if (here) await this.d.local.handOff(name, to);
          return true;
        };
        if (isDesktop && this.d.desktops) await this.d.desktops.lostWith(name, to, record);
        else await record();
        return decided;
      }
      if (decided === 'resume-at-source') await this.resumeSource(source, name, leases);
      await vmSetDesired(this.d.db, name, { moving: null });
      return decided;
    });
    if (outcome === undefined) return undefined;
    const reason = `the controller stopped during the move, and host ${to} is down (${why})`;
    const lost = outcome === 'lost-with-destination';
    await auditAppend(this.d.db, 'controller', lost ? 'vm.migrate' : 'vm.migrate.failed', name, { vm: name, from: source, to, generation, outcome, reason });
    this.d.log.warn({ vm: name, from: source, to, outcome }, lost
      ? `vm ${name}: its live migration from host ${source} to host ${to} was cut short when this controller stopped, and host ${to} is down: its state had left host ${source}, and host ${to} may have run it, so it is not resumed at host ${source} but dealt with as lost with host ${to}`
      : `vm ${name}: its live migration from host ${source} to host ${to} was cut short when this controller stopped, and host ${to} is down; it runs on at host ${source}`);
    return outcome;
  }

  /** The source, its state sent or not, runs the VM on, taking back the leases it gave to the destination. */
  private async resumeSource(source: string, name: string, leases: MigratingLease[]): Promise<void> {
    if (!this.d.remote.isRemote(source)) return this.d.local.resume(name, leases).then(() => undefined);
    await this.d.commands.command(source, name, { op: 'migrate-resume', ...(leases.length > 0 ? { leases } : {}) }, MIGRATION_ANSWER_MS);
  }

  /** Whether the source runs the VM on, asked to only if its state never left; VM_NOT_RUNNING when its QEMU is gone. */
  private sourceRunsOn(source: string, name: string): Promise<boolean> {
    if (!this.d.remote.isRemote(source)) return this.d.local.resume(name, [], true);
    return this.d.commands.command(source, name, { op: 'migrate-resume', ifStayed: true }, MIGRATION_ANSWER_MS);
  }

  private async carryOut(rec: VmRecord & { host: string }, to: string, generation: number, carried: DesktopCarried): Promise<void> {
    const name = rec.name;
    // The controller's own host is a side without an agent: its QEMU reads or writes the other side's stream itself.
    const fromHere = !this.d.remote.isRemote(rec.host);
    const toHere = !this.d.remote.isRemote(to);
    const inbound = toHere ? undefined : this.d.streams.expect(to, name, 'migration', DESTINATION_READY_MS);
    const outbound = fromHere ? undefined : this.d.streams.expect(rec.host, name, 'migration');
    const sockets: WebSocket[] = [];
    const { disks, leases } = carried;
    const withLeases = leases.length > 0 ? { leases } : {};
    let handedOver: Promise<unknown> | undefined;
    // Recorded before anything is sent: a controller that stops mid-move knows, when it is back, where the state went.
    await vmSetDesired(this.d.db, name, { moving: { to, generation, leases: [...leases] } });
    /** An agent's source asked to send; its stream once it dialled. */
    const agentSends = async (): Promise<WebSocket> => {
      const sent = this.d.commands.command(rec.host, name, { op: 'migrate-out', generation, stream: { id: outbound!.id, secret: outbound!.secret }, to, ...withLeases }, MIGRATION_ANSWER_MS);
      handedOver = sent;
      sent.catch(() => undefined);
      const outOf = await Promise.race([outbound!.socket, sent.then(() => Promise.reject(new Error('the source answered before it dialled')))]);
      sockets.push(outOf);
      return outOf;
    };
    try {
      let arrived: Promise<unknown>;
      if (!inbound) {
        // Here, once QEMU listens: the source's stream into its socket.
        arrived = this.d.local.migrateIn(rec.spec, async (socketPath) => {
          const outOf = await agentSends();
          const qemu = await socketConnect({ path: socketPath }, 'VM_MIGRATION_FAILED', "this host's migration");
          const stream = createWebSocketStream(outOf);
          stream.on('error', () => qemu.destroy());
          qemu.on('error', () => stream.destroy());
          stream.pipe(qemu);
        }, carried);
        arrived.catch(() => undefined);
      } else {
        const images = await this.d.remote.imageChecksOf(rec.spec);
        arrived = this.d.commands.command(to, name, { op: 'migrate-in', spec: rec.spec, generation, stream: { id: inbound.id, secret: inbound.secret }, images, ...(disks.length > 0 ? { disks } : {}), ...withLeases }, MIGRATION_ANSWER_MS);
        arrived.catch(() => undefined);
        // The destination dials once its QEMU listens: a start that fails first is its answer.
        const into = await Promise.race([inbound.socket, arrived.then(() => Promise.reject(new Error('the destination answered before it dialled')))]);
        sockets.push(into);
        if (fromHere) {
          // This host's QEMU sends straight into the destination's stream.
          const sink = createWebSocketStream(into);
          sink.on('error', (err) => this.d.log.warn({ vm: name, err: err.message }, `the migration stream of vm ${name} failed: ${err.message}`));
          handedOver = this.d.local.migrateOut(name, sink, leases, to);
          handedOver.catch(() => undefined);
        } else wsSplice(await agentSends(), into);
      }
      try {
        await Promise.all([handedOver, arrived]);
      } catch (err) {
        // The state left, but the destination did not take it: the VM, paused at the source, runs on there.
        if (handedOver && (await settledWithin(handedOver, SOURCE_ANSWER_AFTER_FAILURE_MS))) {
          failpoint('migration-before-resume'); // the controller dies with the source paused, the destination failed
          await this.resumeSource(rec.host, name, leases).catch((e: Error) =>
            this.d.log.error({ vm: name, host: rec.host, err: e.message }, `vm ${name}: resuming it on host ${rec.host} after the failed migration failed too: ${e.message}`));
        }
        throw err;
      }
    } catch (err) {
      await vmSetDesired(this.d.db, name, { moving: null }).catch((e: Error) => this.d.log.error({ vm: name, err: e.message }, `vm ${name}: clearing its failed move's record failed: ${e.message}`));
      if (inbound) this.d.streams.cancel(inbound.id, 'the migration failed');
      if (outbound) this.d.streams.cancel(outbound.id, 'the migration failed');
      for (const s of sockets) s.terminate();
      const e = err as Error;
      throw err instanceof ArdesiaError && err.code === 'VM_MIGRATION_FAILED' ? err : new ArdesiaError('VM_MIGRATION_FAILED', `vm ${name} from host ${rec.host} to host ${to}: ${e.message}`);
    }
    for (const s of sockets) s.close(1000, 'migrated');
    failpoint('migration-before-record'); // the controller dies with the VM resumed at its destination, the move unrecorded
    // Done once the controller's record has it running there (its pid: a desktop's guest is followed to it); the
    // controller's own VM manager has it already.
    const reported = toHere ? undefined : this.d.remote.nextRunningReport(name, ARRIVAL_REPORT_MS);
    await this.d.remote.moved(rec, to, generation);
    if (fromHere) await this.d.local.handOff(name, to);
    if (reported && !(await reported)) this.d.log.warn({ vm: name, host: to }, `vm ${name} migrated to host ${to}, but its agent has not reported it running there yet`);
  }
}

/** Whether `p` fulfilled within `ms` (false: it failed, or its answer did not come). */
function settledWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  return Promise.race([p.then(() => true, () => false), late]).finally(() => clearTimeout(timer));
}

/** What a drain asks of the migrations: its running plain VMs moved, one at a time, each failure said and left running. */
export function drainMovesAttach(hosts: { on(event: 'drain', listener: (host: string) => void): unknown; announceChange(host: string): Promise<void> }, migrations: VmMigrations, log: Logger): void {
  const running = new Set<string>();
  hosts.on('drain', (host) => {
    if (running.has(host)) return; // the pass under way takes every VM still there
    running.add(host);
    void (async () => {
      for (const vm of await migrations.movable(host)) {
        await migrations.migrate(vm, { name: 'drain' }).catch((err: Error) => log.warn({ vm, host, err: err.message }, `drain of host ${host}: vm ${vm} stays there: ${err.message}`));
        await hosts.announceChange(host).catch(() => undefined);
      }
    })()
      .catch((err: Error) => log.error({ err, host }, `drain of host ${host}: the live migrations failed: ${err.message}`))
      .finally(() => running.delete(host));
  });
}
