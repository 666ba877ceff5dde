import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { defineRoute, parseInput, urlNameOf, urlParamsSchema } from './route.js';

// Compiled to dist/src/api: the sources are three folders up, in src/.
const SRC = join(process.env.ARDESIA_REPO_ROOT ?? join(import.meta.dirname, '..', '..', '..'), 'src');
/** Where API routes are declared: the api folder (the display routes included). */
const ROUTE_SOURCES = ['api'];

describe('request input is parsed once, at the edge', () => {
  it('no route source casts body, query or params (the handler receives the parsed type)', () => {
    const files = ROUTE_SOURCES.flatMap((dir) => readdirSync(join(SRC, dir)).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts')).map((f) => join(dir, f)));
    assert.ok(files.includes(join('api', 'routes-vm.ts')) && files.includes(join('api', 'routes-display.ts')), `sources found in ${SRC}: ${files.join(', ')}`);
    const casts = /\b(?:body|query|params)\)?\s+as\s|\bparams\.[A-Za-z]+!/;
    const found = files.flatMap((f) =>
      readFileSync(join(SRC, f), 'utf8')
        .split('\n')
        .map((line, i) => ({ where: `src/${f}:${i + 1}`, line }))
        .filter(({ line }) => casts.test(line)),
    );
    assert.deepEqual(found, [], 'parse with the route schema (defineRoute / parseInput) instead of casting');
  });

  it('the grep above does catch the casts it forbids', () => {
    const casts = /\b(?:body|query|params)\)?\s+as\s|\bparams\.[A-Za-z]+!/;
    for (const line of ['app.vms.stop(params.name!, body as z.infer<typeof StopBody>)', 'const q = query as LogQuery;', '(req.params as { name: string }).name', 'input.body as Pool,']) {
      assert.match(line, casts, line);
    }
    assert.doesNotMatch('handler: async ({ app, params, body }) => app.vms.stop(params.name, body)', casts);
  });

  it('parseInput returns the schema output or BAD_REQUEST naming the field and what it accepts', () => {
    const Stop = z.object({ waitMs: z.number().int().min(0).optional(), kind: z.enum(['console', 'qemu']).default('console') }).strict();
    assert.deepEqual(parseInput(Stop, { waitMs: 5 }, 'body'), { waitMs: 5, kind: 'console' });
    assert.deepEqual(parseInput(Stop.default({}), undefined, 'body'), { kind: 'console' }, 'an absent body takes the schema default');
    const cases: Array<[unknown, RegExp]> = [
      [{ waitMs: null }, /^body\.waitMs: Expected number, received null$/],
      [{ waitMs: 'abc' }, /^body\.waitMs: Expected number, received string$/],
      [{ waitMs: -1 }, /^body\.waitMs: Number must be greater than or equal to 0$/],
      [{ kind: 'serial' }, /^body\.kind: Invalid enum value\. Expected 'console' \| 'qemu', received 'serial'$/],
      [{ colour: 'blue' }, /^body: Unrecognized key\(s\) in object: 'colour'$/],
    ];
    for (const [value, message] of cases) {
      assert.throws(() => parseInput(Stop, value, 'body'), (err: { code: string; message: string }) => {
        assert.equal(err.code, 'BAD_REQUEST');
        assert.match(err.message, message);
        return true;
      });
    }
  });

  it('a route without a params schema parses the URL names as required strings', () => {
    const schema = urlParamsSchema('/v1/pools/:pool/desktops/:desktop/reset');
    assert.deepEqual(schema.parse({ pool: 'p', desktop: 'd' }), { pool: 'p', desktop: 'd' });
    assert.throws(() => parseInput(schema, { pool: 'p' }, 'params'), /params\.desktop: Required/);
    const route = defineRoute({ method: 'GET', url: '/v1/things/:thing', summary: 's', access: 'admin', response: z.string(), handler: async ({ params }) => params.thing.toUpperCase() });
    assert.ok(route.params, 'defineRoute fills in the params schema from the URL');
    assert.deepEqual(route.params.parse({ thing: 'x' }), { thing: 'x' });
    // Compile-time: the handler's input has the parsed types, and nothing the schemas do not give.
    defineRoute({
      method: 'POST', url: '/v1/things/:thing', summary: 's', access: 'admin', body: z.object({ n: z.number() }), response: z.number(),
      handler: async ({ params, body, query }) => {
        const n: number = body.n;
        // @ts-expect-error no :other in the URL
        void params.other;
        // @ts-expect-error no query schema: nothing to read
        void query.anything;
        return n;
      },
    });
    // Compile-time: the handler returns what its response schema describes.
    // @ts-expect-error a string where the route declares a number
    defineRoute({ method: 'GET', url: '/v1/x', summary: 's', access: 'admin', response: z.number(), handler: async () => 'text' });
    // @ts-expect-error a route without a response schema
    defineRoute({ method: 'GET', url: '/v1/y', summary: 's', access: 'admin', handler: async () => 1 });
    assert.equal(urlNameOf({ name: 'vm1' }), 'vm1');
    assert.equal(urlNameOf({ pool: 'p' }), undefined);
  });
});
