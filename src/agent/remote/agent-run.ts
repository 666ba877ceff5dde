// `ardesia agent`: joins once with a token (pinned TLS, then its own credential), then keeps one dial-out WSS link to
// the controller: hello with its capacity, heartbeats, reconnect with capped jittered backoff. Nothing listens here.
// Over the link it gets its host's desired VMs and drives them (agent-vms.ts), reporting what it observes, and is asked
// for console and display streams, which it dials back (agent-streams.ts).
import { request } from 'node:https';
import { freemem, loadavg } from 'node:os';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { WebSocket } from 'ws';
import {
  AGENT_FRAME_MAX_BYTES, AGENT_JOIN_PATH, AGENT_LINK_PATH, AGENT_PROTOCOL_VERSION, type AgentCapacity, AgentJoinReply,
  agentMessageEncode, controllerMessageDecode, joinTokenParse, reconnectDelayMs,
} from '../../contract/agent.js';
import { ArdesiaError, type ErrorBody, isErrorCode } from '../../contract/errors.js';
import { measuredCapacity } from '../../cluster/hosts.js';
import { hostCheck, type HostReport } from '../../hypervisor/host/index.js';
import { dataDirLock } from '../../lib/data-dir-lock.js';
import { vmCommandRun } from './agent-commands.js';
import { isStateStreamCommand, stateStreamRun } from './agent-state-streams.js';
import { isMigrationCommand, migrationCommandRun } from './agent-migration.js';
import { isManagerOp, vmOpRun } from './agent-vm-ops.js';
import { dial, streamDial } from './agent-streams.js';
import { displayHopBinary } from '../../gateway/display-hop.js';
import { ImageFetches } from './image-fetches.js';
import type { HostStorage } from '../../contract/hosts.js';
import { AgentVms } from './agent-vms.js';
import { type AgentState, agentStateRead, agentStateWrite, controllerAfter, controllerCandidates } from './agent-state.js';
import { type FenceClock, fenceDue, fenceReason } from './agent-fence.js';
import { pinnedConnect } from './pinned-tls.js';

export const AGENT_VERSION = '0.1.0';
/** Refusals no retry can cure: the agent stops and says why. */
const FATAL: ReadonlySet<string> = new Set(['AGENT_CREDENTIAL_REFUSED', 'AGENT_CONTROLLER_MISMATCH', 'AGENT_PROTOCOL_MISMATCH', 'AGENT_NEEDS_POSTGRES', 'AGENT_LINK_REPLACED']);

/** How often the agent asks whether --fence-after is due. */
const FENCE_CHECK_EVERY_MS = 1_000;
/** Heartbeats without an ack before the agent drops the link and dials again. */
const ACKS_MISSED_LIMIT = 6;

export interface AgentRunOptions {
  dataDir: string;
  /** --controller (repeatable): the controllers to dial in turn (default: the URL the token names, or the saved ones). */
  controllers?: string[];
  /** --join: the one-time token of `ardesia host add`. */
  joinToken?: string;
  probeTimeoutMs?: number;
  /** --fence-after: with no controller this long, every VM of the host is stopped by force (agent-fence.ts). */
  fenceAfterMs?: number;
  /** --storage: `local` when the host does not mount the shared data folder (image files copied here, local-images.ts). */
  storage?: HostStorage;
  log: Logger;
  signal: AbortSignal;
}

function httpsUrl(text: string): URL {
  const url = new URL(text);
  if (url.protocol !== 'https:') throw new ArdesiaError('BAD_REQUEST', `--controller wants https://HOST:PORT, not ${text}`);
  return url;
}

/** The token's one exchange; the TLS is pinned before the secret is written. */
export async function agentJoin(dataDir: string, token: string, controllers: readonly string[] | undefined, log: Logger): Promise<AgentState> {
  const t = joinTokenParse(token);
  const url = httpsUrl(controllers?.[0] ?? t.url);
  const socket = await pinnedConnect(url, t.fp);
  const body = JSON.stringify({ protocol: AGENT_PROTOCOL_VERSION, host: t.host, id: t.id, secret: t.secret });
  const reply = await postJson(socket, url, AGENT_JOIN_PATH, body);
  const joined = AgentJoinReply.parse(reply);
  const others = (controllers ?? []).slice(1).map((u) => httpsUrl(u).origin);
  const state: AgentState = { controller: url.origin, ...(others.length > 0 ? { controllers: others } : {}), fingerprint: t.fp, host: joined.host, credential: joined.credential };
  agentStateWrite(dataDir, state);
  log.info({ host: state.host, controller: state.controller }, `agent joined the controller ${state.controller} as host ${state.host}`);
  return state;
}

