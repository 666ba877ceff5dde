// The agent's steps on a running VM of its host, asked by the controller (vm-command): a pool desktop's home plugged
// in and out over QMP (the file handed to QEMU as an fd), and whether it is plugged in. Each answered once, by id.
import type { AgentMessage, ControllerMessage } from '../../contract/agent.js';
import { ArdesiaError } from '../../contract/errors.js';
import { diskPlug, diskPlugged, diskUnplug } from '../../hypervisor/guest-vm.js';
import type { VmRuntime } from '../../hypervisor/vm-runtime.js';

type Command = Extract<ControllerMessage, { type: 'vm-command' }>;
type Result = Extract<AgentMessage, { type: 'vm-command-result' }>;

/** Carries out the command on the VM's QEMU; a failure is answered with its registry code. */
export async function vmCommandRun(m: Command, runtime: VmRuntime | undefined, host: string): Promise<Result> {
  try {
    if (!runtime) throw new ArdesiaError('VM_NOT_RUNNING', `vm ${m.vm} does not run on host ${host}`);
    const c = m.command;
    const value = c.op === 'disk-plug' ? (await diskPlug(runtime, c), true) : c.op === 'disk-unplug' ? await diskUnplug(runtime, c, c.timeoutMs) : await diskPlugged(runtime, c.device);
    return { type: 'vm-command-result', id: m.id, value };
  } catch (err) {
    const e = err as Error;
    return { type: 'vm-command-result', id: m.id, error: { code: err instanceof ArdesiaError ? err.code : 'VM_MONITOR_FAILED', message: e.message.slice(0, 1000) } };
  }
}
