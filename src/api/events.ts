// Live updates for the web console: Server-Sent Events on GET /v1/events. Each event carries the changed
// view; who sees it is decided per subscriber (admins everything, users their own desktops and pools).
import { EventEmitter } from 'node:events';
import type { FastifyInstance } from 'fastify';
import { ArdesiaError } from '../contract/errors.js';
import type { Principal } from './route.js';
import type { ApiOptions } from './server.js';
import { principalOf } from './server.js';

export type LiveEventType = 'desktop' | 'desktop-removed' | 'pool' | 'pool-removed' | 'session' | 'image' | 'operation' | 'thinclient' | 'user' | 'host' | 'host-removed';

export interface LiveEvent {
  type: LiveEventType;
  data: unknown;
  /** Who besides administrators may see it; absent: administrators only. */
  visibleTo?: (who: Principal) => boolean;
}

const HEARTBEAT_MS = 20_000;
export const MAX_SUBSCRIBERS = 1000;

export class EventHub extends EventEmitter<{ event: [LiveEvent] }> {
  constructor() {
    super();
    this.setMaxListeners(MAX_SUBSCRIBERS + 10);
  }

  publish(event: LiveEvent): void {
    this.emit('event', event);
  }
}

export const eventsRoute = {
  method: 'GET' as const,
  url: '/v1/events',
  summary: 'Live updates (Server-Sent Events): desktops, pools, sessions, images, operations, thin clients',
  access: 'authenticated' as const,
  stream: 'sse' as const,
  handler: async () => {
    throw new ArdesiaError('BAD_REQUEST', 'the event stream is read with an EventSource (Accept: text/event-stream)');
  },
};

export function registerEventsRoute(server: FastifyInstance, opts: ApiOptions, hub: EventHub): void {
  server.get('/v1/events', async (req, reply) => {
    const who = await principalOf(opts.store, req);
    if (!who) throw new ArdesiaError('UNAUTHENTICATED', 'log in, or send a valid API token');
    if (hub.listenerCount('event') >= MAX_SUBSCRIBERS) throw new ArdesiaError('EVENTS_FULL', `${MAX_SUBSCRIBERS} live-update streams are open already`);
    reply.hijack();
    const out = reply.raw;
    out.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    out.write(': connected\n\n');
    const onEvent = (event: LiveEvent) => {
      if (!who.admin && !(event.visibleTo?.(who) ?? false)) return;
      out.write(`event: ${event.type}\ndata: ${JSON.stringify(event.data)}\n\n`);
    };
    const heartbeat = setInterval(() => out.write(': ping\n\n'), HEARTBEAT_MS);
    hub.on('event', onEvent);
    const end = () => {
      clearInterval(heartbeat);
      hub.off('event', onEvent);
    };
    // Disabled, deleted, password changed, token revoked: the stream ends at once.
    const unregisterLive = opts.app.users.connections.add(who, () => out.destroy());
    req.raw.once('close', () => {
      end();
      unregisterLive();
    });
    out.once('error', end);
  });
}
