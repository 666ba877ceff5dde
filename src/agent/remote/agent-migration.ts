// The agent's side of a live migration, asked by the controller (vm-command migrate-in / migrate-out): each side dials
// its stream back to the controller (which splices the two) and pipes it to its QEMU's migration socket. Answered once,
// by id: true once the VM runs on the destination, or once the source handed it over.
import type { Logger } from 'pino';
import { createWebSocketStream, type WebSocket } from 'ws';
import type { AgentMessage, ControllerMessage, VmCommand } from '../../contract/agent.js';
import { ArdesiaError } from '../../contract/errors.js';
import type { AgentState } from './agent-state.js';
import { socketConnect } from '../../hypervisor/qemu-socket.js';
import { dial } from './agent-streams.js';
import type { AgentVms } from './agent-vms.js';

type MigrationCommand = Extract<VmCommand, { op: 'migrate-in' | 'migrate-out' | 'migrate-resume' }>;
type Command = Extract<ControllerMessage, { type: 'vm-command' }>;
type Result = Extract<AgentMessage, { type: 'vm-command-result' }>;

export const isMigrationCommand = (c: VmCommand): c is MigrationCommand => c.op === 'migrate-in' || c.op === 'migrate-out' || c.op === 'migrate-resume';

export async function migrationCommandRun(m: Command & { command: MigrationCommand }, vms: AgentVms, controller: URL, state: AgentState, log: Logger): Promise<Result> {
  const c = m.command;
  try {
    if (c.op === 'migrate-in') {
      if (c.spec.name !== m.vm) throw new ArdesiaError('VM_NOT_MIGRATABLE', `the migration of vm ${m.vm} names a spec of vm ${c.spec.name}`);
      let ws: WebSocket | undefined;
      try {
        await vms.migrateIn(c.spec, c.generation, c.images ?? [], async (socketPath) => {
          const qemu = await socketConnect({ path: socketPath }, 'VM_MIGRATION_FAILED', "destination QEMU's migration");
          ws = await dial(c.stream, controller, state).catch((err: unknown) => {
            qemu.destroy();
            throw err;
          });
          const stream = createWebSocketStream(ws);
          stream.on('error', () => qemu.destroy());
          qemu.on('error', () => stream.destroy());
          stream.pipe(qemu);
        }, { ...(c.disks ? { disks: c.disks } : {}), ...(c.leases ? { leases: c.leases } : {}) });
      } finally {
        ws?.close(1000, 'migrated');
      }
    } else if (c.op === 'migrate-resume') {
      return { type: 'vm-command-result', id: m.id, value: await vms.migrateResume(m.vm, c.leases, c.ifStayed === true) };
    } else {
      const ws = await dial(c.stream, controller, state);
      const stream = createWebSocketStream(ws);
      stream.on('error', (err) => log.warn({ vm: m.vm, err: err.message }, `the migration stream of vm ${m.vm} failed: ${err.message}`));
      await vms.migrateOut(m.vm, c.generation, c.to, stream, c.leases);
    }
    return { type: 'vm-command-result', id: m.id, value: true };
  } catch (err) {
    const e = err as Error;
    log.warn({ vm: m.vm, op: c.op, err: e.message }, `vm ${m.vm}: ${c.op} failed: ${e.message}`);
    return { type: 'vm-command-result', id: m.id, error: { code: err instanceof ArdesiaError ? err.code : 'VM_MIGRATION_FAILED', message: e.message.slice(0, 1000) } };
  }
}
