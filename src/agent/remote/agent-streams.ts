// The agent's end of a stream: asked over the link (stream-open), it dials the controller back (pinned TLS, its
// credential and the stream's one-time secret) and pipes that WebSocket to the VM's serial console, its VNC socket, its
// guest channel's socket (a pool desktop's helper) or its SPICE server on this host's loopback. Nothing listens here but
// QEMU's SPICE on loopback.
import { connect, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { WebSocket } from 'ws';
import { AGENT_STREAM_HEADER, AGENT_STREAM_PATH, type ControllerStreamOpen } from '../../contract/agent.js';
import { ArdesiaError } from '../../contract/errors.js';
import { socketConnect } from '../../hypervisor/qemu-socket.js';
import type { VmRuntime } from '../../hypervisor/vm-runtime.js';
import type { AgentState } from './agent-state.js';
import { socketPipe } from '../../lib/ws-pipe.js';
import { pinnedConnect } from './pinned-tls.js';
import { displayHopBinary, hopDial } from '../../gateway/display-hop.js';

/** Output queued towards the controller at most; a stream this far behind is closed (memory stays bounded). */
const STREAM_BACKLOG_MAX_BYTES = 1 << 20;
/** What comes from the controller is input (keys, pointer, RFB requests): a larger frame is none. */
const STREAM_FRAME_MAX_BYTES = 1 << 20;
const HOP_CONNECT_WITHIN_MS = 8_000;

/** A VM's guest-channel stream, ended by a newer one: QEMU's chardev serves one client at a time, and a controller
 *  asking anew is the one leading now (the stream before may hang on a controller gone without a FIN). */
const guestStreams = new Map<string, () => void>();

/** Dials the stream and pipes it to the console or the display; throws (before anything is piped) why it could not. */
export async function streamDial(m: ControllerStreamOpen, runtime: VmRuntime | undefined, controller: URL, state: AgentState, log: Logger): Promise<void> {
  if (!runtime) throw new ArdesiaError('VM_NOT_RUNNING', `vm ${m.vm} does not run on host ${state.host}`);
  if (m.kind === 'guest') guestStreams.get(m.vm)?.();
  // The VM's side first: a socket that does not answer is reported, not dialled.
  const unix =
    m.kind === 'display' ? await unixConnect(runtime.paths.vnc, 'DISPLAY_UNAVAILABLE', 'display')
    : m.kind === 'guest' ? await unixConnect(runtime.paths.guest, 'VM_NOT_RUNNING', 'guest channel')
    : m.kind === 'spice' ? await spiceConnect(runtime)
    : undefined;
  if (m.hop && unix) return hopOpen(m, m.hop.port, unix, controller, state, log);
  const ws = await dial(m, controller, state).catch((err: unknown) => {
    unix?.destroy();
    throw err;
  });
  ws.on('error', (err) => log.warn({ err: err.message, vm: m.vm }, `${m.kind} stream error`));
  ws.on('close', (code, reason) => log.info({ vm: m.vm, code, reason: reason.toString() }, `${m.kind} stream of vm ${m.vm} closed`));
  if (unix) {
    const end = socketPipe(ws, unix);
    if (m.kind === 'guest') {
      guestStreams.set(m.vm, end);
      unix.once('close', () => guestStreams.get(m.vm) === end && guestStreams.delete(m.vm));
    }
  } else consolePipe(ws, runtime, m.replay);
  log.info({ vm: m.vm }, `${m.kind} stream of vm ${m.vm} opened`);
}

/** The display's native hop: TCP to the controller's end at `port` (the address this agent reaches the controller at),
 *  handed with the VNC socket to native/display-hop.c, which checks the pinned certificate before it sends the secret. */
async function hopOpen(m: ControllerStreamOpen, port: number, vnc: Socket, controller: URL, state: AgentState, log: Logger): Promise<void> {
  const binary = displayHopBinary().path;
  const host = controller.hostname.replace(/^\[|\]$/g, '');
  try {
    if (!binary) throw new ArdesiaError('DISPLAY_UNAVAILABLE', `host ${state.host}'s agent has no display hop: ${displayHopBinary().why}`);
    const tcp = await hopConnect(host, port);
    const hop = await hopDial(binary, vnc, tcp, state.fingerprint, m.secret);
    log.info({ vm: m.vm }, `display hop of vm ${m.vm} opened`);
    void hop.ended.then((last) => log.info({ vm: m.vm, ...(last?.kind === 'ended' ? last : {}) }, `display hop of vm ${m.vm} closed`));
  } catch (err) {
    vnc.destroy();
    throw err;
  }
}

/** TCP to the controller's hop end, given up after HOP_CONNECT_WITHIN_MS (its end waits 10 s for the agent). */
function hopConnect(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const timer = setTimeout(() => socket.destroy(new Error(`no answer within ${HOP_CONNECT_WITHIN_MS / 1000} s`)), HOP_CONNECT_WITHIN_MS);
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(new ArdesiaError('DISPLAY_HOP_UNREACHABLE', `the controller's display hop at ${host} port ${port} did not answer: ${err.message}`));
    });
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
  });
}

