// The HTTP API: routes from data, one access check, one error → status mapping, the console WebSocket.
import websocket from '@fastify/websocket';
import type { IncomingMessage } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { ArdesiaError } from '../contract/errors.js';
import type { Store } from '../store/db.js';
import { principalResolve } from '../auth/principal.js';
import { consoleRoute, registerConsoleRoute } from './console-ws.js';
import { agentLinkRoute, agentStreamRoute, registerAgentLinkRoute } from './agent-link-ws.js';
import { poolRoutes } from './routes-pools.js';
import { timelineRoutes } from './routes-timeline.js';
import { countingQueries } from '../store/query-count.js';
import { hostRoutes } from './routes-hosts.js';
import { eventsRoute, registerEventsRoute } from './events.js';
import { openApiDocument } from './openapi.js';
import { accessLookup, type ErrorLog, forbiddenHint, registerErrorHandlers } from './http-errors.js';
import { type ApiRoute, type AppContext, parseInput, type Principal, urlNameOf, urlParamsSchema } from './route.js';
import { systemRoutes } from './routes-system.js';
import { vmRoutes } from './routes-vm.js';
import { imageRoutes } from './routes-images.js';
import { homeRoutes } from './routes-homes.js';
import { desktopRoutes } from './routes-desktops.js';
import { registerWebApp } from './web-static.js';
import { gatewayRoutes } from './routes-display.js';
import { displaySocketRoute, registerDisplaySocketRoute } from './display-socket.js';
import { userRoutes } from './routes-users.js';
import { directoryRoutes } from './routes-directory.js';
import { mfaRoutes } from './routes-mfa.js';
import { kioskRoutes } from './routes-kiosk.js';
import { thinClientRoutes } from './routes-thinclients.js';
import { registerBootRoutes } from '../netboot/http/boot-routes.js';
import { opsRoutes } from './routes-ops.js';
import { metricsRoutes } from './metrics.js';
import { clientAddress, isTrustedProxy, NO_TRUSTED_PROXIES, originProblem, type TrustedProxies } from './request-guard.js';
import { isUploadStream, uploadBody } from './upload-body.js';
import { nextPageAddress } from '../contract/paging.js';

export const ALL_ROUTES: ApiRoute[] = [...poolRoutes, ...systemRoutes, ...vmRoutes, ...imageRoutes, ...homeRoutes, ...desktopRoutes, ...gatewayRoutes, ...thinClientRoutes, ...userRoutes, ...mfaRoutes, ...kioskRoutes, ...metricsRoutes, ...opsRoutes, ...hostRoutes, ...directoryRoutes, ...timelineRoutes];

export interface ApiOptions {
  app: AppContext;
  store: Store;
  logger: boolean | object;
  /** Where unexpected failures are logged with the reference the client is given. */
  log?: ErrorLog & { debug?(obj: object, msg: string): void };
  /** Peers whose X-Forwarded-For (and X-Forwarded-Host) are believed (serve --trusted-proxy); none by default. */
  trustedProxies?: TrustedProxies;
}

/** Bearer token (root, a user's login token, a vm-owner token) or the browser session cookie; undefined = anonymous. */
export async function principalOf(store: Store, req: FastifyRequest): Promise<Principal | undefined> {
  return principalResolve(store, { authorization: req.headers.authorization, cookie: req.headers.cookie });
}

/** The client's address ('local' over the unix socket); X-Forwarded-For counts only from a trusted proxy. */
export const addressOf = (req: Pick<IncomingMessage, 'socket' | 'headers'>, trusted: TrustedProxies): string =>
  clientAddress(req.socket.remoteAddress, req.headers['x-forwarded-for'], trusted);

/** Throws ORIGIN_REFUSED when another site's page would act with the session cookie (see request-guard.ts). */
export function originCheck(req: Pick<IncomingMessage, 'socket' | 'headers' | 'method'>, trusted: TrustedProxies): void {
  const problem = originProblem({
    method: req.method ?? 'GET',
    headers: req.headers,
    upgrade: req.headers.upgrade?.toLowerCase() === 'websocket',
    viaTrustedProxy: req.socket.remoteAddress !== undefined && isTrustedProxy(req.socket.remoteAddress, trusted),
  });
  if (problem) throw new ArdesiaError('ORIGIN_REFUSED', problem);
}

/** Throws unless the principal may use the route (for VM routes, on the VM named in the URL). */
export async function authorize(app: AppContext, route: ApiRoute, who: Principal | undefined, vmName?: string): Promise<void> {
  if (route.access === 'public') return;
  if (who === undefined) throw new ArdesiaError('UNAUTHENTICATED', 'log in, or send a valid API token');
  if (who.kiosk && !route.kiosk) throw new ArdesiaError('KIOSK_SESSION_LIMITED', `the kiosk session of thin client ${who.kiosk.mac} may not ${route.summary.toLowerCase()}`);
  if (who.mfaEnrolmentRequired && !route.mfaEnrolment) throw new ArdesiaError('MFA_ENROLMENT_REQUIRED', `${who.name} must set up two-factor sign-in first`);
  if (who.admin || route.access === 'authenticated') return;
  const hint = forbiddenHint(route.access);
  if (route.access === 'admin') throw new ArdesiaError('FORBIDDEN', `only an administrator may ${route.summary.toLowerCase()}`, undefined, hint);
  const vm = await app.vms.get(vmName ?? '').catch(() => undefined);
  if (!vm) {
    if (route.access === 'vm-owner-or-new') throw new ArdesiaError('FORBIDDEN', 'only an administrator may create VMs', undefined, hint);
    throw new ArdesiaError('VM_NOT_FOUND', `vm ${vmName} is not defined`);
  }
  if (!app.mayOperate(who, vm.spec)) throw new ArdesiaError('FORBIDDEN', `vm ${vmName} is not yours (owner: ${vm.owner ?? 'root'})`, undefined, hint);
}

