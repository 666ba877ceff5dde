// The API's error handling in a real Fastify instance (inject): unknown routes, Fastify's own request errors,
// FORBIDDEN hints by the route's access rule, unexpected failures kept out of the answer.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify from 'fastify';
import { ArdesiaError } from '../contract/errors.js';
import { accessLookup, forbiddenHint, registerErrorHandlers } from './http-errors.js';
import type { Access } from './route.js';

async function app(log: Array<{ obj: object; msg: string }>) {
  const server = Fastify({ logger: false, bodyLimit: 1024 });
  const routes: Array<{ method: 'GET' | 'POST'; url: string; access: Access }> = [
    { method: 'POST', url: '/v1/pools', access: 'admin' },
    { method: 'POST', url: '/v1/vms/:name/start', access: 'vm-owner' },
    { method: 'POST', url: '/v1/users/:name/password', access: 'authenticated' },
    { method: 'GET', url: '/v1/boom', access: 'authenticated' },
  ];
  registerErrorHandlers(server, accessLookup(routes), { error: (obj, msg) => log.push({ obj, msg }) });
  for (const r of routes.slice(0, 3)) server.route({ method: r.method, url: r.url, handler: async () => { throw new ArdesiaError('FORBIDDEN', 'not you'); } });
  server.get('/v1/boom', async () => {
    throw new Error('ENOENT: no such file or directory, open /var/lib/ardesia/secret.db');
  });
  return server;
}

test('an unknown route is 404 NOT_FOUND with a JSON error body', async () => {
  const server = await app([]);
  for (const [method, url] of [['GET', '/v1/nothing'], ['DELETE', '/v1/pools'], ['GET', '/v1/nothing?x=<script>']] as const) {
    const res = await server.inject({ method, url });
    assert.equal(res.statusCode, 404);
    assert.match(String(res.headers['content-type']), /json/);
    const { error } = res.json();
    assert.equal(error.code, 'NOT_FOUND');
    assert.match(error.hint, /openapi\.json/);
    assert.doesNotMatch(error.message, /script/);
  }
});

test("FORBIDDEN's hint follows the route's access rule", async () => {
  const server = await app([]);
  const hintOf = async (url: string) => (await server.inject({ method: 'POST', url, payload: {} })).json().error.hint as string;
  assert.equal(await hintOf('/v1/pools'), forbiddenHint('admin'));
  assert.match(await hintOf('/v1/pools'), /administrator/);
  assert.doesNotMatch(await hintOf('/v1/pools'), /owner/);
  assert.match(await hintOf('/v1/vms/x/start'), /VM's owner/);
  assert.match(await hintOf('/v1/users/bob/password'), /your own account/);
});

test('Fastify request errors are BAD_REQUEST or BODY_TOO_LARGE, not INTERNAL', async () => {
  const server = await app([]);
  const badJson = await server.inject({ method: 'POST', url: '/v1/pools', headers: { 'content-type': 'application/json' }, payload: '{"a":' });
  assert.equal(badJson.statusCode, 400);
  assert.equal(badJson.json().error.code, 'BAD_REQUEST');
  const big = await server.inject({ method: 'POST', url: '/v1/pools', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ a: 'x'.repeat(4096) }) });
  assert.equal(big.statusCode, 413);
  assert.equal(big.json().error.code, 'BODY_TOO_LARGE');
});

test('an unexpected failure answers INTERNAL with a reference; the detail goes only to the log', async () => {
  const log: Array<{ obj: object; msg: string }> = [];
  const server = await app(log);
  const res = await server.inject({ method: 'GET', url: '/v1/boom' });
  assert.equal(res.statusCode, 500);
  const { error } = res.json();
  assert.equal(error.code, 'INTERNAL');
  assert.doesNotMatch(res.body, /ENOENT|secret\.db/);
  assert.doesNotMatch(error.hint, /\bbug\b/i);
  assert.equal(log.length, 1);
  const ref = (log[0]!.obj as { ref: string }).ref;
  assert.ok(error.message.includes(ref), `${error.message} names ${ref}`);
  assert.match(String((log[0]!.obj as { err: Error }).err.message), /secret\.db/);
});
