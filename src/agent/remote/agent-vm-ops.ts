// What `vm pause | unpause | reset | stop --to-disk | log | screendump` (and a start's --discard-state) do for a VM on an agent's host: the agent's own VM manager does
// them as the controller's does for its own host (same state checks, same errors), and answers by id; a read's bytes
// come back base64 in the answer (at most VM_COMMAND_DATA_MAX_BYTES).
import type { AgentMessage, ControllerMessage, VmCommand } from '../../contract/agent.js';
import { ArdesiaError } from '../../contract/errors.js';
import type { VmManager } from '../../vms/vm-manager.js';
import type { ManagerOp } from './agent-commands.js';

type OpCommand = Extract<VmCommand, { op: ManagerOp }>;
type Command = Extract<ControllerMessage, { type: 'vm-command' }>;
type Result = Extract<AgentMessage, { type: 'vm-command-result' }>;
export type VmOps = Pick<VmManager, 'pause' | 'unpause' | 'reset' | 'savedStates' | 'consoleLog' | 'qemuLog' | 'screendump'>;

const MANAGER_OPS: ReadonlySet<string> = new Set<ManagerOp>(['pause', 'unpause', 'reset', 'state-save', 'state-discard', 'console-log', 'qemu-log', 'screendump']);
export const isManagerOp = (c: VmCommand): c is OpCommand => MANAGER_OPS.has(c.op);

export async function vmOpRun(m: Command & { command: OpCommand }, ops: VmOps): Promise<Result> {
  const c = m.command;
  try {
    switch (c.op) {
      case 'pause':
        await ops.pause(m.vm);
        return { type: 'vm-command-result', id: m.id, value: true };
      case 'unpause':
        await ops.unpause(m.vm);
        return { type: 'vm-command-result', id: m.id, value: true };
      case 'reset':
        await ops.reset(m.vm);
        return { type: 'vm-command-result', id: m.id, value: true };
      case 'state-save':
        await ops.savedStates.stopToDisk(m.vm);
        return { type: 'vm-command-result', id: m.id, value: true };
      case 'state-discard':
        await ops.savedStates.discard(m.vm);
        return { type: 'vm-command-result', id: m.id, value: true };
      case 'console-log':
      case 'qemu-log':
      case 'screendump': {
        const bytes = c.op === 'console-log' ? await ops.consoleLog(m.vm, c.maxBytes) : c.op === 'qemu-log' ? await ops.qemuLog(m.vm, c.maxBytes) : await ops.screendump(m.vm);
        if (bytes.length > c.maxBytes) throw new ArdesiaError('VM_MONITOR_FAILED', `the ${c.op} of vm ${m.vm} is ${bytes.length} bytes, more than one answer carries (${c.maxBytes})`);
        return { type: 'vm-command-result', id: m.id, value: true, data: bytes.toString('base64') };
      }
    }
  } catch (err) {
    const e = err as Error;
    return { type: 'vm-command-result', id: m.id, error: { code: err instanceof ArdesiaError ? err.code : 'VM_MONITOR_FAILED', message: e.message.slice(0, 1000) } };
  }
}
