// Streams to a VM on an agent's host: the controller asks the agent over its link to open one (an id and a one-time
// secret), the agent dials back a WebSocket to AGENT_STREAM_PATH with its credential and both, and the controller hands
// that socket to whoever asked (the console route, the display socket), which splices it to the user's. Nothing
// listens on the agent's host.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createWebSocketStream, type WebSocket } from 'ws';
import { AGENT_STREAM_HEADER, type AgentMessage, type ControllerStreamOpen, streamHeaderParse } from '../contract/agent.js';
import { ArdesiaError, ERROR_REGISTRY } from '../contract/errors.js';
import type { AgentJoin } from './agent-join.js';
import type { AgentLinks, LinkAddresses } from './agent-links.js';
import { hopListen } from '../gateway/display-hop.js';

/** How long the agent has to dial a stream back; its secret is dead after that. */
export const STREAM_DIAL_WITHIN_MS = 10_000;
/** After an agent could not reach the display hop's port, its host's displays go as WebSocket streams this long. */
export const HOP_RETRY_AFTER_MS = 10 * 60_000;

/** A stream asked for and not yet dialled. */
export interface PendingStream {
  host: string;
  vm: string;
  secretSha256: Buffer;
  expiresAt: number;
}

/** Pure: why a dial with this secret from this host may not claim the pending stream, or undefined when it may. */
export function streamClaimProblem(pending: PendingStream | undefined, host: string, secret: string, now: number): string | undefined {
  if (!pending) return 'no such stream is waiting (never asked for, or already used)';
  if (now > pending.expiresAt) return 'the stream was not dialled in time';
  if (pending.host !== host) return `the stream is for host ${pending.host}'s agent, not ${host}'s`;
  if (!timingSafeEqual(sha256(secret), pending.secretSha256)) return 'the stream secret is wrong';
  return undefined;
}

const sha256 = (text: string): Buffer => createHash('sha256').update(text).digest();
const closeCodeOf = (code: keyof typeof ERROR_REGISTRY) => 4000 + (ERROR_REGISTRY[code].status % 1000);

export type StreamKind = ControllerStreamOpen['kind'];

/** What a handed-over stream is to its taker: a WebSocket the agent dialled, or the display's native hop. */
export interface StreamHandle {
  terminate(): void;
}

/** The controller's end of the display's native hop: its program, and the certificate and key (PEM) the agents pin. */
export interface DisplayHopConfig {
  binary: string;
  identityPem: Buffer;
}

/** A stream handed over, and what its taker does when its host is declared out of reach. */
interface Handed {
  host: string;
  unreachable?: (err: ArdesiaError) => void;
}

interface Waiting extends PendingStream {
  resolve(socket: WebSocket): void;
  reject(err: ArdesiaError): void;
}

export class AgentStreams {
  private readonly waiting = new Map<string, Waiting>();
  private readonly handed = new Map<StreamHandle, Handed>();
  /** Native hops asked for and not yet claimed: an agent's stream-failed for one ends its wait. */
  private readonly hopsWaiting = new Map<string, { host: string; vm: string; fail(err: ArdesiaError): void }>();
  private hop: DisplayHopConfig | undefined;
  /** Hosts whose agent could not reach the hop's port lately, and when. */
  private readonly hopUnreachableAt = new Map<string, number>();

  constructor(private readonly links: AgentLinks, private readonly join: AgentJoin, private readonly log: Logger, private readonly now: () => number = Date.now) {
    links.attachStreams({ failed: (host, m) => this.failed(host, m), silent: (host) => this.hostUnreachable(host) });
  }

  /** The taker's ending for a handed-over stream whose host goes out of reach (the display's close says why); returns
   *  the unregistration. Without one, the stream is only cut. */
  onUnreachable(socket: StreamHandle, unreachable: (err: ArdesiaError) => void): () => void {
    const handed = this.handed.get(socket);
    if (handed) handed.unreachable = unreachable;
    return () => void delete handed?.unreachable;
  }