export async function buildApi(opts: ApiOptions): Promise<FastifyInstance> {
  const server = Fastify({ logger: opts.logger, bodyLimit: 1 << 20 });
  const trusted = opts.trustedProxies ?? NO_TRUSTED_PROXIES;
  // Bodies are JSON only: text/plain is what a cross-site form or a no-CORS fetch can send.
  server.removeContentTypeParser(['text/plain']);
  // Bytes only where a route takes an upload (vm receive), as a stream its handler reads; anywhere else refused.
  const uploads = new Set(ALL_ROUTES.filter((r) => r.upload).map((r) => `${r.method} ${r.url}`));
  for (const type of new Set(ALL_ROUTES.flatMap((r) => (r.upload ? [r.upload] : [])))) {
    server.addContentTypeParser(type, (req, payload, done) => {
      if (uploads.has(`${req.method} ${req.routeOptions.url}`)) done(null, payload);
      else done(new ArdesiaError('BAD_REQUEST', `this route takes no ${type} body: send JSON`), undefined);
    });
  }
  server.addHook('onRequest', async (req) => originCheck(req.raw, trusted));
  // The display socket's upgrades are the gateway's own (its handshake, then the relay); the others go to @fastify/websocket.
  const otherUpgrades = registerDisplaySocketRoute(server, opts);
  await server.register(websocket, { options: { server: otherUpgrades } });

  registerErrorHandlers(server, accessLookup([...ALL_ROUTES, consoleRoute, displaySocketRoute, eventsRoute, agentLinkRoute, agentStreamRoute]), opts.log);

  for (const route of ALL_ROUTES) {
    const paramsSchema = route.params ?? urlParamsSchema(route.url);
    server.route({
      method: route.method,
      url: route.url,
      // Each request's store queries are counted and logged (debug): lists must not grow a query per row (test/api/list-queries).
      handler: async (req, reply) => countingQueries(() => handleRoute(req, reply), (queries) => opts.log?.debug?.({ route: `${route.method} ${route.url}`, queries }, 'store queries of a request')),
    });
    async function handleRoute(req: FastifyRequest, reply: FastifyReply): Promise<unknown> {
      if (!route.upload || !isUploadStream(req.body)) return handleParsed(req, reply, req.body);
      const upload = uploadBody(req.body);
      try {
        return await handleParsed(req, reply, upload.stream);
      } catch (err) {
        await upload.drain();
        throw err;
      }
    }
    async function handleParsed(req: FastifyRequest, reply: FastifyReply, rawBody: unknown): Promise<unknown> {
      const receivedAt = Date.now();
      const who = await principalOf(opts.store, req);
      // Authorization first: an anonymous caller learns nothing about valid names from validation errors.
      await authorize(opts.app, route, who, urlNameOf(req.params));
      const authenticatedAt = Date.now();
      // The one parse of each part, with the route's own schemas: handlers declared by defineRoute are typed by them.
      const params = parseInput(paramsSchema, req.params, 'params');
      if (route.upload && !(req.headers['content-type'] ?? '').startsWith(route.upload)) throw new ArdesiaError('BAD_REQUEST', `this route takes an upload: send ${route.upload}`);
      const body = route.body ? parseInput(route.body, rawBody, 'body') : rawBody;
      const query = route.query ? parseInput(route.query, req.query, 'query') : req.query;
      const cookies: string[] = [];
      let next: string | undefined;
      const result = await route.handler({
        app: opts.app,
        principal: who?.name,
        who,
        address: addressOf(req.raw, trusted),
        secure: req.protocol === 'https',
        userAgent: req.headers['user-agent'],
        received: { at: receivedAt, authenticatedAt },
        setCookie: (cookie) => cookies.push(cookie),
        nextPage: (after) => (next = nextPageAddress(req.url, after)),
        params,
        body,
        query,
      });
      if (cookies.length) reply.header('set-cookie', cookies);
      if (next !== undefined) reply.header('link', `<${next}>; rel="next"`);
      reply.status(route.status ?? 200);
      if (route.raw) return reply.type(route.contentType ?? 'text/plain; charset=utf-8').send(result);
      return result;
    }
  }
  server.get('/v1/openapi.json', async () => openApiDocument([...ALL_ROUTES, consoleRoute, displaySocketRoute, eventsRoute, agentLinkRoute, agentStreamRoute]));
  registerConsoleRoute(server, opts);
  registerAgentLinkRoute(server, opts);
  registerEventsRoute(server, opts, opts.app.events);
  registerWebApp(server);
  registerBootRoutes(server, opts.app.thinClients, opts.app.thinClients.log, opts.app.tls.https !== undefined);
  return server;
}
