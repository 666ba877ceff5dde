// A WebSocket and a byte socket piped both ways (an agent's stream and a VM's socket on its host, or a client's socket and
// an agent's stream on the controller), or two WebSockets (a live migration's two agents' streams on the controller).
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
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

/** The largest frame wsSendAll sends. */
export const WS_SEND_FRAME_MAX_BYTES = 1 << 20;

/** The source's bytes sent one frame per chunk (split at WS_SEND_FRAME_MAX_BYTES), each sent before the next is read (back-pressure), then closed 1000 (the
 *  reader's sign that nothing is missing); resolves once the reader answered that close. Rejects when the WebSocket
 *  closes otherwise or a send fails. */
export async function wsSendAll(ws: WebSocket, source: AsyncIterable<Buffer | string>, closeReason = 'end of stream'): Promise<void> {
  const closing = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  const cut = closing.then((code) => Promise.reject(new Error(`the stream closed (${code})`)));
  cut.catch(() => undefined);
  for await (const chunk of source) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    // A stream's read may join what it buffered: frames stay within what a reader takes (an agent's: 1 MiB).
    for (let at = 0; at < bytes.length; at += WS_SEND_FRAME_MAX_BYTES) {
      const frame = bytes.subarray(at, at + WS_SEND_FRAME_MAX_BYTES);
      await Promise.race([new Promise<void>((resolve, reject) => ws.send(frame, (err) => (err ? reject(err) : resolve()))), cut]);
    }
  }
  ws.close(1000, closeReason);
  const code = await closing;
  if (code !== 1000) throw new Error(`the stream closed (${code}) before its end was answered`);
}

/** A WebSocket's binary frames as a byte stream, read with back-pressure (the socket paused while the reader is full):
 *  ended by a close 1000 (wsSendAll's), failed by any other close, since then bytes may be missing. */
export function wsReadable(ws: WebSocket, what: string): Readable {
  const out = new Readable({
    read: () => void ws.resume(),
    destroy: (err, done) => {
      if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.terminate();
      done(err);
    },
  });
  ws.on('message', (data: Buffer) => {
    if (!out.push(data)) ws.pause();
  });
  ws.on('error', () => undefined); // its close follows
  ws.once('close', (code, reason) => {
    if (code === 1000) out.push(null);
    else out.destroy(new Error(`${what} was cut off (close ${code}${reason.length ? `: ${reason.toString()}` : ''})`));
  });
  return out;
}