function postJson(socket: TLSSocket, url: URL, path: string, body: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, method: 'POST', createConnection: () => socket, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        socket.destroy();
        let json: unknown;
        try {
          json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          reject(new Error(`the controller answered ${res.statusCode} without JSON`));
          return;
        }
        if ((res.statusCode ?? 500) < 300) resolve(json);
        else reject(errorOf(json as ErrorBody, res.statusCode));
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

function errorOf(body: Partial<ErrorBody> | undefined, status: number | undefined): Error {
  const e = body?.error;
  if (e && isErrorCode(e.code)) return new ArdesiaError(e.code, e.message, undefined, e.hint);
  return new Error(`the controller answered ${status}`);
}

async function capacityMeasure(hostReport: Promise<HostReport>, storage: HostStorage): Promise<AgentCapacity> {
  const report = await hostReport;
  return { ...measuredCapacity(), qemuVersion: report.qemu.version, accel: report.accel, kvmProbe: { ok: report.probe.ok, detail: report.probe.detail.slice(0, 500) }, storage, displayHop: displayHopBinary().path !== undefined };
}

/** Runs until the signal aborts (resolves) or a refusal no retry cures (throws it). */
export async function agentRun(opts: AgentRunOptions): Promise<void> {
  const { log } = opts;
  const state = opts.joinToken !== undefined ? await agentJoin(opts.dataDir, opts.joinToken, opts.controllers, log) : agentStateRead(opts.dataDir);
  if (!state) throw new ArdesiaError('AGENT_NOT_JOINED', `${opts.dataDir} holds no agent credential`);
  // One process per data folder: a second agent (or a serve) there would adopt, and kill as orphans, the same QEMUs.
  const lock = dataDirLock(opts.dataDir, 'ardesia agent');
  try {
    await agentServe(state, opts);
  } finally {
    lock.release();
  }
}

async function agentServe(state: AgentState, opts: AgentRunOptions): Promise<void> {
  const { log } = opts;
  // A standby refuses the link (it answers only who leads): the agent moves on to the next controller.
  const urls = controllerCandidates(state, opts.controllers).map(httpsUrl);
  const hostReport = hostCheck(opts.probeTimeoutMs === undefined ? {} : { probeTimeoutMs: opts.probeTimeoutMs });
  const capacity = await capacityMeasure(hostReport, opts.storage ?? 'shared');
  log.info({ capacity }, `agent of host ${state.host}: ${capacity.memoryMiB} MiB, ${capacity.vcpus} CPUs, ${capacity.accel}, ${capacity.storage === 'local' ? 'storage of its own (image files copied here)' : 'the shared data folder'}`);
  // The daemon's umask: runtime files and logs owner-only unless made otherwise on purpose.
  process.umask(0o077);
  const vms = await AgentVms.open(opts.dataDir, state.host, hostReport, log, capacity.storage);
  // Lost since the start: QEMUs found again are fenced too when no controller answers in time.
  const fence: FenceClock = { fenceAfterMs: opts.fenceAfterMs, lostSinceMs: Date.now(), fenced: false };
  const fenceTimer = opts.fenceAfterMs === undefined ? undefined : setInterval(() => {
    if (!fenceDue(fence, Date.now())) return;
    fence.fenced = true;
    const reason = fenceReason(opts.fenceAfterMs!);
    log.warn({ fenceAfterMs: opts.fenceAfterMs }, `no controller for ${Math.round(opts.fenceAfterMs! / 1000)} s: the agent stops every VM of its host (--fence-after)`);
    void vms.fence(reason).then((names) => log.warn({ vms: names }, `fenced: ${names.length} VM(s) stopped`));
  }, FENCE_CHECK_EVERY_MS);
  try {
    await linkLoop(urls, state, capacity, vms, opts, fence);
  } finally {
    clearInterval(fenceTimer);
    await vms.close();
  }
}

async function linkLoop(urls: URL[], state: AgentState, capacity: AgentCapacity, vms: AgentVms, opts: AgentRunOptions, fence: FenceClock): Promise<void> {
  const { log } = opts;
  let at = 0;
  let attempt = 0;
  while (!opts.signal.aborted) {
    let linked = false;
    let ready = false;
    try {
      await linkOnce(urls[at]!, state, capacity, vms, opts, () => {
        linked = true;
        fence.lostSinceMs = null;
        fence.fenced = false;
      }, () => (ready = true));
    } catch (err) {
      if (err instanceof ArdesiaError && FATAL.has(err.code)) throw err;
      log.warn({ err: (err as Error).message }, 'agent link failed');
    }
    fence.lostSinceMs ??= Date.now();
    if (opts.signal.aborted) break;
    // Only a link that got as far as its heartbeats starts the backoff afresh: one the agent drops at once (its host
    // could not join the lockspace: its sanlock daemon down) would otherwise link again every half second.
    if (ready) attempt = 0;
    at = controllerAfter(urls.length, at, linked);
    const delay = reconnectDelayMs(attempt++, Math.random());
    log.info({ delayMs: delay, attempt }, `agent reconnecting in ${delay} ms`);
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, delay);
      opts.signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
    });
  }
}

