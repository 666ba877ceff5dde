// The agent's steps on a running VM of its host, asked by the controller (vm-command): a pool desktop's home plugged
// in and out over QMP (the file handed to QEMU as an fd), whether it is plugged in, and, with home leases on, the home's
// sanlock lease taken for that QEMU before the plug and given back after the unplug, and a one-time SPICE password. Each
// answered once, by id.
import type { AgentMessage, ControllerMessage, VmCommand } from '../../contract/agent.js';
import { ArdesiaError } from '../../contract/errors.js';
import { leaseAcquireFor, leaseReleaseFor, type SanlockClient } from '../../cluster/home-leases/sanlock.js';
import { spiceOneTimeLogin } from '../../gateway/spice.js';
import { diskPlug, diskPlugged, diskUnplug } from '../../hypervisor/guest-vm.js';
import { diskCopyRunning } from '../../hypervisor/disk-copy.js';
import type { VmRuntime } from '../../hypervisor/vm-runtime.js';

type Command = Extract<ControllerMessage, { type: 'vm-command' }> & { command: { op: Exclude<VmCommand['op'], MigrationOp | ManagerOp | StateStreamOp> } };
/** The migration's steps (agent-migration.ts): not on a VM's running QEMU alone. */
export type MigrationOp = 'migrate-in' | 'migrate-out' | 'migrate-resume';
/** A saved state streamed to or from the controller (agent-state-streams.ts). */
export type StateStreamOp = 'state-send' | 'state-receive';
/** Done by the agent's own VM manager (agent-vms.ts), as on the controller's host: a log is there for a stopped VM too. */
export type ManagerOp = 'pause' | 'unpause' | 'reset' | 'state-save' | 'state-discard' | 'console-log' | 'qemu-log' | 'screendump';
type Result = Extract<AgentMessage, { type: 'vm-command-result' }>;
/** The steps answered yes or no on the VM's QEMU (the SPICE password is answered with data). */
type QemuStep = Exclude<VmCommand, { op: MigrationOp | ManagerOp | StateStreamOp | 'spice-login' }>;

/** Carries out the command on the VM's QEMU; a failure is answered with its registry code. `sanlock`: this host's
 *  daemon once it joined the lockspace (undefined: home leases are off, or the join has not succeeded). */
export async function vmCommandRun(m: Command, runtime: VmRuntime | undefined, host: string, sanlock: SanlockClient | undefined): Promise<Result> {
  try {
    if (!runtime) throw new ArdesiaError('VM_NOT_RUNNING', `vm ${m.vm} does not run on host ${host}`);
    if (m.command.op === 'spice-login') {
      const { password } = await spiceOneTimeLogin(runtime);
      return { type: 'vm-command-result', id: m.id, value: true, data: Buffer.from(password).toString('base64') };
    }
    return { type: 'vm-command-result', id: m.id, value: await run(m.command as QemuStep, runtime, host, sanlock) };
  } catch (err) {
    const e = err as Error;
    return { type: 'vm-command-result', id: m.id, error: { code: err instanceof ArdesiaError ? err.code : 'VM_MONITOR_FAILED', message: e.message.slice(0, 1000) } };
  }
}

async function run(c: QemuStep, runtime: VmRuntime, host: string, sanlock: SanlockClient | undefined): Promise<boolean> {
  switch (c.op) {
    case 'disk-plug':
      await diskPlug(runtime, c);
      return true;
    case 'disk-unplug':
      return diskUnplug(runtime, c, c.timeoutMs);
    case 'disk-plugged':
      return diskPlugged(runtime, c.device);
    case 'disk-copy':
      await diskCopyRunning(runtime, c.node, c.target, c.sizeBytes);
      return true;
    case 'lease-acquire':
      if (!sanlock) throw new ArdesiaError('LEASE_DAEMON_UNAVAILABLE', `acquiring the home lease of ${c.user}: host ${host} has not joined the lockspace (is its sanlock daemon running? see the agent's log)`);
      return (await leaseAcquireFor(sanlock, runtime.pid, c.resource, c.user)) === 'acquired';
    case 'lease-release':
      if (!sanlock) throw new ArdesiaError('LEASE_DAEMON_UNAVAILABLE', `releasing the home lease of ${c.user}: host ${host} has not joined the lockspace`);
      await leaseReleaseFor(sanlock, runtime.pid, c.resource, c.user);
      return true;
  }
}
