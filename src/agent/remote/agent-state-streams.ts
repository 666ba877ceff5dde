// The agent's side of a saved state streamed to or from the controller (vm-command state-send / state-receive): it dials
// the command's stream back like a migration's. `vm send` of a VM of this host sends its state (saved first if it runs)
// and deletes it once the controller answered the stream's end; a state saved on the controller's host, for a start
// placed here, is checked into this host's states/ (its start here resumes it). Answered once, by id.
import type { Logger } from 'pino';
import type { AgentMessage, ControllerMessage, VmCommand } from '../../contract/agent.js';
import { ArdesiaError } from '../../contract/errors.js';
import { wsReadable, wsSendAll } from '../../lib/ws-pipe.js';
import type { AgentState } from './agent-state.js';
import { dial } from './agent-streams.js';
import type { AgentVms } from './agent-vms.js';

type StateStreamCommand = Extract<VmCommand, { op: 'state-send' | 'state-receive' }>;
type Command = Extract<ControllerMessage, { type: 'vm-command' }>;
type Result = Extract<AgentMessage, { type: 'vm-command-result' }>;

export const isStateStreamCommand = (c: VmCommand): c is StateStreamCommand => c.op === 'state-send' || c.op === 'state-receive';

export async function stateStreamRun(m: Command & { command: StateStreamCommand }, vms: AgentVms, controller: URL, state: AgentState, log: Logger): Promise<Result> {
  const c = m.command;
  try {
    if (c.op === 'state-receive') {
      if (c.spec.name !== m.vm) throw new ArdesiaError('VM_STATE_INVALID', `the state sent for vm ${m.vm} names a spec of vm ${c.spec.name}`);
      const ws = await dial(c.stream, controller, state);
      await vms.stateTake(c.spec, wsReadable(ws, `vm ${m.vm}'s state from the controller`));
      log.info({ vm: m.vm }, `vm ${m.vm}: a state saved on the controller's host stored here (its start here resumes it)`);
    } else {
      const { body, delivered } = await vms.ops.savedStates.sendOut(m.vm);
      const ws = await dial(c.stream, controller, state).catch((err: unknown) => {
        body.destroy();
        throw err;
      });
      await wsSendAll(ws, body as AsyncIterable<Buffer>, 'end of state').finally(() => body.destroy());
      await delivered();
      log.info({ vm: m.vm }, `vm ${m.vm}: its state sent through the controller (vm send) and deleted here`);
    }
    return { type: 'vm-command-result', id: m.id, value: true };
  } catch (err) {
    const e = err as Error;
    log.warn({ vm: m.vm, op: c.op, err: e.message }, `vm ${m.vm}: ${c.op} failed: ${e.message}`);
    return { type: 'vm-command-result', id: m.id, error: { code: err instanceof ArdesiaError ? err.code : 'VM_STATE_TRANSFER_FAILED', message: e.message.slice(0, 1000) } };
  }
}
