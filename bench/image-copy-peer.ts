// The controller's side of the image-copy and state-move benchmarks, a process of its own: an HTTPS server whose
// WebSocket upgrades (the stream an agent dials back) get, with the controller's own code, a file's bytes from an offset
// on (cluster/image-copies.ts fileInto: ?path=&offset=), or a saved state as a start placed on another host sends it
// (cluster/remote-states.ts: ?state=FOLDER, its manifest.json and state.bin). Usage: image-copy-peer PORT CERT KEY.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { WebSocketServer } from 'ws';
import { fileInto } from '../src/cluster/image-copies.js';
import { wsSendAll } from '../src/lib/ws-pipe.js';
import { savedStateRead, savedStateSendStream } from '../src/vms/vm-saved-state.js';

const [port, cert, key] = process.argv.slice(2);
const streams = new WebSocketServer({ noServer: true });
const server = createServer({ cert: readFileSync(cert!), key: readFileSync(key!) });
server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
  const url = new URL(req.url ?? '/', 'https://peer');
  streams.handleUpgrade(req, socket, head, (ws) => {
    const state = url.searchParams.get('state');
    if (state !== null) {
      const files = { dir: state, manifest: join(state, 'manifest.json'), stream: join(state, 'state.bin') };
      void wsSendAll(ws, savedStateSendStream(files, savedStateRead(files)!) as AsyncIterable<Buffer>, 'end of state').catch(() => ws.terminate());
      return;
    }
    void fileInto(ws, url.searchParams.get('path')!, Number(url.searchParams.get('offset') ?? 0)).catch(() => ws.terminate());
  });
});
server.listen(Number(port), '127.0.0.1', () => process.stdout.write('ready\n'));
