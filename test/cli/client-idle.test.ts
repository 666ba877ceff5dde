// The CLI's API client waits as long as the daemon takes (`vm wait`, `stop -w`, long operations):
// Node's global agent would drop a socket idle for 5 s, so the client must not use it.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { ApiClient } from '../../src/cli/client.js';

test('a request the daemon answers after 6 s of silence still succeeds', async () => {
  const server = createServer((_req, res) => {
    setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"stopped":true}'), 6000);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  try {
    const client = new ApiClient({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
    assert.deepEqual(await client.request('POST', '/v1/vms/x/wait', {}), { stopped: true });
  } finally {
    server.close();
  }
});
