// The shape of an API route as data: the server registers each with its access check and schemas,
// and the OpenAPI description is derived from the same list.
import type { ZodTypeAny } from 'zod';
import type { VmSpec } from '../contract/vm.js';
import type { VmManager } from '../daemon/vm-manager.js';
import type { HostReport } from '../hypervisor/host/index.js';
import type { ImageService } from '../images/service.js';
import type { HomeService } from '../desktops/homes.js';
import type { DesktopService } from '../desktops/service.js';

/**
 * public: anyone; authenticated: any valid token; root: the root principal only;
 * vm-owner: root or the owner of the VM in :name; vm-owner-or-new: as vm-owner, root for a new VM.
 */
export type Access = 'public' | 'authenticated' | 'root' | 'vm-owner' | 'vm-owner-or-new';

export interface AppContext {
  vms: VmManager;
  hostReport: Promise<HostReport>;
  mayOperate(principal: string | undefined, spec: VmSpec): boolean;
  configLoad(path: string): Promise<ConfigLoadResult>;
  configReload(): Promise<ConfigLoadResult>;
  images: ImageService;
  homes: HomeService;
  desktops: DesktopService;
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
  principal: string | undefined;
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
  handler(input: RouteInput): Promise<unknown>;
}
