// Operations routes: the site's backup, streamed (`ardesia backup FILE` saves and checks it).
import { z } from 'zod';
import { StreamBody } from './responses.js';
import { type ApiRoute, defineRoute } from './route.js';

export const opsRoutes: ApiRoute[] = [
  defineRoute({
    method: 'POST',
    url: '/v1/backup',
    summary: 'A backup of the site as a tar archive: the store snapshot, TLS and token files, a manifest of image versions and homes with sha256, SHA256SUMS; optionally the image and home files',
    access: 'admin',
    body: z.object({ withImages: z.boolean().default(false), withHomes: z.boolean().default(false) }).strict(),
    raw: true,
    contentType: 'application/x-tar',
    response: StreamBody,
    handler: async ({ app, body, principal }) => app.backup(body, principal ?? 'unknown'),
  }),
];
