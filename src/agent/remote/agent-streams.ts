// The agent's end of a console stream: asked over the link (stream-open), it dials the controller back (pinned TLS, its
// credential and the stream's one-time secret) and pipes that WebSocket to the VM's serial console. Nothing listens here.
import type { Logger } from 'pino';
import { WebSocket } from 'ws';
import { AGENT_STREAM_HEADER, AGENT_STREAM_PATH, type ControllerStreamOpen } from '../../contract/agent.js';
import { ArdesiaError } from '../../contract/errors.js';
import type { VmRuntime } from '../../hypervisor/vm-runtime.js';
import type { AgentState } from './agent-state.js';
import { pinnedConnect } from './pinned-tls.js';

/** Output queued towards the controller at most; a stream this far behind is closed (memory stays bounded). */
const STREAM_BACKLOG_MAX_BYTES = 1 << 20;
/** Keystrokes are small: a larger frame is no console input. */
const STREAM_FRAME_MAX_BYTES = 1 << 20;

/** Dials the stream and pipes it to the console; throws (before anything is piped) why it could not. */
export async function consoleStreamDial(m: ControllerStreamOpen, runtime: VmRuntime | undefined, controller: URL, state: AgentState, log: Logger): Promise<void> {
  if (!runtime) throw new ArdesiaError('VM_NOT_RUNNING', `vm ${m.vm} does not run on host ${state.host}`);
  const socket = await pinnedConnect(controller, state.fingerprint);
  const url = new URL(AGENT_STREAM_PATH, controller.origin.replace(/^https:/, 'wss:'));
  const ws = new WebSocket(url, {
    createConnection: () => socket,
    headers: { authorization: `Bearer ${state.credential}`, [AGENT_STREAM_HEADER]: `${m.id}.${m.secret}` },
    maxPayload: STREAM_FRAME_MAX_BYTES,
    perMessageDeflate: false,
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  ws.on('error', (err) => log.warn({ err: err.message, vm: m.vm }, 'console stream error'));
  if (m.replay > 0) ws.send(runtime.console.log.tail(m.replay));
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
  ws.on('close', (code, reason) => {
    detach();
    runtime.off('exited', onExit);
    log.info({ vm: m.vm, code, reason: reason.toString() }, `console stream of vm ${m.vm} closed`);
  });
  log.info({ vm: m.vm }, `console stream of vm ${m.vm} opened`);
}
