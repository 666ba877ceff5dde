// The shape of an API route as data: the server registers each with its access check and schemas,
// and the OpenAPI description is derived from the same list.
import type { Readable } from 'node:stream';
import type { BackupRequest } from '../ops/backup.js';
import { z, type ZodTypeAny } from 'zod';
import { ArdesiaError } from '../contract/errors.js';
import type { Principal } from '../contract/users.js';
import type { VmSpec } from '../contract/vm.js';
import type { VmManager } from '../vms/vm-manager.js';
import type { HostReport } from '../hypervisor/host/index.js';
import type { ImageService } from '../images/service.js';
import type { HomeService } from '../desktops/homes.js';
import type { DesktopService } from '../desktops/service.js';
import type { PoolService } from '../desktops/pools.js';
import type { HostService } from '../cluster/hosts.js';
import type { AgentJoin } from '../cluster/agent-join.js';
import type { AgentLinks } from '../cluster/agent-links.js';
import type { AgentStreams } from '../cluster/agent-streams.js';
import type { VmMigrations } from '../cluster/vm-migrations.js';
import type { RemoteSpice } from '../cluster/remote-spice.js';
import type { EventHub } from './events.js';
import type { DirectoryService } from '../directory/service.js';
import type { DisplayAccess } from '../gateway/access.js';
import type { UsersService } from '../auth/users.js';
import type { LoginService } from '../auth/login.js';
import type { ThinClientService } from '../thinclients/inventory.js';
import type { NetbootControl } from '../netboot/control.js';
import type { DaemonMetrics } from './metrics.js';

/**
 * public: anyone; authenticated: any principal (token or browser session); admin: root or a user with the admin role;
 * vm-owner: an admin or the owner of the VM in :name; vm-owner-or-new: as vm-owner, admins only for a new VM.
 * Finer checks (a user's own desktop, session or home) are made by the handler with `who`.
 */
// Principal is a contract type (auth, gateway and desktops read it too); re-exported for the route files.
export type { Principal } from '../contract/users.js';

export type Access = 'public' | 'authenticated' | 'admin' | 'vm-owner' | 'vm-owner-or-new';

export interface AppContext {
  vms: VmManager;
  hostReport: Promise<HostReport>;
  mayOperate(who: Principal | undefined, spec: VmSpec): boolean;
  configLoad(path: string): Promise<ConfigLoadResult>;
  configReload(): Promise<ConfigLoadResult>;
  pools: PoolService;
  hosts: HostService;
  /** Remote agents: join tokens and their exchange, the agents' live links, the streams they dial back, live migrations,
   *  SPICE relays to their VMs (absent without --listen: no client could reach one). */
  agents: { join: AgentJoin; links: AgentLinks; streams: AgentStreams; migrations: VmMigrations; spice?: RemoteSpice };
  /** The daemon's netboot: its configuration from serve --netboot or the API, and whether it runs. */
  netboot: NetbootControl;
  events: EventHub;
  images: ImageService;
  homes: HomeService;
  desktops: DesktopService;
  display: DisplayAccess;
  users: UsersService;
  login: LoginService;
  thinClients: ThinClientService;
  metrics: DaemonMetrics;
  tls: TlsContext;
  /** A backup archive of the site, streamed as tar writes it (src/ops/backup.ts). */
  backup(req: BackupRequest, principal: string): Promise<Readable>;
  /** Directory sources (serve --directory); absent when none is configured. */
  directory?: DirectoryService;
}

/** What the daemon serves over TLS: `GET /v1/tls` shows it, the .vv file carries the SPICE CA. */
export interface TlsContext {
  /** The HTTPS certificate of --listen (absent when it serves plain HTTP, or only the unix socket). */
  https?: { fingerprint: string; subject: string; caPem?: string };
  /** The CA that signs QEMU's SPICE certificates (PEM), once a SPICE display off loopback made it. */
  spiceCaPem(): string | undefined;
}

export interface ConfigLoadResult {
  path: string;
  added: string[];
  updated: string[];
  removed: string[];
  started: string[];
}

export interface RouteInput<P = Record<string, string | undefined>, B = unknown, Q = unknown> {
  app: AppContext;
  /** The principal's name (kept for audit and VM ownership); `who` has roles and groups. */
  principal: string | undefined;
  who: Principal | undefined;
  /** The client's address, for the audit log and login rate limits. */
  address: string;
  /** The request came over https (cookies then get Secure). */
  secure: boolean;
  userAgent: string | undefined;
  /** Epoch ms: the request reached its handler's chain; its caller was authenticated and authorized (the login timeline). */
  received: { at: number; authenticatedAt: number };
  /** Adds a Set-Cookie header to the reply (a full cookie string, see src/auth/cookies.ts). */
  setCookie(cookie: string): void;
  /** More items follow the page being returned: the reply's Link header (rel="next") names the page after `after`. */
  nextPage(after: string): void;
  params: P;
  body: B;
  query: Q;
}

