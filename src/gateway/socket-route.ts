// GET /v1/display/socket?ticket=… : the browser's WebSocket, piped to the desktop VM's VNC unix socket.
// The ticket is redeemed against the principal of this very request (cookie or token), so a ticket
// leaked to someone else opens nothing.
import { connect, type Socket } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { z } from 'zod';
import { DISPLAY_CLOSE_CODE, DISPLAY_END_REASON } from '../contract/display.js';
import { ArdesiaError } from '../contract/errors.js';
import type { ApiRoute } from '../api/route.js';
import type { ApiOptions } from '../api/server.js';
import { addressOf, principalOf } from '../api/server.js';
import { pipeDisplay } from './proxy.js';
import { RfbInputMeter } from './rfb-input.js';
import { displayTicketsOf } from './tickets.js';

const SocketQuery = z.object({
  ticket: z.string().min(1).max(128),
  /** The kiosk's MAC, when the portal runs on a thin client. */
  thinClient: z.string().regex(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i).optional(),
});
const VNC_CONNECT_TIMEOUT_MS = 5_000;

export const displaySocketRoute: ApiRoute = {
  method: 'GET',
  url: '/v1/display/socket',
  summary: 'The desktop display as a WebSocket (RFB, subprotocol "binary"), opened with a display ticket',
  access: 'public',
  query: SocketQuery,
  handler: async () => {
    throw new ArdesiaError('BAD_REQUEST', 'the display is a WebSocket: connect with an Upgrade request and ?ticket=');
  },
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

async function openDisplay(opts: ApiOptions, req: FastifyRequest): Promise<{ desktop: string; vnc: Socket; thinClient?: string }> {
  const parsed = SocketQuery.safeParse(req.query);
  if (!parsed.success) throw new ArdesiaError('BAD_REQUEST', 'open the display with ?ticket= from POST /v1/desktops/NAME/display');
  const who = await principalOf(opts.store, req);
  const { desktop } = displayTicketsOf(opts.app.display).redeem(parsed.data.ticket, who);
  // Checked again: the desktop may have been stopped or reassigned since the ticket was issued.
  const { vm } = await opts.app.display.access(who!, desktop);
  const runtime = opts.app.vms.runtimeOf(vm);
  if (!runtime) throw new ArdesiaError('VM_NOT_RUNNING', `vm ${vm} is not running`);
  return { desktop, vnc: await connectVnc(runtime.paths.vnc), thinClient: parsed.data.thinClient };
}

/** Closes with 4000 + the HTTP status's last three digits and "CODE message" (at most 123 bytes). */
function refuse(socket: WebSocket, err: unknown): void {
  const e = err instanceof ArdesiaError ? err : new ArdesiaError('INTERNAL', String(err));
  socket.close(4000 + (e.status % 1000), `${e.code} ${e.message}`.slice(0, 120));
  socket.resume(); // paused while the ticket was checked: it must read the client's closing frame, or the close waits 30 s
}

export function registerDisplaySocketRoute(server: FastifyInstance, opts: ApiOptions): void {
  server.get('/v1/display/socket', { websocket: true }, (socket, req) => {
    // Nothing may be lost while the ticket is checked: hold the browser's bytes until the pipe exists.
    socket.pause();
    const early: Buffer[] = [];
    const hold = (data: Buffer) => early.push(data);
    socket.on('message', hold);
    socket.on('error', () => socket.terminate()); // a malformed frame: drop the client, no closing handshake
    openDisplay(opts, req).then(
      ({ desktop, vnc, thinClient }) => {
        socket.off('message', hold);
        if (socket.readyState !== socket.OPEN) {
          vnc.destroy(); // the browser left while we were checking
          return;
        }
        for (const data of early) vnc.write(data);
        const client = { address: addressOf(req), ...(thinClient ? { thinClient } : {}) };
        opts.app.display.clientConnected(desktop, client);
        // The code says why (contract/display.ts): the portal reconnects after a drop, never after these.
        const unregister = opts.app.display.onDisconnectRequest?.(desktop, (end) => socket.close(DISPLAY_CLOSE_CODE[end], DISPLAY_END_REASON[end]));
        // Only a person's input is activity: noVNC asks for screen updates all the time, input or not.
        const inputMeter = new RfbInputMeter();
        for (const data of early) inputMeter.feed(data);
        let lastActivity = 0;
        socket.on('message', (data: Buffer) => {
          if (!inputMeter.feed(data)) return;
          const now = Date.now(); // at most once a second: this is the hot path of every keystroke
          if (now - lastActivity < 1000) return;
          lastActivity = now;
          opts.app.display.clientActivity?.(desktop);
        });
        pipeDisplay(socket, vnc, (totals) => {
          unregister?.();
          opts.app.display.clientDisconnected(desktop);
          req.log.info({ desktop, ...client, ...totals }, 'display connection ended');
        });
        socket.resume();
      },
      (err: unknown) => {
        socket.off('message', hold);
        refuse(socket, err);
      },
    );
  });
}
