// A WebSocket and a byte socket piped both ways (an agent's stream and a VM's socket on its host, or a client's socket and
// an agent's stream on the controller), or two WebSockets (a live migration's two agents' streams on the controller).
import type { Socket } from 'node:net';
import { createWebSocketStream, type WebSocket } from 'ws';

/** Bytes both ways, with back-pressure (the WebSocket as a stream); either end's close ends the other. Returns the end. */
export function socketPipe(ws: WebSocket, socket: Socket): () => void {
  const stream = createWebSocketStream(ws);
  const end = () => {
    socket.destroy();
    stream.destroy();
  };
  socket.on('error', end);
  stream.on('error', end);
  socket.once('close', end);
  stream.once('close', end);
  socket.pipe(stream);
  stream.pipe(socket);
  return end;
}

/** Two WebSockets' bytes both ways, with back-pressure from each side's sends. One side's end closes the other
 *  gracefully once what it sent is written (a migration's last bytes are its devices' state); an error ends both. */
export function wsSplice(a: WebSocket, b: WebSocket): () => void {
  const sa = createWebSocketStream(a);
  const sb = createWebSocketStream(b);
  const end = () => {
    sa.destroy();
    sb.destroy();
  };
  sa.on('error', end);
  sb.on('error', end);
  sa.pipe(sb);
  sb.pipe(sa);
  return end;
}
