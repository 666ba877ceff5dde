// Thin-client inventory and netboot configuration routes (admin). The public boot chain is in src/netboot/http/boot-routes.ts.
import { z } from 'zod';
import { NETBOOT_SOURCES } from '../contract/netboot.js';
import { ThinClientCreate, ThinClientPatch, MacParams } from '../contract/thinclients.js';
import { netbootConfigSchema } from '../netboot/config.js';
import { DeletedBody, ThinClientViewBody, listOf } from './responses.js';
import { type ApiRoute, defineRoute } from './route.js';

const by = (principal: string | undefined): string => principal ?? 'unknown';

const NetbootStatusBody = z
  .object({ source: z.enum(NETBOOT_SOURCES), file: z.string().nullable(), config: netbootConfigSchema.nullable(), running: z.boolean(), error: z.string().nullable() })
  .strict();

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
  defineRoute({
    method: 'GET', url: '/v1/netboot', summary: "Netboot's configuration: from serve --netboot, set here, or none; and whether it runs", access: 'admin',
    response: NetbootStatusBody,
    handler: async ({ app }) => app.netboot.status(),
  }),
  defineRoute({
    method: 'PUT', url: '/v1/netboot', summary: 'Set the netboot configuration (docs/netboot.md): its DHCP and TFTP servers restart with it, or the previous ones stay', access: 'admin',
    // Checked whole by parseNetbootConfig, which lists every problem with its path (NETBOOT_CONFIG_INVALID).
    body: z.unknown(),
    response: NetbootStatusBody,
    handler: async ({ app, body, principal, address }) => app.netboot.set(body, { principal: by(principal), address }),
  }),
  defineRoute({
    method: 'DELETE', url: '/v1/netboot', summary: 'Stop netboot and forget its configuration (refused when serve --netboot sets it)', access: 'admin',
    response: NetbootStatusBody,
    handler: async ({ app, principal, address }) => app.netboot.clear({ principal: by(principal), address }),
  }),
];
