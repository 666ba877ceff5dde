import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiClient, errorOfAnswer, unreachable } from './client.js';

const errno = (code: string) => Object.assign(new Error(`connect ${code} /x.sock`), { code });

test('a connection failure: EACCES on the socket says the daemon runs; ENOENT and ECONNREFUSED say start it', () => {
  const socket = { socketPath: '/var/lib/ardesia/ardesia.sock' };
  for (const code of ['EACCES', 'EPERM']) {
    const e = unreachable(socket, errno(code));
    assert.equal(e.code, 'DAEMON_SOCKET_DENIED');
    assert.match(e.hint, /The daemon runs/);
  }
  for (const code of ['ENOENT', 'ECONNREFUSED']) {
    const e = unreachable(socket, errno(code));
    assert.equal(e.code, 'DAEMON_UNREACHABLE');
    assert.match(e.hint, /Start the daemon/);
    assert.match(e.message, new RegExp(code));
  }
  assert.equal(unreachable({ url: 'http://10.0.0.5:8080' }, errno('EACCES')).code, 'DAEMON_UNREACHABLE', 'EACCES over TCP is no socket permission');
});

test("an error answer keeps the daemon's code, message and hint; a page from another server is no Ardesia error", () => {
  const body = { error: { code: 'FORBIDDEN', message: 'only an administrator may create a pool', hint: 'Only an administrator may do this: ask one.' } };
  const e = errorOfAnswer(403, body, JSON.stringify(body));
  assert.deepEqual([e.code, e.message, e.hint], ['FORBIDDEN', body.error.message, body.error.hint]);
  const other = errorOfAnswer(502, '<html>Bad Gateway</html>', '<html>Bad Gateway</html>');
  assert.equal(other.code, 'DAEMON_UNREACHABLE');
  assert.match(other.message, /HTTP 502/);
});

/** A server on a unix socket answering each GET with `answer(path)`: [body, Link header]. */
async function pagedServer(answer: (path: string) => [unknown, string | undefined], run: (client: ApiClient, asked: string[]) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ardesia-client-'));
  const asked: string[] = [];
  const server = createServer((req, res) => {
    asked.push(req.url!);
    const [body, link] = answer(req.url!);
    res.writeHead(200, { 'content-type': 'application/json', ...(link ? { link } : {}) }).end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(join(dir, 's.sock'), resolve));
  try {
    await run(new ApiClient({ socketPath: join(dir, 's.sock') }), asked);
  } finally {
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a paged list is read page by page as each Link names the next, and a server naming a page as its own next is refused', async () => {
  const pages: Record<string, [unknown, string | undefined]> = {
    '/v1/x?limit=2': [[1, 2], '</v1/x?limit=2&after=b>; rel="next"'],
    '/v1/x?limit=2&after=b': [[], '</v1/x?limit=2&after=c>; rel="next"'],
    '/v1/x?limit=2&after=c': [[3], undefined],
  };
  await pagedServer((path) => pages[path] ?? [[], undefined], async (client, asked) => {
    assert.deepEqual(await client.requestAll<number>('/v1/x', 2), [1, 2, 3]);
    assert.deepEqual(asked, Object.keys(pages));
  });
  await pagedServer((path) => [[path.length], `<${path}>; rel="next"`], async (client, asked) => {
    await assert.rejects(client.requestAll('/v1/x', 2), (e: Error & { code?: string }) => e.code === 'DAEMON_UNREACHABLE' && /its own next page/.test(e.message));
    assert.equal(asked.length, 1);
  });
});
