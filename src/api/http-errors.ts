// Every failure of the HTTP API as a registry error: FORBIDDEN hints from the route's access rule, unknown
// routes as NOT_FOUND, Fastify's own request errors as BAD_REQUEST, anything else INTERNAL with a reference
// (the detail goes to the daemon log, never to the client).
import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify';
import { ArdesiaError, type ErrorBody, errorForUser, errorRef } from '../contract/errors.js';
import type { Access } from './route.js';
import { isDeposedError } from '../store/controller-fence.js';

/** Where the detail of an unexpected failure is written (the daemon's pino logger fits). */
export interface ErrorLog {
  error(obj: object, msg: string): void;
}

/** Who may use a route of this access rule, said as what to do. */
export function forbiddenHint(access: Access | undefined): string {
  switch (access) {
    case 'admin':
      return 'Only an administrator may do this: ask one, or log in as a user with the admin role.';
    case 'vm-owner':
      return "Only root, an administrator or the VM's owner (vm.conf `owner`) may do this; ask one of them.";
    case 'vm-owner-or-new':
      return "Only an administrator may create VMs; on an existing VM, its owner (vm.conf `owner`) may too.";
    case 'authenticated':
      return 'You may act on your own account, desktops and sessions only; ask an administrator to do this for you.';
    default:
      return 'You may not do this; ask an administrator.';
  }
}

/** Fastify's own request errors (bad JSON, wrong content type, body too large) in registry terms. */
export function fastifyRequestError(err: Pick<FastifyError, 'code' | 'statusCode' | 'message'>): ArdesiaError | undefined {
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new ArdesiaError('BODY_TOO_LARGE', 'the request body is too large');
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return new ArdesiaError('BODY_NOT_JSON', 'the request body must be JSON (Content-Type: application/json)');
  const status = err.statusCode ?? 0;
  if (err.code?.startsWith('FST_ERR_') && status >= 400 && status < 500) return new ArdesiaError('BAD_REQUEST', err.message);
  if (status === 400) return new ArdesiaError('BAD_REQUEST', err.message);
  return undefined;
}

/** The error a client receives for `err` on a route of `access`; unexpected ones are logged with their reference. */
export function errorForClient(err: unknown, access: Access | undefined, log: ErrorLog | undefined, where: string): ArdesiaError {
  const known = err instanceof ArdesiaError ? err : isDeposedError(err) ? new ArdesiaError('CONTROLLER_DEPOSED', `this controller's term no longer leads: ${(err as Error).message}`) : fastifyRequestError(err as FastifyError);
  if (known) {
    if (known.code === 'FORBIDDEN' && !known.hasOwnHint) return new ArdesiaError('FORBIDDEN', known.message, known.details, forbiddenHint(access));
    return known;
  }
  const ref = errorRef();
  log?.error({ err, ref, where }, `unexpected failure (reference ${ref})`);
  return errorForUser(err, ref);
}

/** Routes declared as data, by method and URL pattern, so the error handler knows each one's access rule. */
export type AccessOf = (req: FastifyRequest) => Access | undefined;

export function accessLookup(routes: readonly { method: string; url: string; access: Access }[]): AccessOf {
  const byKey = new Map(routes.map((r) => [`${r.method} ${r.url}`, r.access]));
  return (req) => {
    const method = req.routeOptions.method;
    return byKey.get(`${Array.isArray(method) ? method[0] : method} ${req.routeOptions.url}`);
  };
}

export function registerErrorHandlers(server: FastifyInstance, accessOf: AccessOf, log: ErrorLog | undefined): void {
  server.setErrorHandler((err, req, reply) => {
    const out = errorForClient(err, accessOf(req), log ?? server.log, `${req.method} ${req.url}`);
    void reply.status(out.status).send(out.toBody() satisfies ErrorBody);
  });
  server.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0];
    void reply.status(404).send(new ArdesiaError('NOT_FOUND', `no route ${req.method} ${path}`).toBody() satisfies ErrorBody);
  });
}
