// The agents' link and streams: WebSockets the agent dials (authenticated by its credential), handed to the cluster's
// AgentLinks and AgentStreams.
import type { FastifyInstance } from 'fastify';
import { AGENT_LINK_PATH, AGENT_STREAM_HEADER, AGENT_STREAM_PATH } from '../contract/agent.js';
import { ArdesiaError } from '../contract/errors.js';
import type { ApiOptions } from './server.js';
import type { ApiRoute } from './route.js';

export const agentLinkRoute: ApiRoute = {
  method: 'GET',
  url: AGENT_LINK_PATH,
  summary: "A remote agent's link to the controller (WebSocket upgrade, Authorization: Bearer AGENT_CREDENTIAL)",
  access: 'public',
  stream: 'websocket' as const,
  handler: async () => {
    throw new ArdesiaError('BAD_REQUEST', 'the agent link is a WebSocket: connect with an Upgrade request');
  },
};

export const agentStreamRoute: ApiRoute = {
  method: 'GET',
  url: AGENT_STREAM_PATH,
  summary: `A stream the controller asked an agent for, dialled back by it (WebSocket upgrade, Authorization: Bearer AGENT_CREDENTIAL, ${AGENT_STREAM_HEADER}: ID.SECRET)`,
  access: 'public',
  stream: 'websocket' as const,
  handler: async () => {
    throw new ArdesiaError('BAD_REQUEST', 'an agent stream is a WebSocket: connect with an Upgrade request');
  },
};

export function registerAgentLinkRoute(server: FastifyInstance, opts: ApiOptions): void {
  server.get(AGENT_LINK_PATH, { websocket: true }, (socket, req) => {
    socket.on('error', () => socket.terminate());
    void opts.app.agents.links.accept(socket, req.headers.authorization, { local: req.socket.localAddress, remote: req.socket.remoteAddress }).catch(() => socket.terminate());
  });
  server.get(AGENT_STREAM_PATH, { websocket: true }, (socket, req) => {
    socket.on('error', () => socket.terminate());
    const header = req.headers[AGENT_STREAM_HEADER];
    void opts.app.agents.streams.accept(socket, req.headers.authorization, typeof header === 'string' ? header : undefined).catch(() => socket.terminate());
  });
}
