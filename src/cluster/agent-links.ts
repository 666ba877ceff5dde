// The controller's end of the agents' links (WSS at /v1/agent/link): the credential names the host, hello records its
// capacity, heartbeats are stamped with the database's clock (the first comes once the agent carried out its host's
// full desired set, so a host back after being declared down is up only once it killed what was given away); a closed link leaves it unlinked (its
// state is judged by its heartbeat's age and its storage lease, host-liveness.ts).
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import {
  type AgentHomeLeases, AGENT_PROTOCOL_VERSION, type AgentMessage, agentMessageDecode, type ControllerMessage, controllerMessageEncode, controllerRefusal, type VmDesired,
} from '../contract/agent.js';
import { ArdesiaError, ERROR_REGISTRY, type ErrorCode } from '../contract/errors.js';
import type { HostAgentReport, HostStorage } from '../contract/hosts.js';
import type { Store } from '../store/db.js';
import { type AgentJoin, requireClusterStore } from './agent-join.js';
import { dbNowIso } from './db-clock.js';

/** How often agents heartbeat (told in `accepted`): well under HOST_SILENT_AFTER_MS (host-liveness.ts). */
export const AGENT_HEARTBEAT_EVERY_MS = 3_000;
/** An accepted link that sends nothing this long (several missed heartbeats) is closed. */
export const AGENT_SILENT_AFTER_MS = 8 * AGENT_HEARTBEAT_EVERY_MS;
/** A link that sends no hello this long after it opened is closed. */
const HELLO_WITHIN_MS = 30_000;
/** Frames held before the credential is checked: a hello's size at most. */
const EARLY_FRAME_MAX_BYTES = 16 * 1024;
/** Close codes: 4000 + the refusal's HTTP status, as the console's. */
const closeCodeOf = (code: ErrorCode) => 4000 + (ERROR_REGISTRY[code].status % 1000);

/** The VMs' side of the links (remote-vms.ts): each linked agent gets its host's desired set; its reports go there. */
export interface AgentVmChannel {
  desiredSet(host: string): Promise<VmDesired[]>;
  observed(host: string, report: Extract<AgentMessage, { type: 'vm-observed' }>): Promise<void>;
}

/** A stream the agent could not open (agent-streams.ts). */
/** Pool desktops on agents' hosts (remote-desktop-vms.ts): the guests' events and the answers to commands. */
export interface AgentDesktopChannel {
  vmEvent(host: string, m: Extract<AgentMessage, { type: 'vm-event' }>): void;
  commandResult(host: string, m: Extract<AgentMessage, { type: 'vm-command-result' }>): void;
}

/** A host without shared storage asks for an image version's bytes (image-copies.ts). */
export type ImageFetchHandler = (host: string, m: Extract<AgentMessage, { type: 'image-fetch' }>) => void;

export type StreamFailedHandler = (host: string, m: Extract<AgentMessage, { type: 'stream-failed' }>) => void;

/** What the streams need from the links: an agent's failed dial, and a link declared silent (its host cut off). */
export interface StreamLinkHooks {
  failed: StreamFailedHandler;
  silent(host: string): void;
}

/** A link's TCP ends: this controller's address it came in on, and the agent's it came from. */
export interface LinkAddresses {
  address: string;
  peer: string;
}

const plainIpv4 = (address: string): string => address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');

/** How a link was lost: it stopped answering, or it ended. */
export type LinkLoss = 'silent' | 'closed';

export class AgentLinks {
  private readonly live = new Map<string, WebSocket>();
  /** Hosts whose link was lost (closed, or gone silent) and has not come back since. */
  private readonly cutOff = new Set<string>();
  /** Hosts linked whose agent has sent no heartbeat on that link yet (notReadyHosts). */
  private readonly notReady = new Set<string>();
  private readonly lossListeners: Array<(host: string, how: LinkLoss) => void> = [];
  private vms: AgentVmChannel | undefined;
  private streamHooks: StreamLinkHooks | undefined;
  private desktops: AgentDesktopChannel | undefined;
  private images: ImageFetchHandler | undefined;
  private leaseSettings: ((host: string) => Promise<AgentHomeLeases>) | undefined;
  /** Changes for a link whose full desired set is still being read: sent right after it, so it never overtakes them. */
  private readonly heldUntilFullSet = new WeakMap<WebSocket, ControllerMessage[]>();
  private readonly linkAddresses = new WeakMap<WebSocket, LinkAddresses>();
  private readonly hopCapable = new WeakSet<WebSocket>();
  /** Links whose agent said it is joining the lockspace: logged once per link, however long sanlock holds it out. */
  private readonly joiningLogged = new WeakSet<WebSocket>();

