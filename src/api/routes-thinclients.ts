// Thin-client inventory routes (admin). The public boot chain is in src/netboot/http/boot-routes.ts.
import { ThinClientCreate, ThinClientPatch, MacParams } from '../contract/thinclients.js';
import { DeletedBody, ThinClientViewBody, listOf } from './responses.js';
import { type ApiRoute, defineRoute } from './route.js';

const by = (principal: string | undefined): string => principal ?? 'unknown';

export const thinClientRoutes: ApiRoute[] = [
  defineRoute({ method: 'GET', url: '/v1/thinclients', summary: 'List thin clients', access: 'admin', response: listOf(ThinClientViewBody),
    handler: async ({ app }) => app.thinClients.list() }),
  defineRoute({
    method: 'POST', url: '/v1/thinclients', summary: 'Add a thin client by MAC before its first boot', access: 'admin', body: ThinClientCreate, status: 201,
    response: ThinClientViewBody,
    handler: async ({ app, body, principal }) => app.thinClients.create(body, by(principal)),
  }),
  defineRoute({
    method: 'GET', url: '/v1/thinclients/:mac', summary: 'Show a thin client', access: 'admin', params: MacParams,
    response: ThinClientViewBody,
    handler: async ({ app, params }) => app.thinClients.get(params.mac),
  }),
  defineRoute({
    method: 'PATCH', url: '/v1/thinclients/:mac', summary: 'Change a thin client', access: 'admin', params: MacParams, body: ThinClientPatch,
    response: ThinClientViewBody,
    handler: async ({ app, params, body, principal }) => app.thinClients.patch(params.mac, body, by(principal)),
  }),
  defineRoute({
    method: 'DELETE', url: '/v1/thinclients/:mac', summary: 'Forget a thin client', access: 'admin', params: MacParams,
    response: DeletedBody,
    handler: async ({ app, params, principal }) => app.thinClients.delete(params.mac, by(principal)),
  }),
];
