// Home volume routes (root only).
import { z } from 'zod';
import { HomeDeleteQuery, HomeResizeBody } from '../contract/images.js';
import { DeletedBody, HomeInfoBody, HomeResizedBody, listOf } from './responses.js';
import { type ApiRoute, defineRoute } from './route.js';

const UserParams = z.object({ user: z.string() });
const who = (principal: string | undefined): string => principal ?? 'unknown';

export const homeRoutes: ApiRoute[] = [
  defineRoute({ method: 'GET', url: '/v1/homes', summary: 'List home volumes and their leases', access: 'admin', response: listOf(HomeInfoBody),
    handler: async ({ app }) => app.homes.list() }),
  defineRoute({ method: 'GET', url: '/v1/homes/:user', summary: "A user's home volume", access: 'admin', params: UserParams, response: HomeInfoBody,
    handler: async ({ app, params }) => app.homes.show(params.user) }),
  defineRoute({
    method: 'POST',
    url: '/v1/homes/:user/resize',
    summary: 'Grow a home volume (never shrinks)',
    access: 'admin',
    params: UserParams,
    body: HomeResizeBody,
    response: HomeResizedBody,
    handler: async ({ app, params, body, principal }) => app.homes.resize(params.user, body.sizeBytes, who(principal)),
  }),
  defineRoute({
    method: 'DELETE',
    url: '/v1/homes/:user',
    summary: 'Delete a home volume (needs ?yes=true; refused while leased)',
    access: 'admin',
    params: UserParams,
    query: HomeDeleteQuery,
    response: DeletedBody,
    handler: async ({ app, params, query, principal }) => app.homes.delete(params.user, query.yes === 'true', who(principal)),
  }),
];