  constructor(private readonly db: Store, private readonly join: AgentJoin, private readonly log: Logger, private readonly onChange: (host: string) => void) {}

  attachVms(channel: AgentVmChannel): void {
    this.vms = channel;
  }

  attachStreams(hooks: StreamLinkHooks): void {
    this.streamHooks = hooks;
  }

  /** With home leases on: what each agent's host needs to join the lockspace, sent with its accepted hello. */
  attachLeases(settings: (host: string) => Promise<AgentHomeLeases>): void {
    this.leaseSettings = settings;
  }

  attachDesktops(channel: AgentDesktopChannel): void {
    this.desktops = channel;
  }

  attachImages(handler: ImageFetchHandler): void {
    this.images = handler;
  }

  /** Whether the host's agent has a link to this controller now. */
  isLinked(host: string): boolean {
    return this.live.has(host);
  }

  /** Hosts whose agent had a link to this controller that is gone (closed, or gone silent) and not back. */
  cutOffHosts(): ReadonlySet<string> {
    return this.cutOff;
  }

  /** Hosts whose agent linked but has sent no heartbeat on that link yet: it joins the home leases' lockspace (after an
   *  unclean stop, up to host_dead_seconds) or carries out its first desired set, and has not said what runs there. */
  notReadyHosts(): ReadonlySet<string> {
    return this.notReady;
  }

  /** Called, at once, each time a host's link is lost: 'silent' when it stopped answering (a host cut off or dead, no
   *  FIN), 'closed' when it ended (an agent restarting). */
  onLinkLost(listener: (host: string, how: LinkLoss) => void): void {
    this.lossListeners.push(listener);
  }

  /** Sends to the host's agent; false when it has no link now (the next link's full set carries the change). */
  sendTo(host: string, m: ControllerMessage): boolean {
    const socket = this.live.get(host);
    if (!socket || socket.readyState !== socket.OPEN) return false;
    const held = this.heldUntilFullSet.get(socket);
    if (held) held.push(m);
    else socket.send(controllerMessageEncode(m));
    return true;
  }

  /** At controller start: no link survives a restart, whatever the rows say. */
  async forgetStaleLinks(): Promise<void> {
    await this.db.updateTable('hosts').set({ agent_linked_at: null }).where('agent_linked_at', 'is not', null).execute();
  }

  /** Where the display's native hop of a host's agent dials this controller (`address`: the address its link came in
   *  on) and where from (`peer`: the address the link comes from), when its agent has the hop (its hello says so);
   *  undefined otherwise (its displays go as WebSocket streams). */
  displayHopAddress(host: string): LinkAddresses | undefined {
    const socket = this.live.get(host);
    return socket && this.hopCapable.has(socket) ? this.linkAddresses.get(socket) : undefined;
  }

