// The OpenAPI description, derived from the same route list the server registers.
import { zodToJsonSchema } from 'zod-to-json-schema';
import { ERROR_REGISTRY } from '../contract/errors.js';
import type { ApiRoute } from './route.js';

const toOpenApiPath = (url: string) => url.replace(/:([A-Za-z]+)/g, '{$1}');

export function openApiDocument(routes: ApiRoute[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const op: Record<string, unknown> = {
      summary: r.summary,
      'x-access': r.access,
      security: r.access === 'public' ? [] : [{ bearer: [] }],
      responses: {
        [String(r.status ?? 200)]: { description: 'success' },
        default: { description: 'an error: { error: { code, message, hint } }' },
      },
    };
    const names = [...r.url.matchAll(/:([A-Za-z]+)/g)].map((m) => m[1]);
    if (names.length) op.parameters = names.map((n) => ({ name: n, in: 'path', required: true, schema: { type: 'string' } }));
    if (r.body) op.requestBody = { content: { 'application/json': { schema: zodToJsonSchema(r.body, { target: 'openApi3' }) } } };
    (paths[toOpenApiPath(r.url)] ??= {})[r.method.toLowerCase()] = op;
  }
  return {
    openapi: '3.0.3',
    info: { title: 'Ardesia API', version: '1' },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      'x-error-codes': Object.fromEntries(Object.entries(ERROR_REGISTRY).map(([code, e]) => [code, e])),
    },
    paths,
  };
}
