// Gold-image routes (root only): create/import and publish run as operations polled by the client.
import { z } from 'zod';
import { ImageCreateBody, PublishBody, RollbackBody, VersionQuery, MaintenanceOpenBody } from '../contract/images.js';
import { ImageInfoBody, ImageVersionBody, MaintenanceSessionBody, OperationBody, listOf, namedResult } from './responses.js';
import { type ApiRoute, defineRoute } from './route.js';

const NameParams = z.object({ name: z.string() });
const who = (principal: string | undefined): string => principal ?? 'unknown';

export const imageRoutes: ApiRoute[] = [
  defineRoute({ method: 'GET', url: '/v1/images', summary: 'List gold images', access: 'admin', response: listOf(ImageInfoBody),
    handler: async ({ app }) => app.images.list() }),
  defineRoute({
    method: 'POST',
    url: '/v1/images',
    summary: 'Create a gold image (import a disk, install from an ISO, or build); returns an operation to poll',
    access: 'admin',
    body: ImageCreateBody,
    status: 202,
    response: OperationBody,
    handler: async ({ app, body, principal }) => app.images.createStart(body, who(principal)),
  }),
  defineRoute({
    method: 'POST',
    url: '/v1/images/gc',
    summary: 'Delete image versions that are not current and that nothing uses',
    access: 'admin',
    body: z.object({ image: z.string().optional() }).strict().default({}),
    response: z.object({ deleted: z.array(z.object({ image: z.string(), version: z.number().int() }).strict()) }).strict(),
    handler: async ({ app, body, principal }) => ({ deleted: await app.images.gc(who(principal), body.image) }),
  }),
  defineRoute({ method: 'GET', url: '/v1/images/:name', summary: 'One gold image with versions, session and desktops', access: 'admin', params: NameParams, response: ImageInfoBody,
    handler: async ({ app, params }) => app.images.show(params.name) }),
  defineRoute({
    method: 'DELETE',
    url: '/v1/images/:name',
    summary: 'Delete a gold image, or one version (?version=N); refused while anything depends on it',
    access: 'admin',
    params: NameParams,
    query: VersionQuery,
    response: z.object({ deleted: z.string(), version: z.number().int().optional() }).strict(),
    handler: async ({ app, params, query, principal }) => app.images.delete(params.name, query.version, who(principal)),
  }),
  defineRoute({ method: 'GET', url: '/v1/images/:name/versions', summary: 'The versions of a gold image', access: 'admin', params: NameParams, response: listOf(ImageVersionBody),
    handler: async ({ app, params }) => app.images.versions(params.name) }),
  defineRoute({
    method: 'POST',
    url: '/v1/images/:name/edit',
    summary: 'Open a maintenance session: a VM on a writable overlay of the current version',
    access: 'admin',
    params: NameParams,
    body: MaintenanceOpenBody,
    status: 201,
    response: MaintenanceSessionBody,
    handler: async ({ app, params, body, principal }) => app.images.edit(params.name, who(principal), body.network),
  }),
  defineRoute({
    method: 'POST',
    url: '/v1/images/:name/publish',
    summary: 'Stop the maintenance VM and publish its overlay as the next version; returns an operation to poll',
    access: 'admin',
    params: NameParams,
    body: PublishBody,
    status: 202,
    response: OperationBody,
    handler: async ({ app, params, body, principal }) => app.images.publishStart(params.name, body, who(principal)),
  }),
  defineRoute({
    method: 'POST',
    url: '/v1/images/:name/discard',
    summary: 'Throw the maintenance session away',
    access: 'admin',
    params: NameParams,
    response: namedResult('discarded'),
    handler: async ({ app, params, principal }) => app.images.discard(params.name, who(principal)),
  }),
  defineRoute({
    method: 'POST',
    url: '/v1/images/:name/rollback',
    summary: 'Make an earlier version current again',
    access: 'admin',
    params: NameParams,
    body: RollbackBody,
    response: ImageInfoBody,
    handler: async ({ app, params, body, principal }) => app.images.rollback(params.name, body.to, who(principal)),
  }),
  defineRoute({
    method: 'GET',
    url: '/v1/operations/:id',
    summary: 'A long action: state, progress, result or error',
    access: 'admin',
    params: z.object({ id: z.string() }),
    response: OperationBody,
    handler: async ({ app, params }) => app.images.operations.get(params.id),
  }),
];