  /** A new link; `authorization` is the upgrade request's header (Bearer CREDENTIAL); `addresses` the TCP connection's
   *  two ends (an IPv4-mapped IPv6 address as plain IPv4). */
  async accept(socket: WebSocket, authorization: string | undefined, addresses?: { local?: string; remote?: string }): Promise<void> {
    if (addresses?.local && addresses.remote) this.linkAddresses.set(socket, { address: plainIpv4(addresses.local), peer: plainIpv4(addresses.remote) });
    const early: Buffer[] = [];
    // Not yet authenticated: a few frames of the protocol's size at most are held.
    const holdEarly = (data: Buffer) => (early.length < 4 && data.length <= EARLY_FRAME_MAX_BYTES ? early.push(data) : socket.terminate());
    socket.on('message', holdEarly);
    let host: string;
    try {
      requireClusterStore(this.db);
      const credential = /^Bearer (\S+)$/.exec(authorization ?? '')?.[1];
      const found = credential === undefined ? undefined : await this.join.hostOfCredential(credential);
      if (found === undefined) throw new ArdesiaError('AGENT_CREDENTIAL_REFUSED', 'this agent credential is not known to the controller (never joined, or its host was removed)');
      host = found;
    } catch (err) {
      this.refuse(socket, err);
      return;
    }
    const timer = setTimeout(() => this.refuse(socket, new ArdesiaError('AGENT_PROTOCOL_MISMATCH', `agent of ${host} sent no hello within ${HELLO_WITHIN_MS / 1000} s`)), HELLO_WITHIN_MS);
    let accepted = false;
    let queue = Promise.resolve();
    // A link gone silent (a host cut off without a FIN) is closed, so the host is unlinked.
    let silence: NodeJS.Timeout | undefined;
    const heard = () => {
      clearTimeout(silence);
      silence = setTimeout(() => {
        const current = this.live.get(host) === socket;
        // Its streams (displays, consoles) went silent with it: without a FIN they would hang open, frozen.
        if (current) this.streamHooks?.silent(host);
        socket.terminate();
        // Unlinked now, not at the close event: what waits on the host is told at once.
        if (current) void this.linkGone(host, 'silent');
      }, AGENT_SILENT_AFTER_MS);
    };
    const onFrame = (data: Buffer) => {
      if (accepted) heard();
      queue = queue.then(() => this.frame(socket, host, data, accepted)).then((ok) => {
        if (ok === 'accepted') {
          accepted = true;
          clearTimeout(timer);
          heard();
        }
      }, (err) => this.refuse(socket, err));
    };
    socket.off('message', holdEarly);
    socket.on('message', onFrame);
    for (const data of early) onFrame(data);
    socket.on('close', () => {
      clearTimeout(timer);
      clearTimeout(silence);
      if (accepted && this.live.get(host) === socket) void this.linkGone(host, 'closed');
    });
  }

  private async frame(socket: WebSocket, host: string, data: Buffer, accepted: boolean): Promise<'accepted' | 'ok'> {
    const decoded = agentMessageDecode(data);
    if (!decoded.ok) throw new ArdesiaError('AGENT_PROTOCOL_MISMATCH', `agent of ${host} sent ${decoded.problem}`);
    const m: AgentMessage = decoded.message;
    if (m.type === 'hello') {
      if (accepted) return 'ok';
      if (m.protocol !== AGENT_PROTOCOL_VERSION) throw new ArdesiaError('AGENT_PROTOCOL_MISMATCH', `the agent speaks protocol ${m.protocol}, this controller ${AGENT_PROTOCOL_VERSION}`);
      if (m.host !== host) throw new ArdesiaError('AGENT_CREDENTIAL_REFUSED', `the credential is host ${host}'s, the agent says it is ${m.host}`);
      await this.hello(socket, host, m);
      return 'accepted';
    }
    if (!accepted) throw new ArdesiaError('AGENT_PROTOCOL_MISMATCH', `agent of ${host} sent a ${m.type} before its hello`);
    if (m.type === 'vm-observed') {
      await this.vms?.observed(host, m);
      return 'ok';
    }
    if (m.type === 'stream-failed') {
      this.streamHooks?.failed(host, m);
      return 'ok';
    }
    if (m.type === 'vm-event') {
      this.desktops?.vmEvent(host, m);
      return 'ok';
    }
    if (m.type === 'vm-command-result') {
      this.desktops?.commandResult(host, m);
      return 'ok';
    }
    if (m.type === 'image-fetch') {
      if (this.images) this.images(host, m);
      else this.send(socket, { type: 'image-stream', id: m.id, error: { code: 'AGENT_NOT_LINKED', message: 'this controller copies no image versions to hosts' } });
      return 'ok';
    }
    if (m.type === 'joining') {
      // Alive (any frame is), not up: only heartbeats, sent once it joined and is as desired, count it alive.
      if (!this.joiningLogged.has(socket)) {
        this.joiningLogged.add(socket);
        this.log.info({ host, hostId: m.hostId }, `agent of host ${host} is joining the home leases' lockspace as host id ${m.hostId} (after an unclean stop sanlock frees the id only after host_dead_seconds)`);
      }
      return 'ok';
    }
    const row = await this.db.selectFrom('hosts').select('agent_report').where('name', '=', host).executeTakeFirst();
    if (!row) throw new ArdesiaError('AGENT_CREDENTIAL_REFUSED', `host ${host} was removed`);
    const report = { ...(JSON.parse(row.agent_report ?? '{}') as HostAgentReport), load: m.load };
    await this.db.updateTable('hosts').set({ heartbeat_at: dbNowIso(this.db), agent_report: JSON.stringify(report) }).where('name', '=', host).execute();
    this.send(socket, { type: 'ack', seq: m.seq });
    if (this.live.get(host) === socket) this.notReady.delete(host);
    return 'ok';
  }