export interface ApiRoute {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  summary: string;
  access: Access;
  params?: ZodTypeAny;
  body?: ZodTypeAny;
  query?: ZodTypeAny;
  status?: number;
  /** The handler returns bytes sent as text/plain instead of JSON. */
  raw?: boolean;
  /** With raw: the Content-Type sent instead of text/plain. */
  contentType?: string;
  /** The success body's schema (RawBody for raw routes): in the OpenAPI document, checked against real replies by test/api. */
  response?: ZodTypeAny;
  /** The request body is bytes of this Content-Type, handed to the handler as a stream (no size limit, no JSON). */
  upload?: string;
  /** Open to a kiosk session (a thin client's kiosk account): only what opening its desktop needs. */
  kiosk?: true;
  /** Open to an administrator who must enrol in two-factor sign-in first (enrolment, who am I, logout). */
  mfaEnrolment?: true;
  /** The route is a WebSocket upgrade or a Server-Sent Events stream, registered outside the route list. */
  stream?: 'websocket' | 'sse';
  handler(input: RouteInput): Promise<unknown>;
}

/** The `:name` segments of a route URL, each a string: `/v1/pools/:pool/desktops/:desktop` → { pool; desktop }. */
export type UrlParams<U extends string> = U extends `${string}:${infer Name}/${infer Rest}`
  ? { [K in Name]: string } & UrlParams<`/${Rest}`>
  : U extends `${string}:${infer Name}`
    ? { [K in Name]: string }
    : Record<string, never>;

type Parsed<S> = S extends ZodTypeAny ? z.output<S> : undefined;

/**
 * A route whose handler receives its params, body and query already parsed by its own schemas, and must return
 * what its `response` schema describes (required: a route without a described success body does not compile).
 */
export interface RouteDefinition<
  U extends string,
  P extends ZodTypeAny | undefined,
  B extends ZodTypeAny | undefined,
  Q extends ZodTypeAny | undefined,
  R extends ZodTypeAny,
> extends Omit<ApiRoute, 'url' | 'params' | 'body' | 'query' | 'response' | 'stream' | 'handler'> {
  url: U;
  params?: P;
  body?: B;
  query?: Q;
  response: R;
  handler(input: RouteInput<P extends ZodTypeAny ? z.output<P> : UrlParams<U>, Parsed<B>, Parsed<Q>>): Promise<z.input<R>>;
}

/** The one parse of a request part at the edge: its schema's output, or BAD_REQUEST naming each field and what it accepts. */
export function parseInput<S extends ZodTypeAny>(schema: S, value: unknown, where: 'params' | 'body' | 'query'): z.output<S> {
  const parsed = schema.safeParse(value ?? undefined);
  if (parsed.success) return parsed.data as z.output<S>;
  const problems = parsed.error.issues.map((i) => `${[where, ...i.path].join('.')}: ${i.message}`);
  throw new ArdesiaError('BAD_REQUEST', problems.join('; '), parsed.error.issues);
}

/** The `:name` in a URL's raw params, for the access check that runs before parsing (undefined when absent). */
export function urlNameOf(params: unknown): string | undefined {
  const parsed = z.object({ name: z.string() }).safeParse(params);
  return parsed.success ? parsed.data.name : undefined;
}

/** Every `:name` of the URL as a required string: the schema of a route that declares none. */
export function urlParamsSchema(url: string): ZodTypeAny {
  const names = [...url.matchAll(/:([A-Za-z]+)/g)].map((m) => m[1]!);
  return z.object(Object.fromEntries(names.map((n) => [n, z.string().min(1)])));
}

/**
 * Declares a route. The server parses params, body and query with exactly these schemas before it calls
 * the handler (server.ts, once, at the edge), so the handler's typed input is what it receives.
 */
export function defineRoute<
  const U extends string,
  P extends ZodTypeAny | undefined = undefined,
  B extends ZodTypeAny | undefined = undefined,
  Q extends ZodTypeAny | undefined = undefined,
  R extends ZodTypeAny = ZodTypeAny,
>(def: RouteDefinition<U, P, B, Q, R>): ApiRoute {
  const { params, body, query, handler, ...rest } = def;
  return {
    ...rest,
    params: params ?? urlParamsSchema(def.url),
    ...(body ? { body } : {}),
    ...(query ? { query } : {}),
    handler: handler as ApiRoute['handler'],
  };
}