/** One link: resolves when it closes, throws the controller's refusal. */
async function linkOnce(url: URL, state: AgentState, capacity: AgentCapacity, vms: AgentVms, opts: AgentRunOptions, onAccepted: () => void, onReady: () => void): Promise<void> {
  const socket = await pinnedConnect(url, state.fingerprint);
  const wsUrl = new URL(AGENT_LINK_PATH, url.origin.replace(/^https:/, 'wss:'));
  const ws = new WebSocket(wsUrl, { createConnection: () => socket, headers: { authorization: `Bearer ${state.credential}` }, maxPayload: AGENT_FRAME_MAX_BYTES, perMessageDeflate: false });
  const { log } = opts;
  return new Promise<void>((resolve, reject) => {
    let beat: NodeJS.Timeout | undefined;
    let joining: NodeJS.Timeout | undefined;
    let refusal: ArdesiaError | undefined;
    let seq = 0;
    let lastAckAt = Date.now();
    // Level-triggered reports: the whole observed set, sent when it differs from the last one this link carried.
    let lastReport = '';
    const report = async () => {
      const text = agentMessageEncode(await vms.observed());
      if (text !== lastReport && ws.readyState === ws.OPEN) {
        ws.send(text);
        lastReport = text;
      }
    };
    const reportSoon = () => void report().catch((err: Error) => log.warn({ err }, 'reporting the VMs failed'));
    let heartbeatEveryMs: number | undefined;
    const imageFetches = new ImageFetches((m) => ws.readyState === ws.OPEN && (ws.send(agentMessageEncode(m)), true), (stream) => dial(stream, url, state));
    const heartbeat = () => {
      // A controller that stopped answering (cut off without a FIN) is left: the next link is dialled.
      if (Date.now() - lastAckAt > ACKS_MISSED_LIMIT * heartbeatEveryMs!) {
        log.warn({ lastAckAt: new Date(lastAckAt).toISOString() }, 'the controller stopped answering heartbeats; reconnecting');
        ws.terminate();
        return;
      }
      if (ws.readyState === ws.OPEN) ws.send(agentMessageEncode({ type: 'heartbeat', seq: seq++, load: { loadAverage1m: loadavg()[0] ?? 0, memoryFreeMiB: Math.floor(freemem() / 1024 / 1024) } }));
      // Level-triggered: a pass at every heartbeat too (a no-op once the host is as desired), then the report.
      void vms.drive().then(reportSoon);
    };
    const beginHeartbeats = () => {
      if (beat !== undefined || heartbeatEveryMs === undefined || ws.readyState !== ws.OPEN || !vms.hostReady) return;
      log.info('agent ready: its host is as the controller wants; heartbeats begin');
      onReady();
      lastAckAt = Date.now();
      heartbeat();
      beat = setInterval(heartbeat, heartbeatEveryMs);
    };
    const onAbort = () => ws.close(1000, 'agent stopping');
    opts.signal.addEventListener('abort', onAbort, { once: true });
    // A guest's reboot or power-off while no link is up is not lost: its session's end shows in the VM's exit, or the
    // guest helper's own message when the desktop's guest channel is dialled again.
    const onGuestEvent = (vm: string, event: 'guest-reset' | 'guest-shutdown') => {
      if (ws.readyState === ws.OPEN) ws.send(agentMessageEncode({ type: 'vm-event', vm, event }));
    };
    vms.on('guest-event', onGuestEvent);
    ws.on('open', () => ws.send(agentMessageEncode({ type: 'hello', protocol: AGENT_PROTOCOL_VERSION, host: state.host, agentVersion: AGENT_VERSION, capacity })));
    ws.on('message', (data: Buffer) => {
      const d = controllerMessageDecode(data);
      if (!d.ok) {
        log.warn({ problem: d.problem }, 'the controller sent a frame this agent does not understand');
        return;
      }
      const m = d.message;
      if (m.type === 'accepted') {
        onAccepted();
        log.info({ host: m.hostId, heartbeatEveryMs: m.heartbeatEveryMs }, `agent linked to ${url.origin} as host ${m.hostId}`);
        heartbeatEveryMs = m.heartbeatEveryMs;
        // What died here is told at once: a join after an unclean stop waits host_dead_seconds, sessions need not.
        void vms.observedStopped().then((stopped) => {
          if (stopped.vms.length > 0 && ws.readyState === ws.OPEN) ws.send(agentMessageEncode(stopped));
        }, (err: Error) => log.warn({ err }, 'reporting the stopped VMs failed'));
        // Before the desired set that follows is carried out (desiredReceive waits for the join).
        // Not joined: no heartbeat may say this host is up; the link is dropped and the join tried again at the next.
        if (m.homeLeases) {
          // The join may take host_dead_seconds: the link says it is alive meanwhile, or the controller closes it as silent.
          const { hostId } = m.homeLeases;
          const since = Date.now();
          joining = setInterval(() => ws.readyState === ws.OPEN && ws.send(agentMessageEncode({ type: 'joining', hostId, waitedMs: Date.now() - since })), m.heartbeatEveryMs);
          void vms.leasesEnable(m.homeLeases).then((joined) => {
            clearInterval(joining);
            if (!joined) ws.close(1000, 'home leases: joining the lockspace failed');
          });
        }
        if (vms.localImages) vms.localImages.fetcher = (path, offset) => imageFetches.fetch(path, offset);
      } else if (m.type === 'vm-desired') {
        // The first full set is carried out (VMs the cluster gave away killed) before the first heartbeat: until then the
        // controller does not see this host up (a host back after being declared down rejoins empty).
        void vms.desiredReceive(m.vms, m.full).then(report).catch((err: Error) => log.warn({ err }, 'reporting the VMs failed')).then(() => m.full && beginHeartbeats());
      } else if (m.type === 'stream-open') {
        streamDial(m, vms.runtimeOf(m.vm), url, state, log).catch((err: Error) => {
          log.warn({ err: err.message, vm: m.vm }, `${m.kind} stream of vm ${m.vm} not opened: ${err.message}`);
          const code = err instanceof ArdesiaError ? err.code : 'AGENT_STREAM_TIMEOUT';
          if (ws.readyState === ws.OPEN) ws.send(agentMessageEncode({ type: 'stream-failed', id: m.id, code, message: err.message.slice(0, 1000) }));
        });
      } else if (m.type === 'vm-command') {
        const command = m.command;
        const running = isMigrationCommand(command)
          ? migrationCommandRun({ ...m, command }, vms, url, state, log)
          : isStateStreamCommand(command)
            ? stateStreamRun({ ...m, command }, vms, url, state, log)
          : isManagerOp(command)
            ? vmOpRun({ ...m, command }, vms.ops)
            : vmCommandRun({ ...m, command }, vms.runtimeOf(m.vm), state.host, vms.sanlock);
        void running.then((result) => {
          if (isManagerOp(command) || isStateStreamCommand(command)) reportSoon(); // a pause or unpause shows in the VM's state at once
          if (ws.readyState === ws.OPEN) ws.send(agentMessageEncode(result));
        });
      } else if (m.type === 'image-stream') {
        imageFetches.answer(m);
      } else if (m.type === 'ack') {
        lastAckAt = Date.now();
      } else if (m.type === 'refused') {
        refusal = new ArdesiaError(m.code, `the controller refused the link: ${m.message}`, undefined, m.hint);
      }
    });
    ws.on('error', (err) => log.warn({ err: err.message }, 'agent link error'));
    ws.on('close', (code, reason) => {
      clearInterval(beat);
      clearInterval(joining);
      if (vms.localImages) vms.localImages.fetcher = undefined;
      imageFetches.linkClosed();
      opts.signal.removeEventListener('abort', onAbort);
      vms.off('guest-event', onGuestEvent);
      if (refusal) reject(refusal);
      else {
        log.warn({ code, reason: reason.toString() }, 'agent link closed');
        resolve();
      }
    });
  });
}
