// Pool desktops on agents' hosts, as the desktop layer drives them (hypervisor/guest-vm.ts's GuestVm): the guest channel
// is a stream the agent dials back (agent-streams.ts) to the VM's guest socket; a home is plugged in and out by commands
// the agent runs on its QEMU (vm-command, answered by id); the guest's reboots and power-offs come as vm-event, the VM's
// exit from the agent's reports (remote-vms.ts).
import { randomBytes } from 'node:crypto';
import { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import type { AgentMessage, VmCommand } from '../contract/agent.js';
import { ArdesiaError } from '../contract/errors.js';
import type { GuestVm, GuestVmEvent } from '../hypervisor/guest-vm.js';
import type { AgentLinks } from './agent-links.js';
import type { LeaseResource } from './home-leases/layout.js';
import type { RemoteLeaseSteps } from './home-leases/service.js';
import type { AgentStreams } from './agent-streams.js';
import type { RemoteVms } from './remote-vms.js';

/** A plug or a query the agent does not answer within this is failed here (an unplug gets its own wait on top). */
const COMMAND_ANSWER_MS = 30_000;
/** A home's copy (backup --with-homes) reads the whole disk on the VM's host and writes it to the shared folder. */
const DISK_COPY_ANSWER_MS = 3_600_000;

interface Pending {
  host: string;
  vm: string;
  resolve(value: boolean, data?: string): void;
  reject(err: ArdesiaError): void;
}

export class RemoteDesktopVms implements RemoteLeaseSteps {
  private readonly pending = new Map<string, Pending>();
  private readonly listeners = new Map<string, Set<(e: GuestVmEvent) => void>>();

  constructor(private readonly links: AgentLinks, private readonly streams: AgentStreams, remoteVms: RemoteVms, private readonly log: Logger) {
    links.attachDesktops({ vmEvent: (host, m) => this.onVmEvent(host, m), commandResult: (host, m) => this.onResult(host, m) });
    // No answer comes over a lost link: its commands fail now, not at their timeout (a login waits on them).
    links.onLinkLost((host) => {
      for (const p of [...this.pending.values()]) {
        if (p.host === host) p.reject(new ArdesiaError('AGENT_NOT_LINKED', `host ${host}'s link was lost before its agent answered: what was asked of vm ${p.vm} may or may not have been done`));
      }
    });
    remoteVms.onExit((name, reason) => this.deliver(name, { kind: 'exited', reason }));
  }

  /** The desktop VM `name`, running on `host` as QEMU `pid`. */
  vm(name: string, host: string, pid: number): GuestVm {
    return {
      pid,
      host,
      copyDisk: async (node, target, sizeBytes) => void (await this.command(host, name, { op: 'disk-copy', node, target, sizeBytes }, DISK_COPY_ANSWER_MS)),
      connectGuest: () => streamDuplex(() => this.streams.open(host, name, 'guest')),
      plugDisk: async (disk) => void (await this.command(host, name, { op: 'disk-plug', ...disk }, COMMAND_ANSWER_MS)),
      unplugDisk: (disk, timeoutMs) => this.command(host, name, { op: 'disk-unplug', node: disk.node, device: disk.device, timeoutMs }, timeoutMs + COMMAND_ANSWER_MS),
      diskPlugged: (device) => this.command(host, name, { op: 'disk-plugged', device }, COMMAND_ANSWER_MS),
      onEvent: (listener) => {
        const set = this.listeners.get(name) ?? new Set();
        set.add(listener);
        this.listeners.set(name, set);
        return () => {
          set.delete(listener);
          if (set.size === 0 && this.listeners.get(name) === set) this.listeners.delete(name);
        };
      },
    };
  }

  /** The home's lease taken on the agent's host for its QEMU of `vm` (before the plug). */
  async acquire(host: string, vm: string, user: string, resource: LeaseResource): Promise<'acquired' | 'own-already'> {
    return (await this.command(host, vm, { op: 'lease-acquire', user, resource }, COMMAND_ANSWER_MS)) ? 'acquired' : 'own-already';
  }

  /** Given back after the unplug; a QEMU that is gone holds nothing (sanlock freed its leases when it exited). */
  async release(host: string, vm: string, user: string, resource: LeaseResource): Promise<void> {
    await this.command(host, vm, { op: 'lease-release', user, resource }, COMMAND_ANSWER_MS).catch((err: unknown) => {
      if (!(err instanceof ArdesiaError && err.code === 'VM_NOT_RUNNING')) throw err;
    });
  }

  /** One step on a VM of the host, carried out by its agent (vm-command), answered by id within `answerWithinMs`. */
  async command(host: string, vm: string, command: VmCommand, answerWithinMs: number): Promise<boolean> {
    return (await this.commandAnswer(host, vm, command, answerWithinMs)).value;
  }

  /** A read's bytes (VmRead): the answer's data. */
  async commandData(host: string, vm: string, command: VmCommand, answerWithinMs: number): Promise<Buffer> {
    return Buffer.from((await this.commandAnswer(host, vm, command, answerWithinMs)).data ?? '', 'base64');
  }

  private commandAnswer(host: string, vm: string, command: VmCommand, answerWithinMs: number): Promise<{ value: boolean; data?: string }> {
    const id = randomBytes(12).toString('base64url');
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ArdesiaError('AGENT_COMMAND_TIMEOUT', `host ${host}'s agent did not answer ${command.op} on vm ${vm} within ${Math.round(answerWithinMs / 1000)} s`));
      }, answerWithinMs);
      const settle = () => {
        clearTimeout(timer);
        this.pending.delete(id);
      };
      this.pending.set(id, { host, vm, resolve: (value, data) => (settle(), resolve({ value, ...(data !== undefined ? { data } : {}) })), reject: (e) => (settle(), reject(e)) });
      if (!this.links.sendTo(host, { type: 'vm-command', id, vm, command })) {
        this.pending.get(id)?.reject(new ArdesiaError('AGENT_NOT_LINKED', `host ${host}'s agent is not connected to this controller: ${command.op} on vm ${vm} was not done`));
      }
    });
  }

  private onResult(host: string, m: Extract<AgentMessage, { type: 'vm-command-result' }>): void {
    const p = this.pending.get(m.id);
    if (p?.host !== host) return; // another host cannot answer this one's command
    if (m.error) p.reject(new ArdesiaError(m.error.code, `host ${host}'s agent: ${m.error.message}`));
    else p.resolve(m.value ?? false, m.data);
  }

  private onVmEvent(host: string, m: Extract<AgentMessage, { type: 'vm-event' }>): void {
    this.log.info({ host, vm: m.vm, event: m.event }, `vm ${m.vm} on host ${host}: ${m.event}`);
    this.deliver(m.vm, { kind: m.event });
  }

  private deliver(vm: string, e: GuestVmEvent): void {
    for (const listener of [...(this.listeners.get(vm) ?? [])]) listener(e);
  }
}

/** A byte stream over an agent stream opened on the first read: 'connect' once the agent dialled, 'close' when it ends. */
function streamDuplex(open: () => Promise<WebSocket>): Duplex {
  let ws: WebSocket | undefined;
  const duplex = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, done) {
      if (!ws || ws.readyState !== ws.OPEN) return done(new Error('the guest stream is not open'));
      ws.send(chunk, done);
    },
    destroy(err, done) {
      ws?.terminate();
      done(err);
    },
  });
  open().then(
    (socket) => {
      if (duplex.destroyed) return void socket.terminate();
      ws = socket;
      socket.on('message', (data: Buffer) => duplex.push(data));
      socket.on('close', () => duplex.destroy());
      socket.on('error', () => duplex.destroy());
      socket.resume();
      duplex.emit('connect');
    },
    (err: Error) => duplex.destroy(err),
  );
  return duplex;
}
