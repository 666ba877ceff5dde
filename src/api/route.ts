// The shape of an API route as data: the server registers each with its access check and schemas,
// and the OpenAPI description is derived from the same list.
import type { ZodTypeAny } from 'zod';
import type { VmSpec } from '../contract/vm.js';
import type { VmManager } from '../daemon/vm-manager.js';
import type { HostReport } from '../hypervisor/host/index.js';
import type { ImageService } from '../images/service.js';
import type { HomeService } from '../desktops/homes.js';
import type { DesktopService } from '../desktops/service.js';
import type { PoolService } from '../desktops/pools.js';
import type { EventHub } from './events.js';
import type { DisplayAccess } from '../gateway/access.js';
import type { UsersService } from '../auth/users.js';
import type { LoginService } from '../auth/login.js';
import type { ThinClientService } from '../thinclients/inventory.js';
import type { DaemonMetrics } from '../daemon/metrics.js';

/**
 * public: anyone; authenticated: any principal (token or browser session); admin: root or a user with the admin role;
 * vm-owner: an admin or the owner of the VM in :name; vm-owner-or-new: as vm-owner, admins only for a new VM.
 * Finer checks (a user's own desktop, session or home) are made by the handler with `who`.
 */
export type Access = 'public' | 'authenticated' | 'admin' | 'vm-owner' | 'vm-owner-or-new';

/** Who is calling: resolved once per request from a bearer token or a browser session cookie. */
export interface Principal {
  /** User name; `root` for the root token. */
  name: string;
  /** Root, or a user with the admin role. */
  admin: boolean;
  groups: readonly string[];
  /** The browser session's id when authenticated by cookie (display tickets are bound to it). */
  session?: string;
  /** The sha256 of the bearer token when authenticated by one (logout revokes a login token by it). */
  tokenId?: string;
}

export interface AppContext {
  vms: VmManager;
  hostReport: Promise<HostReport>;
  mayOperate(principal: string | undefined, spec: VmSpec): boolean;
  configLoad(path: string): Promise<ConfigLoadResult>;
  configReload(): Promise<ConfigLoadResult>;
  pools: PoolService;
  events: EventHub;
  images: ImageService;
  homes: HomeService;
  desktops: DesktopService;
  display: DisplayAccess;
  users: UsersService;
  login: LoginService;
  thinClients: ThinClientService;
  metrics: DaemonMetrics;
}

export interface ConfigLoadResult {
  path: string;
  added: string[];
  updated: string[];
  removed: string[];
  started: string[];
}

export interface RouteInput {
  app: AppContext;
  /** The principal's name (kept for audit and VM ownership); `who` has roles and groups. */
  principal: string | undefined;
  who: Principal | undefined;
  /** The client's address, for the audit log and login rate limits. */
  address: string;
  /** The request came over https (cookies then get Secure). */
  secure: boolean;
  userAgent: string | undefined;
  /** Adds a Set-Cookie header to the reply (a full cookie string, see src/auth/cookies.ts). */
  setCookie(cookie: string): void;
  params: Record<string, string | undefined>;
  body: unknown;
  query: unknown;
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
  handler(input: RouteInput): Promise<unknown>;
}
