// The OpenAPI document the daemon serves, checked against what the daemon really does: every operation's error
// answer validates against the error schema; every declared route is described with its access level; bodies
// that break their schema are refused. The success bodies: test/api/openapi-responses.test.ts.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import AjvModule from 'ajv';
import { successStatus } from '../../src/api/openapi.js';
import { ALL_ROUTES } from '../../src/api/server.js';
import { ApiClient } from '../../src/cli/client.js';
import { ERROR_REGISTRY } from '../../src/contract/errors.js';
import { TestDaemon } from '../helpers/daemon.js';

type Schema = Record<string, unknown>;
type Response = { content?: { 'application/json': { schema: Schema } } };
type Operation = { summary: string; 'x-access': string; requestBody?: unknown; responses: Record<string, Response> };
type Doc = { paths: Record<string, Record<string, Operation>>; components: { 'x-error-codes': Record<string, unknown> } };

// ajv is Fastify's own validator (a dependency of fastify); OpenAPI 3.0 schemas use `nullable`.
const ajv = new AjvModule.default({ strict: false, allErrors: true });
let daemon: TestDaemon;
let doc: Doc;
let url: string;
let rootToken: string;

before(async () => {
  daemon = await TestDaemon.start({ extraArgs: ['--listen', '127.0.0.1:0'] });
  url = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(daemon.output)![1]!;
  rootToken = readFileSync(join(daemon.dataDir, 'root.token'), 'utf8').trim();
  doc = await daemon.api().request<Doc>('GET', '/v1/openapi.json');
});

/** A raw HTTP call (status and parsed body), with the root token unless anonymous. */
async function call(method: string, path: string, anonymous = false, body: unknown = {}): Promise<{ status: number; body: unknown }> {
  const headers: Record<string, string> = anonymous ? {} : { authorization: `Bearer ${rootToken}` };
  const withBody = method !== 'GET' && method !== 'DELETE';
  if (withBody) headers['content-type'] = 'application/json';
  const res = await fetch(`${url}${path}`, { method, headers, body: withBody ? JSON.stringify(body) : undefined });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
}

/** Problems of `body` against `schema`, or an empty list. */
function problems(schema: Schema, body: unknown): string[] {
  const validate = ajv.compile(schema);
  return validate(body) ? [] : (validate.errors ?? []).map((e: { instancePath: string; message?: string; params: unknown }) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`);
}
after(async () => daemon?.destroy());

const openApiPath = (url: string) => url.replace(/:([A-Za-z]+)/g, '{$1}');

test('every route is described, with its access level and request body', () => {
  for (const route of ALL_ROUTES) {
    const op = doc.paths[openApiPath(route.url)]?.[route.method.toLowerCase()];
    assert.ok(op, `${route.method} ${route.url} is missing from the OpenAPI document`);
    assert.equal(op['x-access'], route.access, `${route.method} ${route.url}`);
    assert.equal(op.summary, route.summary);
    assert.equal(op.requestBody !== undefined, route.body !== undefined || route.upload !== undefined, `${route.method} ${route.url}: request body described iff validated or an upload`);
    const success = op.responses[String(successStatus(route))];
    assert.ok(route.stream === 'websocket' || success?.content, `${route.method} ${route.url}: no success body described`);
  }
  assert.deepEqual(Object.keys(doc.components['x-error-codes']).sort(), Object.keys(ERROR_REGISTRY).sort());
});

test('every described operation exists on the server (anonymous calls get 401/403, never "no route")', async () => {
  const anonymous = new ApiClient({ socketPath: daemon.socket });
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      if (method === 'get' && /socket|console|events/.test(path)) continue; // WebSocket and SSE endpoints
      const url = path.replace(/\{[^}]+\}/g, 'x1');
      const err = await anonymous.request(method.toUpperCase(), url, method === 'get' || method === 'delete' ? undefined : {}).then(() => undefined, (e: Error) => e);
      if (op['x-access'] === 'public') continue;
      assert.ok(err, `${method} ${path} answered an anonymous call`);
      assert.doesNotMatch(err.message, /no route/, `${method} ${path}`);
      assert.equal((err as { code?: string }).code, 'UNAUTHENTICATED', `${method} ${path}: ${err.message}`);
    }
  }
});

test('a body that breaks its schema is refused with BAD_REQUEST naming the field', async () => {
  const err = await daemon.api().request('POST', '/v1/pools', { name: 'p1', image: 'i', maxDesktops: 'many' }).then(() => undefined, (e: Error) => e);
  assert.equal((err as { code?: string })?.code, 'BAD_REQUEST');
  assert.match(err!.message, /maxDesktops/);
});

test('every operation’s error answer validates against the document’s error schema', async () => {
  let checked = 0;
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      if (op['x-access'] === 'public' || (method === 'get' && /socket|console|events/.test(path))) continue; // WebSocket and SSE endpoints
      const schema = op.responses.default?.content?.['application/json'].schema;
      assert.ok(schema, `${method} ${path}: no error schema`);
      const res = await call(method.toUpperCase(), path.replace(/\{[^}]+\}/g, 'x1'), true);
      assert.equal(res.status, 401, `${method} ${path}: ${JSON.stringify(res.body)}`);
      assert.deepEqual(problems(schema, res.body), [], `${method} ${path}: ${JSON.stringify(res.body)}`);
      checked++;
    }
  }
  assert.ok(checked > 20, `only ${checked} operations checked`);
  const notFound = await call('GET', '/v1/vms/no-such-vm');
  assert.equal(notFound.status, 404);
  assert.deepEqual(problems(doc.paths['/v1/vms/{name}']!.get!.responses.default!.content!['application/json'].schema, notFound.body), []);
});