/** QEMU's SPICE server of the VM, on this host's loopback (vm-plan.ts specOnAgentHost), at the port QEMU says. */
async function spiceConnect(runtime: VmRuntime): Promise<Socket> {
  const info = (await runtime.qmp.execute('query-spice')) as { enabled?: boolean; port?: number };
  if (!info.enabled || !info.port) throw new ArdesiaError('SPICE_NOT_ENABLED', `vm ${runtime.spec.name} runs without a SPICE server on its host's loopback`);
  return socketConnect({ host: '127.0.0.1', port: info.port }, 'DISPLAY_UNAVAILABLE', 'SPICE');
}

function unixConnect(path: string, code: 'DISPLAY_UNAVAILABLE' | 'VM_NOT_RUNNING', what: string): Promise<Socket> {
  return socketConnect({ path }, code, what);
}

/** Dials a stream the controller is waiting for (its id and one-time secret), with this agent's credential. */
export async function dial(m: { id: string; secret: string }, controller: URL, state: AgentState): Promise<WebSocket> {
  const socket = await pinnedConnect(controller, state.fingerprint);
  const url = new URL(AGENT_STREAM_PATH, controller.origin.replace(/^https:/, 'wss:'));
  const ws = new WebSocket(url, {
    createConnection: () => socket,
    headers: { authorization: `Bearer ${state.credential}`, [AGENT_STREAM_HEADER]: `${m.id}.${m.secret}` },
    maxPayload: STREAM_FRAME_MAX_BYTES,
    perMessageDeflate: false,
    // A zero masking key, which ws skips on both ends: RFC 6455's client masking keeps a page's scripted frames from
    // poisoning a proxy's cache; this link is TLS pinned end to end between agent and controller, no proxy reads it,
    // and XOR-ing every display and migration byte twice in JavaScript cost half the hop's CPU (180 → 293 MiB/s here).
    generateMask: (mask: Buffer) => void mask.fill(0),
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return ws;
}

function consolePipe(ws: WebSocket, runtime: VmRuntime, replay: number): void {
  if (replay > 0) ws.send(runtime.console.log.tail(replay));
  const detach = runtime.console.attach({
    write: (data) => {
      if (ws.readyState !== ws.OPEN) return;
      if (ws.bufferedAmount + data.length > STREAM_BACKLOG_MAX_BYTES) return void ws.terminate();
      ws.send(data);
    },
  });
  const onExit = (reason: string) => ws.close(1000, `vm stopped: ${reason}`.slice(0, 120));
  runtime.once('exited', onExit);
  ws.on('message', (data: Buffer) => runtime.console.input(data));
  ws.on('close', () => {
    detach();
    runtime.off('exited', onExit);
  });
}
