// The serial console over a WebSocket: binary frames both ways, recent output replayed on attach.
import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import { z } from 'zod';
import { ArdesiaError } from '../contract/errors.js';
import { errorForClient } from './http-errors.js';
import type { ApiOptions } from './server.js';
import { authorize, principalOf } from './server.js';
import { type ApiRoute, parseInput, urlNameOf } from './route.js';

const ConsoleQuery = z.object({ replay: z.coerce.number().int().min(0).max(65536).default(0) });
/** Output queued for one console client at most; a client this far behind is dropped (memory stays bounded). */
export const CONSOLE_BACKLOG_MAX_BYTES = 1 << 20;
/** Input a client may send before its checks are done (typed at once on open); more is refused, unread. */
export const CONSOLE_EARLY_INPUT_MAX_BYTES = 64 * 1024;
/** The close code of a dropped slow reader: 4000 + CONSOLE_TOO_SLOW's HTTP status. */
const CONSOLE_TOO_SLOW_CLOSE = 4503;

export const consoleRoute: ApiRoute = {
  method: 'GET',
  url: '/v1/vms/:name/console',
  summary: 'Attach to the serial console (WebSocket upgrade)',
  access: 'vm-owner',
  stream: 'websocket' as const,
  query: ConsoleQuery,
  handler: async () => {
    throw new ArdesiaError('BAD_REQUEST', 'the console is a WebSocket: connect with an Upgrade request');
  },
};

export function registerConsoleRoute(server: FastifyInstance, opts: ApiOptions): void {
  server.get('/v1/vms/:name/console', { websocket: true }, async (socket, req) => {
    const name = urlNameOf(req.params) ?? '';
    // Held from the first tick: frames sent on open arrive while the store answers the checks below (at once
    // with SQLite, a network round trip later with PostgreSQL) and would otherwise be lost. Bounded, as the
    // sender is not yet authenticated.
    const early: Buffer[] = [];
    let earlyBytes = 0;
    const holdEarly = (data: Buffer) => {
      earlyBytes += data.length;
      if (earlyBytes > CONSOLE_EARLY_INPUT_MAX_BYTES) socket.terminate();
      else early.push(data);
    };
    socket.on('message', holdEarly);
    const fail = (err: unknown) => {
      const e = errorForClient(err, consoleRoute.access, opts.log, `console of ${name}`);
      // A close reason holds at most 123 bytes: the code, then the start of the message.
      socket.close(4000 + (e.status % 1000), `${e.code} ${e.message}`.slice(0, 120));
    };
    try {
      const principal = await principalOf(opts.store, req);
      await authorize(opts.app, consoleRoute, principal, name);
      const { replay } = parseInput(ConsoleQuery, req.query, 'query');
      const runtime = opts.app.vms.runtimeOf(name);
      if (!runtime) {
        const host = await opts.app.vms.remoteHostOf(name);
        if (host === undefined) throw new ArdesiaError('VM_NOT_RUNNING', `vm ${name} is not running`);
        const agent = await opts.app.agents.streams.open(host, name, 'console', replay);
        socket.off('message', holdEarly);
        opts.app.agents.streams.onUnreachable(agent, (err) => {
          const e = errorForClient(err, consoleRoute.access, opts.log, `console of ${name}`);
          socket.close(4000 + (e.status % 1000), `${e.code} ${e.message}`.slice(0, 120));
        });
        spliceRemote(socket, agent, early.splice(0), opts.app.users.connections.add(principal!, () => socket.close(4401, 'UNAUTHENTICATED your credentials ended')), (backlog) =>
          opts.log?.error({ vm: name, principal: principal?.name, backlog }, `console client of ${name} dropped: it did not read its output`),
        );
        return;
      }
      if (replay > 0) socket.send(runtime.console.log.tail(replay));
      let dropped = false;
      const detach = runtime.console.attach({
        write: (data) => {
          if (dropped) return;
          // A reader that does not read: its backlog would grow with every byte the guest prints.
          if (socket.bufferedAmount + data.length > CONSOLE_BACKLOG_MAX_BYTES) {
            dropped = true;
            detach();
            opts.log?.error({ vm: name, principal: principal?.name, backlog: socket.bufferedAmount }, `console client of ${name} dropped: it did not read its output`);
            socket.close(CONSOLE_TOO_SLOW_CLOSE, 'CONSOLE_TOO_SLOW the client did not read its output');
            socket.terminate(); // the close frame queues behind the backlog: the socket goes now
            return;
          }
          socket.send(data);
        },
      });
      const onExit = (reason: string) => socket.close(1000, `vm stopped: ${reason}`.slice(0, 120));
      runtime.once('exited', onExit);
      const unregisterLive = opts.app.users.connections.add(principal!, () => socket.close(4401, 'UNAUTHENTICATED your credentials ended'));
      socket.off('message', holdEarly);
      for (const data of early.splice(0)) runtime.console.input(data);
      socket.on('message', (data: Buffer) => runtime.console.input(data));
      socket.on('close', () => {
        detach();
        unregisterLive();
        runtime.off('exited', onExit);
      });
    } catch (err) {
      fail(err);
    }
  });
}

/** A close code the other end may be sent as is (1005/1006 and the like are never sent): else 1011. */
const forwardable = (code: number): number => (code === 1000 || (code >= 4000 && code < 5000) ? code : 1011);

/** The console of a VM on an agent's host: the client's socket and the agent's stream, each closing the other. */
function spliceRemote(client: WebSocket, agent: WebSocket, early: Buffer[], unregisterLive: () => void, onDropped: (backlog: number) => void): void {
  if (client.readyState !== client.OPEN) {
    agent.resume();
    agent.close(1000, 'the console client left');
    return unregisterLive();
  }
  for (const data of early) agent.send(data);
  client.on('message', (data: Buffer) => agent.send(data));
  agent.on('message', (data: Buffer) => {
    // A reader that does not read is dropped, as on the controller's own host.
    if (client.bufferedAmount + data.length > CONSOLE_BACKLOG_MAX_BYTES) {
      onDropped(client.bufferedAmount);
      client.close(CONSOLE_TOO_SLOW_CLOSE, 'CONSOLE_TOO_SLOW the client did not read its output');
      client.terminate();
      return void agent.close(1000, 'the console client was dropped');
    }
    client.send(data);
  });
  agent.on('error', () => agent.terminate());
  agent.on('close', (code, reason) => client.close(forwardable(code), reason.toString().slice(0, 120)));
  agent.resume(); // handed over paused, so that its first bytes (the replay) wait for the listener above
  client.on('close', () => {
    unregisterLive();
    agent.close(1000, 'the console client left');
  });
}
