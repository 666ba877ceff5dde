// The WebSocket opening handshake on a raw socket from the HTTP server's 'upgrade' event, done here (not by
// a WebSocket library) so that the socket can go to the native relay or the Node pipe untouched.
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { ErrorBody } from '../contract/errors.js';
import { BrowserFrameReader, CLOSE_WAIT_MS, closeFrame, upgradeProblem, upgradeResponse } from './websocket-frames.js';

/** Answers a request that is no WebSocket handshake with a plain HTTP error and ends the socket. */
export function upgradeRefuseHttp(socket: Socket, status: number, body: ErrorBody): void {
  const json = JSON.stringify(body);
  socket.on('error', () => undefined);
  socket.end(
    `HTTP/1.1 ${status} ${status === 400 ? 'Bad Request' : 'Error'}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}`,
  );
}

/** Why the request cannot be upgraded, or undefined. */
export const upgradeCheck = (req: IncomingMessage): string | undefined => upgradeProblem({ method: req.method, headers: req.headers });

/** Writes the 101 answer; resolves once it is handed to the kernel (the relay then owns the fd). */
export function upgradeAnswer(socket: Socket, req: IncomingMessage): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.write(upgradeResponse({ method: req.method, headers: req.headers }), (err) => (err ? reject(err) : resolve()));
  });
}

/**
 * Closes an answered WebSocket before any pipe exists (a refused ticket): the close frame, then the
 * browser's reply or its end, at most CLOSE_WAIT_MS; then the socket is gone.
 */
export function upgradeCloseNow(socket: Socket, fromBrowser: Buffer, code: number, reason: string): void {
  const reader = new BrowserFrameReader();
  const timer = setTimeout(() => socket.destroy(), CLOSE_WAIT_MS).unref();
  const onData = (chunk: Buffer) => {
    for (const event of reader.feed(chunk)) {
      if (event.kind === 'close') socket.end();
      else if (event.kind === 'violation') socket.destroy();
    }
  };
  socket.on('error', () => undefined);
  socket.once('close', () => clearTimeout(timer));
  socket.once('end', () => socket.end());
  socket.write(closeFrame(code, reason));
  onData(fromBrowser);
  socket.on('data', onData);
  socket.resume();
}
