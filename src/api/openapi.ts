// The OpenAPI description, derived from the same route list the server registers.
import { zodToJsonSchema } from 'zod-to-json-schema';
import { ERROR_REGISTRY } from '../contract/errors.js';
import type { ZodTypeAny } from 'zod';
import { ErrorBodySchema } from './responses.js';
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

/** The success response: the route's declared body (JSON), its bytes (raw), or the protocol switch / event stream. */
function successResponse(r: ApiRoute): Record<string, unknown> {
  if (r.stream === 'websocket') return { description: 'Switching Protocols: the WebSocket opens' };
  if (r.stream === 'sse') return { description: 'the event stream', content: { 'text/event-stream': { schema: { type: 'string' } } } };
  if (r.raw) {
    const type = (r.contentType ?? 'text/plain; charset=utf-8').split(';')[0]!;
    return { description: 'success', content: { [type]: { schema: type.startsWith('text/') ? { type: 'string' } : { type: 'string', format: 'binary' } } } };
  }
  if (!r.response) throw new Error(`${r.method} ${r.url} declares no response schema`);
  return { description: 'success', content: { 'application/json': { schema: jsonSchema(r.response) } } };
}

/** A route's query string, one parameter per field of its query schema. */
function queryParameters(r: ApiRoute): Array<{ name: string; in: 'query'; required: boolean; schema: unknown }> {
  if (!r.query) return [];
  const described: unknown = jsonSchema(r.query);
  if (!isObjectSchema(described)) return [];
  return Object.entries(described.properties).map(([name, field]) => ({ name, in: 'query', required: described.required?.includes(name) ?? false, schema: field }));
}

function isObjectSchema(s: unknown): s is { properties: Record<string, unknown>; required?: string[] } {
  return typeof s === 'object' && s !== null && 'properties' in s && typeof s.properties === 'object' && s.properties !== null;
}

/** The status of a route's success: 101 for a WebSocket upgrade. */
export const successStatus = (r: ApiRoute): number => (r.stream === 'websocket' ? 101 : (r.status ?? 200));

export function openApiDocument(routes: ApiRoute[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const op: Record<string, unknown> = {
      summary: r.summary,
      'x-access': r.access,
      security: r.access === 'public' ? [] : [{ bearer: [] }],
      responses: {
        [String(successStatus(r))]: successResponse(r),
        default: { description: 'an error: { error: { code, message, hint } }', content: { 'application/json': { schema: ERROR_BODY_SCHEMA } } },
      },
    };
    const names = [...r.url.matchAll(/:([A-Za-z]+)/g)].map((m) => m[1]);
    const parameters = [...names.map((n) => ({ name: n, in: 'path', required: true, schema: { type: 'string' } })), ...queryParameters(r)];
    if (parameters.length) op.parameters = parameters;
    if (parameters.some((p) => p.in === 'query' && p.name === 'after')) {
      (op.responses as Record<string, Record<string, unknown>>)[String(successStatus(r))]!.headers = { Link: { description: 'rel="next": the next page\'s address, absent on the last page', schema: { type: 'string' } } };
    }
    if (r.upload) op.requestBody = { required: true, content: { [r.upload]: { schema: { type: 'string', format: 'binary' } } } };
    else if (r.body) op.requestBody = { content: { 'application/json': { schema: zodToJsonSchema(r.body, { target: 'openApi3' }) } } };
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
