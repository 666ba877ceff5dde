// The OpenAPI description, derived from the same route list the server registers.
import { zodToJsonSchema } from 'zod-to-json-schema';
import { ERROR_REGISTRY } from '../contract/errors.js';
import type { ZodTypeAny } from 'zod';
import { API_RESPONSES, ErrorBodySchema } from './responses.js';
import type { ApiRoute } from './route.js';

const toOpenApiPath = (url: string) => url.replace(/:([A-Za-z]+)/g, '{$1}');
const jsonSchema = (schema: ZodTypeAny) => nullableEnums(zodToJsonSchema(schema, { target: 'openApi3', $refStrategy: 'none' }));

/** OpenAPI 3.0.3: a nullable enum lists null among its values, or validators refuse null (zod-to-json-schema omits it). */
function nullableEnums<T>(node: T): T {
  if (Array.isArray(node)) node.forEach(nullableEnums);
  else if (node && typeof node === 'object') {
    const o = node as Record<string, unknown>;
    if (o.nullable === true && Array.isArray(o.enum) && !o.enum.includes(null)) o.enum.push(null);
    Object.values(o).forEach(nullableEnums);
  }
  return node;
}
const ERROR_BODY_SCHEMA = jsonSchema(ErrorBodySchema);

/** The success response, with its body's schema where src/api/responses.ts declares one. */
function successResponse(r: ApiRoute): Record<string, unknown> {
  const body = API_RESPONSES[`${r.method} ${r.url}`];
  return body ? { description: 'success', content: { 'application/json': { schema: jsonSchema(body) } } } : { description: 'success' };
}

export function openApiDocument(routes: ApiRoute[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const op: Record<string, unknown> = {
      summary: r.summary,
      'x-access': r.access,
      security: r.access === 'public' ? [] : [{ bearer: [] }],
      responses: {
        [String(r.status ?? 200)]: successResponse(r),
        default: { description: 'an error: { error: { code, message, hint } }', content: { 'application/json': { schema: ERROR_BODY_SCHEMA } } },
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
