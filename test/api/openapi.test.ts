// The OpenAPI document the daemon serves, checked against the routes it really has: every declared route
// is described with its access level, every described operation answers (never "no route"), and bodies
// that break their schema are refused with BAD_REQUEST and the field named.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ALL_ROUTES } from '../../src/api/server.js';
import { ApiClient } from '../../src/cli/client.js';
import { ERROR_REGISTRY } from '../../src/contract/errors.js';
import { TestDaemon } from '../helpers/daemon.js';

type Operation = { summary: string; 'x-access': string; requestBody?: unknown };
type Doc = { paths: Record<string, Record<string, Operation>>; components: { 'x-error-codes': Record<string, unknown> } };

let daemon: TestDaemon;
let doc: Doc;

before(async () => {
  daemon = await TestDaemon.start({ extraArgs: ['--listen', '127.0.0.1:0'] });
  doc = await daemon.api().request<Doc>('GET', '/v1/openapi.json');
});
after(async () => daemon?.destroy());

const openApiPath = (url: string) => url.replace(/:([A-Za-z]+)/g, '{$1}');

test('every route is described, with its access level and request body', () => {
  for (const route of ALL_ROUTES) {
    const op = doc.paths[openApiPath(route.url)]?.[route.method.toLowerCase()];
    assert.ok(op, `${route.method} ${route.url} is missing from the OpenAPI document`);
    assert.equal(op['x-access'], route.access, `${route.method} ${route.url}`);
    assert.equal(op.summary, route.summary);
    assert.equal(op.requestBody !== undefined, route.body !== undefined, `${route.method} ${route.url}: request body described iff validated`);
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
