// Both sides of a live migration, wherever their QEMU runs (an agent's host, agent-vms.ts; the controller's own host,
// LocalMigrationSide below). Source: the state into the stream, then the home leases given back (the guest paused, its
// disks handed over), or, when the destination failed after that, the leases taken back before the guest runs on.
// Destination: the hot-plugged disks plugged before the state loads, the leases taken before the guest runs.
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { MigratingDisk, MigratingLease } from '../contract/agent.js';
import type { VmSpec } from '../contract/vm.js';
import { diskPlug } from '../hypervisor/guest-vm.js';
import { failpoint, failpointPause } from '../lib/failpoint.js';
import { ArdesiaError } from '../contract/errors.js';
import { hasClipboardAgent } from '../hypervisor/saved-state/clipboard-agent.js';
import type { MigrationFigures } from '../hypervisor/saved-state/live-migration.js';
import type { LiveIncoming, VmRuntime } from '../hypervisor/vm-runtime.js';
import type { VmManager } from '../vms/vm-manager.js';
import { leaseReleaseFor, leaseTakeOver, type SanlockClient } from './home-leases/sanlock.js';

/** How long a migration's destination (or a source resuming) waits for the other side to give a lease back. */
export const LEASE_TAKE_OVER_MS = 30_000;

const clipboardAgentOf = (runtime: VmRuntime) => hasClipboardAgent(runtime.launchArgv.args);

/** Each lease taken for `pid` as the other side gives it back. */
export async function leasesTakeOver(sanlock: SanlockClient, pid: number, leases: readonly MigratingLease[], withinMs = LEASE_TAKE_OVER_MS): Promise<void> {
  for (const l of leases) await leaseTakeOver(sanlock, pid, l.resource, l.user, withinMs);
}

/** What a migrating VM carries beyond its spec: hot-plugged disks, and the home leases its QEMU holds. */
export interface MigrationCarried {
  disks?: readonly MigratingDisk[];
  leases?: readonly MigratingLease[];
}

/** The destination's QEMU fed by `connect`, with what the VM carries: its disks plugged before the state loads (QEMU
 *  opens them inactive), its leases taken once the state is in, before the guest runs and the disks are activated. */
export function liveIncoming(name: string, connect: (socketPath: string) => Promise<void>, carried: MigrationCarried, sanlock: SanlockClient | undefined, log: Logger): LiveIncoming {
  const { disks = [], leases = [] } = carried;
  if (leases.length > 0 && !sanlock) throw new ArdesiaError('LEASE_DAEMON_UNAVAILABLE', `vm ${name}: the home leases it holds cannot be taken here: this host has not joined the lockspace (is its sanlock daemon running?)`);
  return {
    connect,
    ...(disks.length > 0 ? { beforeLoad: async (vm: VmRuntime) => { for (const d of disks) await diskPlug(vm, d); } } : {}),
    ...(leases.length > 0
      ? {
          beforeResume: async (vm: VmRuntime) => {
            failpoint('migrate-in-loaded'); // the agent dies with the state in, unresumed: the source must run on
            await failpointPause('migrate-in-before-resume'); // a test kills this QEMU here: the source must run on
            const t0 = Date.now();
            await leasesTakeOver(sanlock!, vm.pid, leases);
            log.info({ vm: name, leases: leases.map((l) => l.user), ms: Date.now() - t0 }, `vm ${name}: the home leases it holds taken over from the source in ${Date.now() - t0} ms; resuming it here`);
          },
        }
      : {}),
  };
}

/** The state into `sink`; once it left, the leases given back. One not given back keeps the destination from
 *  resuming (it fails, and the source is resumed): said, not thrown. A failure before that leaves the VM running. */
export async function migrateOutGivingLeases(runtime: VmRuntime, sink: Duplex, leases: readonly MigratingLease[], sanlock: SanlockClient | undefined, log: Logger): Promise<MigrationFigures> {
  const name = runtime.spec.name;
  const figures = await runtime.migrateOut(sink, { clipboardAgent: clipboardAgentOf(runtime) }).catch((err: unknown) => {
    throw err instanceof ArdesiaError ? err : new ArdesiaError('VM_MIGRATION_FAILED', `vm ${name}: ${(err as Error).message}`);
  });
  for (const l of sanlock ? leases : []) {
    await leaseReleaseFor(sanlock!, runtime.pid, l.resource, l.user).catch((err: Error) => log.error({ vm: name, user: l.user, err: err.message }, `vm ${name}: the home lease of ${l.user} was not given back for its migration: ${err.message}`));
  }
  return figures;
}

/** The destination failed after the state left: the leases given for the move taken back, then the guest runs on.
 *  'stayed': a QEMU whose state never left (its migration cancelled) runs already, its leases held; 'left': its state
 *  left and `ifStayed` keeps it paused (nothing taken back). */