  /** The host's link was declared silent: its streams are as silent, and would hang open (no FIN comes from a host cut
   *  off), so their takers are told and the sockets cut. */
  hostUnreachable(host: string): void {
    const streams = [...this.handed].filter(([, h]) => h.host === host);
    if (streams.length === 0) return;
    this.log.warn({ host, streams: streams.length }, `host ${host}'s link went silent: its ${streams.length} stream(s) are closed`);
    const err = new ArdesiaError('AGENT_NOT_LINKED', `host ${host} cannot be reached from the controller now; what runs there may run on`);
    for (const [socket, h] of streams) {
      this.handed.delete(socket);
      h.unreachable?.(err);
      socket.terminate();
    }
  }

  /** Displays to agents that have the native hop go over it (daemon.ts: with --listen HTTPS and the program built). */
  useDisplayHop(config: DisplayHopConfig): void {
    this.hop = config;
  }

  /** The VM's display on the host: over the native hop when both ends have it (no byte through this event loop), else
   *  as a WebSocket stream. `vnc` is what the display pipe takes as the VNC socket; `handle` ends it. */
  async openDisplay(host: string, vm: string): Promise<{ vnc: Socket | Duplex; handle: StreamHandle; via: 'hop' | 'stream' }> {
    const address = this.hop ? this.links.displayHopAddress(host) : undefined;
    const hopBroken = (this.hopUnreachableAt.get(host) ?? -Infinity) > this.now() - HOP_RETRY_AFTER_MS;
    if (this.hop && address !== undefined && !hopBroken) {
      try {
        return await this.openHop(this.hop, address, host, vm);
      } catch (err) {
        // A network between the hosts that lets the link through and not the hop's port: the display still opens.
        if (!(err instanceof ArdesiaError) || err.code !== 'DISPLAY_HOP_UNREACHABLE') throw err;
        this.hopUnreachableAt.set(host, this.now());
        this.log.warn({ host, vm, err: err.message, hint: ERROR_REGISTRY.DISPLAY_HOP_UNREACHABLE.hint }, `host ${host}'s agent cannot reach this controller's display hop: its displays go as WebSocket streams for ${HOP_RETRY_AFTER_MS / 60_000} min`);
      }
    }
    const ws = await this.open(host, vm, 'display');
    return { vnc: createWebSocketStream(ws), handle: ws, via: 'stream' };
  }

  private async openHop(config: DisplayHopConfig, at: LinkAddresses, host: string, vm: string): Promise<{ vnc: Socket; handle: StreamHandle; via: 'hop' }> {
    const id = randomBytes(12).toString('base64url');
    const secret = randomBytes(32).toString('base64url');
    const hop = await hopListen(config.binary, at, config.identityPem, secret, (why) => this.log.warn({ host, vm, why }, `display hop of vm ${vm}: a connection was refused: ${why}`));
    const failed = new Promise<never>((_, reject) => this.hopsWaiting.set(id, { host, vm, fail: reject }));
    try {
      if (!this.links.sendTo(host, { type: 'stream-open', id, secret, vm, kind: 'display', replay: 0, hop: { port: hop.port } })) {
        throw new ArdesiaError('AGENT_NOT_LINKED', `host ${host}'s agent is not connected to this controller: the display of vm ${vm} cannot be reached now`);
      }
      await Promise.race([hop.claimed, failed]);
    } catch (err) {
      hop.terminate();
      throw err;
    } finally {
      this.hopsWaiting.delete(id);
    }
    this.handed.set(hop, { host });
    void hop.ended.then(() => this.handed.delete(hop));
    return { vnc: hop.plain, handle: hop, via: 'hop' };
  }

  /** Asks the host's agent for a stream to the VM's serial console or display; resolves with the agent's socket once it
   * dialled, paused: the caller resumes it once it listens. */
  open(host: string, vm: string, kind: StreamKind, replay = 0): Promise<WebSocket> {
    const { id, secret, socket } = this.expect(host, vm, kind);
    if (!this.links.sendTo(host, { type: 'stream-open', id, secret, vm, kind, replay })) {
      this.waiting.get(id)?.reject(new ArdesiaError('AGENT_NOT_LINKED', `host ${host}'s agent is not connected to this controller: the ${kind} of vm ${vm} cannot be reached now`));
    }
    return socket;
  }

