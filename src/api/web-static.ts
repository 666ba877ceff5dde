// Serves the built web app (dist/web): the SPA's index.html at / and /admin/*, hashed assets with immutable
// caching, a strict Content-Security-Policy on every page.
import { readFile } from 'node:fs/promises';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';

/** No inline script or style, same-origin everything (the display WebSocket too); noVNC's cursor uses data: images. */
export const WEB_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.html': 'text/html; charset=utf-8',
};
/** Vite names assets `name-HASH.ext`: one path segment, no dots leading, nothing that climbs out. */
const ASSET_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;
const IMMUTABLE = 'public, max-age=31536000, immutable';

/** dist/web beside the compiled dist/src/api/ (also in private build roots). */
export function webAppDir(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'web');
}

function securityHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header('content-security-policy', WEB_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY');
}

export function registerWebApp(server: FastifyInstance, dir: string = webAppDir()): void {
  const sendIndex = async (_req: unknown, reply: FastifyReply) => {
    let html: Buffer;
    try {
      html = await readFile(join(dir, 'index.html'));
    } catch {
      return securityHeaders(reply)
        .status(503)
        .type('text/plain; charset=utf-8')
        .send('The web app is not built. Run `npm run build` (it builds dist/web), then reload this page.\n');
    }
    return securityHeaders(reply).header('cache-control', 'no-cache').type(CONTENT_TYPES['.html']!).send(html);
  };
  server.get('/', sendIndex);
  server.get('/admin', sendIndex);
  server.get('/admin/*', sendIndex);
  server.get<{ Params: { file: string } }>('/assets/:file', async (req, reply) => {
    const file = req.params.file;
    const type = CONTENT_TYPES[extname(file)];
    if (!ASSET_NAME.test(file) || type === undefined) return reply.callNotFound();
    let body: Buffer;
    try {
      body = await readFile(join(dir, 'assets', file));
    } catch {
      return reply.callNotFound();
    }
    return securityHeaders(reply).header('cache-control', IMMUTABLE).type(type).send(body);
  });
}
