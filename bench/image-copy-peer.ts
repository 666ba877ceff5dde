// The controller's side of the image-copy benchmark, a process of its own: an HTTPS server whose WebSocket upgrades
// (the stream an agent dials back) get a file's bytes from an offset on with the controller's own code
// (cluster/image-copies.ts fileInto). Usage: image-copy-peer PORT CERT KEY; the upgrade's URL names ?path=&offset=.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import { fileInto } from '../src/cluster/image-copies.js';

const [port, cert, key] = process.argv.slice(2);
const streams = new WebSocketServer({ noServer: true });
const server = createServer({ cert: readFileSync(cert!), key: readFileSync(key!) });
server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
  const url = new URL(req.url ?? '/', 'https://peer');
  streams.handleUpgrade(req, socket, head, (ws) => {
    void fileInto(ws, url.searchParams.get('path')!, Number(url.searchParams.get('offset') ?? 0)).catch(() => ws.terminate());
  });
});
server.listen(Number(port), '127.0.0.1', () => process.stdout.write('ready\n'));
