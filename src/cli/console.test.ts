// The console's first bytes (the replay) can come in the same read as the server's 101: a server that writes both
// at once, as a loaded daemon may, must not lose them. Also a console closed before the terminal takes it over.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { test } from 'node:test';
import { ApiClient } from './client.js';
import { openConsole } from './console.js';

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** A server that answers the upgrade and, in the same write, sends `frames` (unmasked WebSocket frames). */
function oneWriteServer(frames: Buffer[]): Promise<{ server: Server; url: string }> {
  const server = createServer((socket: Socket) => {
    let head = '';
    socket.on('data', (d) => {
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      const key = /sec-websocket-key: *(\S+)/i.exec(head)![1]!;
      const accept = createHash('sha1').update(key + WS_GUID).digest('base64');
      const reply = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`;
      socket.write(Buffer.concat([Buffer.from(reply, 'latin1'), ...frames]));
    });
    socket.on('error', () => undefined);
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok({ server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}` })));
}

const binaryFrame = (payload: string) => Buffer.concat([Buffer.from([0x82, payload.length]), Buffer.from(payload)]);
const closeFrame = (code: number, reason: string) => {
  const body = Buffer.concat([Buffer.from([code >> 8, code & 0xff]), Buffer.from(reason)]);
  return Buffer.concat([Buffer.from([0x88, body.length]), body]);
};
const turn = () => new Promise((ok) => setImmediate(ok));

test('a replay that arrives with the 101 is held until the terminal takes it', async () => {
  const { server, url } = await oneWriteServer([binaryFrame('login: '), binaryFrame('root\r\n')]);
  try {
    const { ws, held } = await openConsole(new ApiClient({ url }), 'vm1', 4096);
    await turn(); // as attachConsole meets it: after other consoles opened
    assert.deepEqual(held.take().map((b) => b.toString()), ['login: ', 'root\r\n']);
    assert.equal(held.closedWith, undefined);
    ws.terminate();
  } finally {
    server.close();
  }
});

test('a console that closes before the terminal takes it over says so with its reason', async () => {
  const { server, url } = await oneWriteServer([binaryFrame('bye'), closeFrame(1000, 'VM_NOT_RUNNING gone')]);
  try {
    const { held } = await openConsole(new ApiClient({ url }), 'vm1', 4096);
    for (let i = 0; i < 20 && !held.closedWith; i++) await turn();
    assert.deepEqual(held.take().map((b) => b.toString()), ['bye']);
    assert.equal(held.closedWith?.toString(), 'VM_NOT_RUNNING gone');
  } finally {
    server.close();
  }
});
