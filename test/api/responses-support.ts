// The response check of test/api/openapi-responses.test.ts: a real HTTP call to the daemon, its status, Content-Type
// and body checked against the OpenAPI document the daemon serves (ajv, as a client generated from it would) and
// against the route's own zod schema (strict: a key the schema does not name fails), and the route counted as checked.
import assert from 'node:assert/strict';
import AjvModule from 'ajv';
import addFormatsModule from 'ajv-formats';
import WebSocket from 'ws';
import { successStatus } from '../../src/api/openapi.js';
import type { ApiRoute } from '../../src/api/route.js';

type Schema = Record<string, unknown>;
type Operation = { responses: Record<string, { content?: Record<string, { schema: Schema }> }> };
export type OpenApiDoc = { paths: Record<string, Record<string, Operation>> };

const ajv = new AjvModule.default({ strict: false, allErrors: true });
addFormatsModule.default(ajv);
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export const routeKey = (r: Pick<ApiRoute, 'method' | 'url'>) => `${r.method} ${r.url}`;
const openApiPath = (url: string) => url.replace(/:([A-Za-z]+)/g, '{$1}');

/** Problems of `body` against a JSON schema of the document, or an empty list. */
export function schemaProblems(schema: Schema, body: unknown): string[] {
  const validate = ajv.compile(schema);
  return validate(body) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`);
}

export interface Caller {
  /** A bearer token, or none (anonymous). */
  token?: string;
}

export class ResponseChecker {
  /** Routes whose real success reply was checked, by "METHOD /url". */
  readonly checked = new Set<string>();
  constructor(
    private readonly base: string,
    private readonly doc: OpenApiDoc,
    private readonly routes: ApiRoute[],
  ) {}

  private route(key: string): ApiRoute {
    const route = this.routes.find((r) => routeKey(r) === key);
    assert.ok(route, `${key} is no route of the daemon`);
    return route;
  }

  private documented(route: ApiRoute): { status: string; type: string; schema: Schema } {
    const op = this.doc.paths[openApiPath(route.url)]?.[route.method.toLowerCase()];
    assert.ok(op, `${routeKey(route)} is not in the OpenAPI document`);
    const status = String(successStatus(route));
    const content = op.responses[status]?.content;
    assert.ok(content, `${routeKey(route)}: the document describes no body for ${status}`);
    const [type, media] = Object.entries(content)[0]!;
    return { status, type, schema: media.schema };
  }

  /** Calls `path` as the route `key` ("GET /v1/vms/:name") and checks the reply; returns the parsed body. */
  async call<T = unknown>(key: string, path: string, who: Caller, body?: unknown): Promise<T> {
    const route = this.route(key);
    const { status, type, schema } = this.documented(route);
    const headers: Record<string, string> = who.token ? { authorization: `Bearer ${who.token}` } : {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${this.base}${path}`, { method: route.method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const bytes = Buffer.from(await res.arrayBuffer());
    assert.equal(String(res.status), status, `${key} (${path}): ${bytes.toString().slice(0, 500)}`);
    assert.equal(res.headers.get('content-type')?.split(';')[0], type, `${key}: the Content-Type the document names`);
    let parsed: unknown;
    if (route.raw) {
      assert.ok(bytes.length > 0, `${key}: an empty body`);
      if (type === 'image/png') assert.deepEqual(bytes.subarray(0, 8), PNG_SIGNATURE, `${key}: not a PNG`);
      parsed = type.startsWith('text/') || !schema.format ? bytes.toString('utf8') : bytes;
      if (typeof parsed === 'string') assert.deepEqual(schemaProblems(schema, parsed), [], key);
    } else {
      parsed = JSON.parse(bytes.toString('utf8')) as unknown;
      assert.deepEqual(schemaProblems(schema, parsed), [], `${key}: the real body breaks the document: ${JSON.stringify(parsed)}`);
      const own = route.response!.safeParse(parsed);
      assert.ok(own.success, `${key}: the real body breaks the route's schema: ${own.success ? '' : own.error.message}`);
      // The schema is no blank cheque: the body with a key nobody described is refused.
      const sample = Array.isArray(parsed) ? parsed[0] : parsed;
      if (sample && typeof sample === 'object') {
        const extra = Array.isArray(parsed) ? [{ ...sample, undocumented: 1 }] : { ...sample, undocumented: 1 };
        assert.notDeepEqual(schemaProblems(schema, extra), [], `${key}: the document accepts an undescribed key`);
      }
    }
    this.checked.add(key);
    return parsed as T;
  }

  /** Sends `bytes` to an upload route (application/octet-stream) and checks the JSON reply like call(). */
  async upload<T = unknown>(key: string, path: string, who: Caller, bytes: Buffer): Promise<T> {
    const route = this.route(key);
    assert.ok(route.upload, `${key} takes no upload`);
    const op = this.doc.paths[openApiPath(route.url)]?.[route.method.toLowerCase()] as { requestBody?: { content?: Record<string, unknown> } } | undefined;
    assert.ok(op?.requestBody?.content?.[route.upload], `${key}: the document names no ${route.upload} request body`);
    const { status, schema } = this.documented(route);
    const headers: Record<string, string> = { 'content-type': route.upload, ...(who.token ? { authorization: `Bearer ${who.token}` } : {}) };
    const res = await fetch(`${this.base}${path}`, { method: route.method, headers, body: new Uint8Array(bytes) });
    const text = await res.text();
    assert.equal(String(res.status), status, `${key} (${path}): ${text.slice(0, 500)}`);
    const parsed = JSON.parse(text) as unknown;
    assert.deepEqual(schemaProblems(schema, parsed), [], `${key}: the real body breaks the document: ${text.slice(0, 300)}`);
    assert.ok(route.response!.safeParse(parsed).success, `${key}: the real body breaks the route's schema`);
    this.checked.add(key);
    return parsed as T;
  }

  /** Opens a WebSocket route and checks that it switches protocols (101, the document's answer). */
  async webSocket(key: string, path: string, who: Caller, protocol?: string): Promise<void> {
    const route = this.route(key);
    assert.equal(route.stream, 'websocket', `${key} is no WebSocket route`);
    const op = this.doc.paths[openApiPath(route.url)]?.[route.method.toLowerCase()];
    assert.ok(op?.responses['101'], `${key}: the document has no 101 answer`);
    const ws = new WebSocket(`${this.base.replace(/^http/, 'ws')}${path}`, protocol ? [protocol] : [], { headers: who.token ? { authorization: `Bearer ${who.token}` } : {} });
    const status = await new Promise<number>((resolve, reject) => {
      ws.once('upgrade', (res) => resolve(res.statusCode ?? 0));
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.once('error', reject);
    });
    ws.terminate();
    assert.equal(status, 101, `${key}: no protocol switch`);
    this.checked.add(key);
  }

  /** Opens the event stream and reads its first line: 200, text/event-stream, ": connected". */
  async eventStream(key: string, path: string, who: Caller): Promise<void> {
    const route = this.route(key);
    assert.equal(route.stream, 'sse');
    const { status, type } = this.documented(route);
    const abort = new AbortController();
    const res = await fetch(`${this.base}${path}`, { headers: { authorization: `Bearer ${who.token}`, accept: 'text/event-stream' }, signal: abort.signal });
    assert.equal(String(res.status), status);
    assert.equal(res.headers.get('content-type')?.split(';')[0], type);
    const first = await res.body!.getReader().read();
    abort.abort();
    assert.match(Buffer.from(first.value ?? []).toString(), /^: connected/);
    this.checked.add(key);
  }

  /** Fails unless every route in `keys` had its real reply checked. */
  assertChecked(keys: readonly string[]): void {
    assert.deepEqual(keys.filter((k) => !this.checked.has(k)), [], 'routes this test should have driven but did not');
  }
}
