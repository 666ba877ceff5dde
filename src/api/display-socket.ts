// GET /v1/display/socket?ticket=… : the browser's WebSocket, piped to the desktop VM's VNC unix socket.
// The gateway owns this upgrade: it takes the raw socket from the HTTP server's 'upgrade' event before any
// WebSocket library does, checks the ticket, answers the handshake itself (upgrade.ts) and hands the socket
// to the native relay or the Node pipe (proxy.ts). The ticket is redeemed against the principal of this
// very request (cookie or token), so a ticket leaked to someone else opens nothing.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { z } from 'zod';
import { principalResolve } from '../auth/principal.js';
import { DISPLAY_CLOSE_CODE, DISPLAY_END_REASON } from '../contract/display.js';
import { ArdesiaError } from '../contract/errors.js';
import type { ApiRoute } from './route.js';
import { addressOf, type ApiOptions, originCheck } from './server.js';
import { NO_TRUSTED_PROXIES } from './request-guard.js';
import type { Principal } from '../contract/users.js';
import { errorForClient } from './http-errors.js';
import { type DisplayPipe, pipeDisplay } from '../gateway/proxy.js';
import { RfbInputMeter } from '../gateway/rfb-input.js';
import { displayTicketsOf } from '../gateway/tickets.js';
import { upgradeAnswer, upgradeCheck, upgradeCloseNow, upgradeRefuseHttp } from '../gateway/upgrade.js';
import type { StreamHandle } from '../cluster/agent-streams.js';

const SocketQuery = z.object({
  ticket: z.string().min(1).max(128),
  /** The kiosk's MAC, when the portal runs on a thin client. */
  thinClient: z.string().regex(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i).optional(),
});
const VNC_CONNECT_TIMEOUT_MS = 5_000;
const DISPLAY_PATH = '/v1/display/socket';
/** User activity is reported at most this often per connection: this is the hot path of every keystroke. */
const ACTIVITY_EVERY_MS = 1_000;

const notAnUpgrade = (): never => {
  throw new ArdesiaError('BAD_REQUEST', 'the display is a WebSocket: connect with an Upgrade request and ?ticket=');
};

export const displaySocketRoute: ApiRoute = {
  method: 'GET',
  url: DISPLAY_PATH,
  summary: 'The desktop display as a WebSocket (RFB, subprotocol "binary"), opened with a display ticket',
  access: 'public',
  stream: 'websocket' as const,
  query: SocketQuery,
  handler: async () => notAnUpgrade(),
};

function connectVnc(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    const fail = (err: Error) => {
      socket.destroy();
      reject(new ArdesiaError('DISPLAY_UNAVAILABLE', `the display socket did not answer: ${err.message}`));
    };
    socket.setTimeout(VNC_CONNECT_TIMEOUT_MS, () => fail(new Error('timed out')));
    socket.once('error', fail);
    socket.once('connect', () => {
      socket.setTimeout(0);
      socket.off('error', fail);
      resolve(socket);
    });
  });
}

async function openDisplay(opts: ApiOptions, req: IncomingMessage): Promise<{ desktop: string; vnc: Socket | Duplex; agentStream?: StreamHandle; thinClient?: string; who: Principal }> {
  originCheck(req, opts.trustedProxies ?? NO_TRUSTED_PROXIES);
  const query = Object.fromEntries(new URL(req.url!, 'http://display').searchParams);
  const parsed = SocketQuery.safeParse(query);
  if (!parsed.success) throw new ArdesiaError('BAD_REQUEST', 'open the display with ?ticket= from POST /v1/desktops/NAME/display');
  const who = await principalResolve(opts.store, { authorization: req.headers.authorization, cookie: req.headers.cookie });
  const { desktop } = displayTicketsOf(opts.app.display).redeem(parsed.data.ticket, who);
  // Checked again: the desktop may have been stopped or reassigned since the ticket was issued.
  const { vm } = await opts.app.display.access(who!, desktop);
  const runtime = opts.app.vms.runtimeOf(vm);
  const common = { desktop, thinClient: parsed.data.thinClient, who: who! };
  if (runtime) return { ...common, vnc: await connectVnc(runtime.paths.vnc) };
  // A VM on an agent's host: the native hop (or a stream its agent dials back) to its VNC socket, piped here as the
  // VNC socket would be.
  const host = await opts.app.vms.remoteHostOf(vm);
  if (host === undefined) throw new ArdesiaError('VM_NOT_RUNNING', `vm ${vm} is not running`);
  const { vnc, handle } = await opts.app.agents.streams.openDisplay(host, vm);
  return { ...common, vnc, agentStream: handle };
}

/** The close for a refused display: 4000 + the HTTP status's last three digits and "CODE message" (never the raw error). */
function refusal(err: unknown, log: FastifyBaseLogger): { code: number; reason: string } {
  const e = errorForClient(err, displaySocketRoute.access, log, 'display socket');
  return { code: 4000 + (e.status % 1000), reason: `${e.code} ${e.message}` };
}

