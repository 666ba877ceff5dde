// Desktop routes (root only): linked clones of an image version, with an optional home volume.
import { z } from 'zod';
import { DesktopCreateBody, DesktopStopBody } from '../contract/images.js';
import { ListPageQuery, pageOfQuery } from '../contract/paging.js';
import { DesktopInfoBody, listOf, namedResult } from './responses.js';
import { type ApiRoute, defineRoute } from './route.js';

const NameParams = z.object({ name: z.string() });
const who = (principal: string | undefined): string => principal ?? 'unknown';

export const desktopRoutes: ApiRoute[] = [
  defineRoute({ method: 'GET', url: '/v1/desktops', summary: 'List desktops (all, or a page: ?limit=N, then the Link header\'s next page)', access: 'admin', query: ListPageQuery, response: listOf(DesktopInfoBody),
    handler: async ({ app, query, nextPage }) => {
      const page = await app.desktops.list(pageOfQuery(query));
      if (page.next !== undefined) nextPage(page.next);
      return page.items;
    } }),
  defineRoute({
    method: 'POST',
    url: '/v1/desktops',
    summary: 'Create a desktop: a linked clone of an image version (not started)',
    access: 'admin',
    body: DesktopCreateBody,
    status: 201,
    response: DesktopInfoBody,
    handler: async ({ app, body, principal }) => app.desktops.create(body, who(principal)),
  }),
  defineRoute({ method: 'GET', url: '/v1/desktops/:name', summary: 'One desktop', access: 'admin', params: NameParams, response: DesktopInfoBody,
    handler: async ({ app, params }) => app.desktops.show(params.name) }),
  defineRoute({
    method: 'DELETE',
    url: '/v1/desktops/:name',
    summary: 'Destroy a desktop: stop it, release its home, delete its system disk',
    access: 'admin',
    params: NameParams,
    response: namedResult('destroyed'),
    handler: async ({ app, params, principal }) => app.desktops.destroy(params.name, who(principal)),
  }),
  defineRoute({
    method: 'POST',
    url: '/v1/desktops/:name/start',
    summary: 'Start a desktop (takes the home lease)',
    access: 'admin',
    params: NameParams,
    response: DesktopInfoBody,
    handler: async ({ app, params, principal }) => app.desktops.start(params.name, who(principal)),
  }),
  defineRoute({
    method: 'POST',
    url: '/v1/desktops/:name/stop',
    summary: 'Stop a desktop (releases the home lease)',
    access: 'admin',
    params: NameParams,
    body: DesktopStopBody,
    response: DesktopInfoBody,
    handler: async ({ app, params, body, principal }) => app.desktops.stop(params.name, body, who(principal)),
  }),
  defineRoute({
    method: 'POST',
    url: '/v1/desktops/:name/reset',
    summary: 'Reset a desktop: a fresh clone of its version (or of current, on "latest"); every system change is gone',
    access: 'admin',
    params: NameParams,
    response: DesktopInfoBody,
    handler: async ({ app, params, principal }) => app.desktops.reset(params.name, who(principal)),
  }),
];