  /** A stream the caller asks for in its own message (a migration's vm-command carries the id and secret): the socket
   *  once the host's agent dialled it, paused, within `withinMs`. */
  expect(host: string, vm: string, kind: string, withinMs = STREAM_DIAL_WITHIN_MS): { id: string; secret: string; socket: Promise<WebSocket> } {
    const id = randomBytes(12).toString('base64url');
    const secret = randomBytes(32).toString('base64url');
    const socket = new Promise<WebSocket>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new ArdesiaError('AGENT_STREAM_TIMEOUT', `host ${host}'s agent did not dial the ${kind} stream of vm ${vm} within ${Math.round(withinMs / 1000)} s`));
      }, withinMs);
      const done = () => {
        clearTimeout(timer);
        this.waiting.delete(id);
      };
      this.waiting.set(id, {
        host,
        vm,
        secretSha256: sha256(secret),
        expiresAt: this.now() + withinMs,
        resolve: (ws) => (done(), resolve(ws)),
        reject: (err) => (done(), reject(err)),
      });
    });
    socket.catch(() => undefined); // the caller may end before it awaits (its command failed first)
    return { id, secret, socket };
  }

  /** Ends a stream still waiting for its dial (the caller gave up): a late dial is refused. */
  cancel(id: string, why: string): void {
    const pending = this.waiting.get(id);
    pending?.reject(new ArdesiaError('AGENT_STREAM_REFUSED', `the stream to vm ${pending.vm} is no longer wanted: ${why}`));
  }

  /** A dialled stream (the upgrade's Authorization and stream headers): handed over, or closed with the reason. */
  async accept(socket: WebSocket, authorization: string | undefined, streamHeader: string | undefined): Promise<void> {
    const refuse = (why: string) => {
      this.log.warn({ why }, `agent stream refused: ${why}`);
      socket.resume(); // to read the agent's answer to the close
      socket.close(closeCodeOf('AGENT_STREAM_REFUSED'), `AGENT_STREAM_REFUSED ${why}`.slice(0, 120));
    };
    // Paused until the taker has its listeners on (it resumes): the agent sends its replay as soon as it is connected.
    socket.pause();
    const claim = streamHeaderParse(streamHeader);
    const credential = /^Bearer (\S+)$/.exec(authorization ?? '')?.[1];
    const host = credential === undefined ? undefined : await this.join.hostOfCredential(credential);
    if (host === undefined) return refuse('the agent credential is not known to this controller');
    if (!claim) return refuse(`the ${AGENT_STREAM_HEADER} header is missing or malformed`);
    const pending = this.waiting.get(claim.id);
    const problem = streamClaimProblem(pending, host, claim.secret, this.now());
    // Single use: the first dial with an id ends its wait (resolved or rejected), whether it is accepted or not.
    if (problem) {
      pending?.reject(new ArdesiaError('AGENT_STREAM_REFUSED', `the stream to vm ${pending.vm} was refused: ${problem}`));
      return refuse(problem);
    }
    this.handed.set(socket, { host });
    socket.once('close', () => this.handed.delete(socket));
    pending!.resolve(socket);
  }

  private failed(host: string, m: Extract<AgentMessage, { type: 'stream-failed' }>): void {
    const hop = this.hopsWaiting.get(m.id);
    if (hop?.host === host) return hop.fail(new ArdesiaError(m.code, `host ${host}'s agent could not open the display hop to vm ${hop.vm}: ${m.message}`));
    const pending = this.waiting.get(m.id);
    if (pending?.host !== host) return; // another host cannot fail this one's stream
    pending.reject(new ArdesiaError(m.code, `host ${host}'s agent could not open the stream to vm ${pending.vm}: ${m.message}`));
  }
}