async function displayUpgrade(opts: ApiOptions, log: FastifyBaseLogger, pipes: Set<DisplayPipe>, req: IncomingMessage, socket: Socket, head: Buffer): Promise<void> {
  socket.on('error', () => socket.destroy()); // until a pipe owns it
  const problem = upgradeCheck(req);
  if (problem) return upgradeRefuseHttp(socket, 400, new ArdesiaError('BAD_REQUEST', problem).toBody());
  // The browser sends nothing before our 101, so the ticket is checked before answering.
  const opened = await openDisplay(opts, req).then(
    (display) => ({ display }),
    (err: unknown) => ({ refused: refusal(err, log) }),
  );
  const vnc = 'display' in opened ? opened.display.vnc : undefined;
  if (socket.destroyed) return void vnc?.destroy(); // the browser left while we were checking
  try {
    await upgradeAnswer(socket, req);
  } catch {
    vnc?.destroy();
    return void socket.destroy();
  }
  if ('refused' in opened) return upgradeCloseNow(socket, head, opened.refused.code, opened.refused.reason);
  const { desktop, thinClient, who, agentStream } = opened.display;
  socket.removeAllListeners('error');
  const client = { address: addressOf(req, opts.trustedProxies ?? NO_TRUSTED_PROXIES), ...(thinClient ? { thinClient } : {}) };
  opts.app.display.clientConnected(desktop, client);
  // Only a person's input is activity: noVNC asks for screen updates all the time, input or not.
  const inputMeter = new RfbInputMeter();
  let lastActivity = 0;
  let unregister: (() => void) | undefined;
  let unregisterLive: (() => void) | undefined;
  let unregisterUnreachable: (() => void) | undefined;
  let ended = false;
  const pipe = pipeDisplay(socket, head, vnc!, {
    onInput: (data) => {
      if (!inputMeter.feed(data)) return;
      const now = Date.now();
      if (now - lastActivity < ACTIVITY_EVERY_MS) return;
      lastActivity = now;
      opts.app.display.clientActivity?.(desktop);
    },
    onFirstFrame: () => opts.app.display.firstFrame?.(desktop),
    onEnd: (totals) => {
      ended = true; // a desktop that closes at once ends the pipe before the registrations below
      pipes.delete(pipe);
      unregister?.();
      unregisterLive?.();
      unregisterUnreachable?.();
      opts.app.display.clientDisconnected(desktop);
      log.info({ desktop, ...client, ...totals }, 'display connection ended');
    },
  });
  if (ended) return;
  pipes.add(pipe);
  // Disabled, deleted, password changed or token revoked: the display closes at once (as a logoff: the portal does not reconnect).
  unregisterLive = opts.app.users.connections.add(who, () => pipe.close(DISPLAY_CLOSE_CODE['logged-off'], 'LOGGED_OFF signed out: your credentials ended'));
  // The code says why (contract/display.ts): the portal reconnects after a drop, never after these.
  unregister = opts.app.display.onDisconnectRequest?.(desktop, (end) => pipe.close(DISPLAY_CLOSE_CODE[end], DISPLAY_END_REASON[end]));
  // Its host cut off: the page is told so at once (it reconnects when the host is back), not left on a frozen screen.
  if (agentStream) {
    unregisterUnreachable = opts.app.agents.streams.onUnreachable(agentStream, (err) => {
      const closing = refusal(err, log);
      pipe.close(closing.code, closing.reason.slice(0, 120));
    });
  }
}

function pathOf(req: IncomingMessage): string {
  try {
    return new URL(req.url ?? '/', 'http://display').pathname;
  } catch {
    return '';
  }
}

/**
 * Takes the display socket's upgrades from Fastify's HTTP server and serves the plain GET (a clear
 * refusal). Returns a server that never listens and carries every other upgrade: give it to
 * @fastify/websocket as `options.server`, so that it listens there instead of on the real server.
 */
export function registerDisplaySocketRoute(server: FastifyInstance, opts: ApiOptions): Server {
  const otherUpgrades = createServer();
  const pipes = new Set<DisplayPipe>();
  server.server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    if (pathOf(req) !== DISPLAY_PATH) return void otherUpgrades.emit('upgrade', req, socket, head);
    displayUpgrade(opts, server.log, pipes, req, socket, head).catch((err: unknown) => {
      server.log.error({ err }, 'display upgrade failed');
      socket.destroy();
    });
  });
  server.get(DISPLAY_PATH, async () => notAnUpgrade());
  server.addHook('preClose', (done) => {
    for (const pipe of pipes) pipe.close(1001, 'the server is shutting down');
    done();
  });
  return otherUpgrades;
}
