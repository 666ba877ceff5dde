import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { listenerStart } from './listener.js';

/** A request sent, the client's side then closed at once (what `printf … | nc` does): the answer it reads. */
function halfClosedRequest(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const c = connect(port, '127.0.0.1', () => c.end(request));
    c.on('data', (d: Buffer) => (got += d.toString()));
    c.on('error', reject);
    c.on('close', () => resolve(got));
  });
}

test('a client that half-closes after its request still gets the answer of an asynchronous handler', async () => {
  const listener = await listenerStart({ host: '127.0.0.1', port: 0 }, {
    request: (_req, res) => void setTimeout(() => res.end('late answer\n'), 50),
    upgrade: (_req, socket) => socket.destroy(),
  });
  try {
    const port = Number(new URL(listener.url).port);
    const got = await halfClosedRequest(port, 'GET / HTTP/1.0\r\n\r\n');
    assert.match(got, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(got, /late answer\n$/);
  } finally {
    await listener.close();
  }
});