export async function resumeTakingLeasesBack(runtime: VmRuntime, leases: readonly MigratingLease[], sanlock: SanlockClient | undefined, ifStayed = false): Promise<'resumed' | 'stayed' | 'left'> {
  if (!(await runtime.migratedAway())) return 'stayed';
  if (ifStayed) return 'left';
  if (leases.length > 0) {
    if (!sanlock) throw new ArdesiaError('LEASE_DAEMON_UNAVAILABLE', `vm ${runtime.spec.name}: its home leases cannot be taken back: this host has not joined the lockspace`);
    await leasesTakeOver(sanlock, runtime.pid, leases);
  }
  await runtime.resumeHere({ clipboardAgent: clipboardAgentOf(runtime) });
  return 'resumed';
}

/** How a resume came out, as the source's log says it. */
export function resumeSaid(name: string, outcome: 'resumed' | 'stayed' | 'left'): string {
  if (outcome === 'resumed') return `vm ${name}: its migration failed at the destination; it runs on here`;
  if (outcome === 'stayed') return `vm ${name}: its migration never completed; it runs on here as it was`;
  return `vm ${name}: its state left for a host that is down now and may have run it; it stays paused here`;
}

/** The controller's own host as a migration's side (its VMs run under the daemon's VM manager, not an agent). */
export class LocalMigrationSide {
  constructor(
    private readonly manager: Pick<VmManager, 'runtimeOf' | 'handOff' | 'arriveHere' | 'boundHereWhy'>,
    /** This host's sanlock daemon (serve --home-leases sanlock), joined; undefined when home leases are off. */
    private readonly sanlock: SanlockClient | undefined,
    private readonly log: Logger,
  ) {}

  private running(name: string): VmRuntime {
    const runtime = this.manager.runtimeOf(name);
    if (!runtime || runtime.state !== 'running') throw new ArdesiaError('VM_NOT_RUNNING', `vm ${name} does not run on the controller's host`);
    return runtime;
  }

  /** Refused before anything is sent when the VM does not run here or its leases cannot be given. */
  check(name: string, leases: readonly MigratingLease[]): void {
    this.running(name);
    const bound = this.manager.boundHereWhy(name);
    if (bound) throw new ArdesiaError('VM_NOT_MIGRATABLE', `vm ${name} stays on the controller's host while it runs: ${bound}; stop it and start it elsewhere`);
    if (leases.length > 0 && !this.sanlock) throw new ArdesiaError('LEASE_DAEMON_UNAVAILABLE', `vm ${name}: the home leases it holds cannot be handed over: this host has not joined the lockspace`);
  }

  async migrateOut(name: string, sink: Duplex, leases: readonly MigratingLease[], to: string): Promise<MigrationFigures> {
    const figures = await migrateOutGivingLeases(this.running(name), sink, leases, this.sanlock, this.log);
    this.log.info({ vm: name, to, ...figures }, `vm ${name} migrated to host ${to} in ${figures.ms} ms (${figures.bytes} bytes, the guest stopped ${figures.downtimeMs ?? '?'} ms)`);
    return figures;
  }

  /** Whether the VM runs on here now (`ifStayed`: see VmMigrateResume). */
  async resume(name: string, leases: readonly MigratingLease[], ifStayed = false): Promise<boolean> {
    const runtime = this.manager.runtimeOf(name);
    if (!runtime) throw new ArdesiaError('VM_NOT_RUNNING', `vm ${name} does not run on the controller's host: nothing to resume`);
    const outcome = await resumeTakingLeasesBack(runtime, leases, this.sanlock, ifStayed);
    this.log[outcome === 'stayed' ? 'info' : 'warn']({ vm: name }, resumeSaid(name, outcome));
    return outcome !== 'left';
  }

  /** Destination: the VM started here listening for its state (fed by `connect`), answered once it runs here. */
  async migrateIn(spec: VmSpec, connect: (socketPath: string) => Promise<void>, carried: MigrationCarried): Promise<void> {
    await this.manager.arriveHere(spec, liveIncoming(spec.name, connect, carried, this.sanlock, this.log));
  }

  /** The move is recorded: the paused QEMU here is quit, its stop not recorded (the VM runs on `to`). */
  handOff(name: string, to: string): Promise<void> {
    return this.manager.handOff(name, `moved to host ${to}`);
  }

  /** A move here that did not finish: the QEMU that listened here, never resumed, is quit (the VM runs on at `from`). */
  quitUnresumed(name: string, from: string): Promise<void> {
    return this.manager.handOff(name, `its move from host ${from} did not finish`);
  }
}