  private async hello(socket: WebSocket, host: string, m: Extract<AgentMessage, { type: 'hello' }>): Promise<void> {
    const previous = this.live.get(host);
    this.live.set(host, socket);
    this.cutOff.delete(host);
    this.notReady.add(host);
    this.heldUntilFullSet.set(socket, []);
    if (previous && previous !== socket) this.refuse(previous, new ArdesiaError('AGENT_LINK_REPLACED', `a newer link of host ${host}'s agent took over`));
    const { memoryMiB, vcpus, qemuVersion, accel, kvmProbe, storage, displayHop } = m.capacity;
    if (displayHop) this.hopCapable.add(socket);
    // Its storage rides in the stored report (host-repo.ts storageOf), not in the agent's view.
    const report: HostAgentReport & { storage: HostStorage } = { version: m.agentVersion, storage, qemuVersion, accel, kvmProbe, load: null };
    const row = await this.db.selectFrom('hosts').select('state').where('name', '=', host).executeTakeFirst();
    if (!row) throw new ArdesiaError('AGENT_CREDENTIAL_REFUSED', `host ${host} was removed`);
    const now = dbNowIso(this.db);
    await this.db
      .updateTable('hosts')
      // Not its heartbeat: a host is judged alive by heartbeats only, which the agent sends once its host is as desired.
      .set({ memory_mib: memoryMiB, vcpus, agent_report: JSON.stringify(report), agent_linked_at: now, updated_at: now, ...(row.state === 'down' ? { state: 'up' } : {}) })
      .where('name', '=', host)
      .execute();
    const homeLeases = await this.leaseSettings?.(host);
    this.send(socket, { type: 'accepted', protocol: AGENT_PROTOCOL_VERSION, hostId: host, heartbeatEveryMs: AGENT_HEARTBEAT_EVERY_MS, ...(homeLeases ? { homeLeases } : {}) });
    // Level-triggered: every (re)connect starts from the whole desired set, whatever the agent missed.
    if (this.vms) this.send(socket, { type: 'vm-desired', full: true, vms: await this.vms.desiredSet(host) });
    for (const m of this.heldUntilFullSet.get(socket) ?? []) this.send(socket, m);
    this.heldUntilFullSet.delete(socket);
    this.log.info({ host, capacity: m.capacity, agentVersion: m.agentVersion }, `agent of host ${host} linked (${memoryMiB} MiB, ${vcpus} CPUs, ${accel})`);
    this.onChange(host);
  }

  private async linkGone(host: string, how: LinkLoss): Promise<void> {
    this.live.delete(host);
    this.notReady.delete(host);
    this.cutOff.add(host);
    for (const listener of this.lossListeners) listener(host, how);
    try {
      // Unlinked, not down: a closed link is network silence, which alone never makes a host down (host-liveness.ts).
      await this.db.updateTable('hosts').set({ agent_linked_at: null }).where('name', '=', host).execute();
      this.log.warn({ host }, `agent of host ${host} unlinked: suspect once its heartbeats are a minute old, down only once its storage lease has expired`);
      this.onChange(host);
    } catch (err) {
      this.log.warn({ err, host }, 'recording a closed agent link failed');
    }
  }

  /** `host remove`: its credential is gone with its row; its live link ends now. */
  revoke(host: string): void {
    const socket = this.live.get(host);
    this.live.delete(host);
    this.notReady.delete(host);
    if (socket) this.refuse(socket, new ArdesiaError('AGENT_CREDENTIAL_REFUSED', `host ${host} was removed from the cluster`));
  }

  closeAll(): void {
    for (const socket of this.live.values()) socket.close(1001, 'controller stopping');
    this.live.clear();
    this.notReady.clear();
  }

  private send(socket: WebSocket, m: ControllerMessage): void {
    if (socket.readyState === socket.OPEN) socket.send(controllerMessageEncode(m));
  }

  private refuse(socket: WebSocket, err: unknown): void {
    const e = err instanceof ArdesiaError ? err : new ArdesiaError('INTERNAL', 'the controller failed to handle the agent link (see its log)');
    if (!(err instanceof ArdesiaError)) this.log.error({ err }, 'agent link failed');
    else this.log.warn({ code: e.code }, `agent link refused: ${e.message}`);
    this.send(socket, controllerRefusal(e.code, e.message, e.hint));
    socket.close(closeCodeOf(e.code), e.code);
  }
}
