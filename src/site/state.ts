// Today's site as the API shows it to the administrator running plan, apply or export (their rights apply).
import type { DirectorySourceView } from '../contract/directory.js';
import type { HostView } from '../contract/hosts.js';
import type { ImageInfo } from '../contract/images.js';
import type { NetbootStatus } from '../contract/netboot.js';
import type { PoolView } from '../contract/pools.js';
import type { ThinClientView } from '../contract/thinclients.js';
import type { GroupView, Me, SiteSettings, UserView } from '../contract/users.js';

/** The part of the CLI's API client the site needs (src/cli/client.ts; kept apart so that site/ does not import cli/). */
export interface SiteApi {
  request<T>(method: string, path: string, body?: unknown): Promise<T>;
}

export interface SiteState {
  settings: SiteSettings;
  groups: GroupView[];
  users: UserView[];
  directorySources: DirectorySourceView[];
  images: ImageInfo[];
  hosts: HostView[];
  pools: PoolView[];
  thinClients: ThinClientView[];
  netboot: NetbootStatus;
  /** The web user running the command (never pruned: it would end its own session midway); null for root. */
  self: string | null;
}

export async function siteStateRead(api: SiteApi): Promise<SiteState> {
  const get = <T>(path: string) => api.request<T>('GET', path);
  const [settings, groups, users, directorySources, images, hosts, pools, thinClients, netboot, me] = await Promise.all([
    get<SiteSettings>('/v1/settings'),
    get<GroupView[]>('/v1/groups'),
    get<UserView[]>('/v1/users'),
    get<DirectorySourceView[]>('/v1/directory/sources'),
    get<ImageInfo[]>('/v1/images'),
    get<HostView[]>('/v1/hosts'),
    get<PoolView[]>('/v1/pools'),
    get<ThinClientView[]>('/v1/thinclients'),
    get<NetbootStatus>('/v1/netboot'),
    get<Me>('/v1/auth/me'),
  ]);
  return { settings, groups, users, directorySources, images, hosts, pools, thinClients, netboot, self: me.user === 'root' ? null : me.user };
}
