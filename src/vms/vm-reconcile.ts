// After the daemon (or an agent) starts: the QEMUs still running from its previous life are adopted, those that died
// meanwhile recorded stopped with their last console line, and QEMUs under runtime folders no record names killed.
// At its stop: its QEMUs are left running (found again by the next), or stopped and recorded as such.
import { existsSync, readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { DAEMON_STOP_REASON } from '../contract/vm.js';
import { consoleLogTail } from '../hypervisor/console-log.js';
import { isOurQemu, killQuietly, readPidfile } from '../hypervisor/qemu/process.js';
import { VmRuntime } from '../hypervisor/vm-runtime.js';
import type { NatGuard } from '../network/nat-guard-host.js';
import type { VmNetwork } from '../network/vm-network.js';
import type { Store } from '../store/db.js';
import { vmDelete, vmGet, vmList, vmSetDesired } from '../store/vms.js';
import { withTimeout } from '../lib/with-timeout.js';
import type { RemoteVmDriver } from './remote-vm.js';
import { removeRuntimeFolder, runtimeOrphansKill, vmFiles } from './vm-files.js';
import { adoptVmUid, type VmUids } from './vm-uids.js';

export interface VmsReconciled {
  adopted: string[];
  died: string[];
  orphansKilled: string[];
}

export interface ReconcileDeps {
  store: Store;
  runDir: string;
  log: Logger;
  network: VmNetwork;
  vmUids: VmUids;
  natGuard: NatGuard;
  remote?: RemoteVmDriver;
  /** Follows an adopted QEMU as one started now. */
  track(runtime: VmRuntime): void;
}

export async function reconcileVms(d: ReconcileDeps): Promise<VmsReconciled> {
  const adopted: string[] = [];
  const died: string[] = [];
  const records = await vmList(d.store);
  const known = new Set(records.map((r) => r.name));
  for (const rec of records) {
    const files = vmFiles(d.runDir, rec.name);
    // Its own agent finds it again on its host (a runtime folder here: it ran here, under this host's former name).
    const elsewhere = d.remote?.isRemote(rec.host) === true;
    if (elsewhere && !existsSync(files.runtime.dir)) continue;
    const runtime = await VmRuntime.adopt(rec.spec, files.runtime, files.consoleLog, rec.startedAt).catch((err) => {
      d.log.error({ err, vm: rec.name }, `vm ${rec.name}: could not re-attach to its QEMU; killing it`);
      const pid = readPidfile(files.runtime.pidfile);
      if (pid !== undefined && isOurQemu(pid, files.runtime.qmp)) killQuietly(pid);
      return undefined;
    });
    if (runtime) {
      // Its taps are still there (QEMU holds them); the MAC locks and the local DHCP come back with the daemon.
      await d.network.attach(rec.spec).catch((err) => d.log.error({ err, vm: rec.name }, `vm ${rec.name}: its network could not be set up again`));
      await adoptVmUid(rec.spec, runtime.pid, d.vmUids, d.natGuard).catch((err) => d.log.error({ err, vm: rec.name }, `vm ${rec.name}: its NAT allow-list could not be added back (its guest reaches nothing)`));
      d.track(runtime);
      adopted.push(rec.name);
      continue;
    }
    removeRuntimeFolder(files);
    if (elsewhere) continue; // its agent reports whether it runs
    await d.network.cleanupAfterDeath(rec.spec);
    if (rec.desired === 'running') {
      const last = lastLine(consoleLogTail(files.consoleLog, 4096).toString('utf8'));
      const reason = deathWhileAwayReason(rec.startedAt, hostBootedAtMs(), last);
      died.push(rec.name);
      if (rec.transient) await vmDelete(d.store, rec.name);
      else await vmSetDesired(d.store, rec.name, { desired: 'stopped', lastStopReason: reason, startedAt: null });
    }
  }
  const orphansKilled = runtimeOrphansKill(d.runDir, known);
  return { adopted, died, orphansKilled };
}

/** Pure: why a VM meant to run was found dead at start. Started before this host's boot: the host restarted under it
 *  (a power loss, a crash, a reboot), which says more to an administrator than that its QEMU exited. */
export function deathWhileAwayReason(startedAt: string | null, hostBootedAtMs: number | undefined, lastConsoleLine: string): string {
  // The kernel's boot time is derived (now - uptime), so it wanders by a second or so: a margin keeps a VM started just
  // after the boot from being taken for one of the previous boot.
  const before = startedAt !== null && hostBootedAtMs !== undefined && Date.parse(startedAt) < hostBootedAtMs - BOOT_TIME_MARGIN_MS;
  const what = before
    ? `the host restarted while it ran (a power loss, a crash or a reboot; this boot began ${new Date(hostBootedAtMs).toISOString()})`
    : 'QEMU exited while the daemon was not running';
  return `${what}${lastConsoleLine ? ` (last console output: ${lastConsoleLine})` : ''}`;
}

const BOOT_TIME_MARGIN_MS = 2000;

/** When this host's kernel booted (/proc/stat btime), or undefined where it cannot be read. */
function hostBootedAtMs(): number | undefined {
  try {
    const btime = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1];
    return btime === undefined ? undefined : Number(btime) * 1000;
  } catch {
    return undefined;
  }
}

function lastLine(text: string): string {
  return text.trim().split('\n').pop()?.trim() ?? '';
}

/** The daemon's stop: its QEMUs detached (they run on), or with `stopVms` stopped and recorded as the daemon's stop. */
export async function shutdownVms(d: Pick<ReconcileDeps, 'store' | 'runDir' | 'network'>, runtimes: Map<string, VmRuntime>, stopVms: boolean): Promise<void> {
  for (const [name, rt] of runtimes) {
    if (!stopVms) {
      rt.detach();
      continue;
    }
    // Recorded first, so the next daemon sees an intended stop, not a VM that died while it was away.
    if ((await vmGet(d.store, name))?.transient) await vmDelete(d.store, name);
    else await vmSetDesired(d.store, name, { desired: 'stopped', lastStopReason: DAEMON_STOP_REASON, startedAt: null });
    // Its exit is not recorded again (nor cleaned up twice): the listeners go, waitExit's with them, so the exit is
    // awaited on a listener of its own (waitExit alone would wait its whole 10 s for each VM).
    rt.removeAllListeners('exited');
    const gone = rt.exited ? Promise.resolve() : new Promise<void>((resolve) => rt.once('exited', () => resolve()));
    await rt.forceStop().catch(() => undefined);
    await withTimeout(gone, 10_000);
    removeRuntimeFolder(vmFiles(d.runDir, name));
    await d.network.detach(name).catch(() => undefined);
  }
}
