// The --listen socket: plain HTTP (loopback, or --insecure-http), or HTTPS with HSTS. On an HTTPS port the first
// byte tells a TLS client from a plain one: plain HTTP gets only /boot/* (iPXE fetches its script and files without
// TLS: PXE is unauthenticated anyway), a redirect for a browser's page, and a refusal for the API.
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { ArdesiaError } from '../contract/errors.js';

/** Browsers remember for a year that this host speaks only HTTPS. */
export const HSTS_HEADER = 'max-age=31536000';
/** The first byte of a TLS record carrying a handshake. */
const TLS_HANDSHAKE_RECORD = 0x16;
/** A connection that sends nothing this long is closed (the HTTP servers' own timeouts start only after it). */
const FIRST_BYTE_TIMEOUT_MS = 30_000;
/**
 * How long an idle keep-alive connection stays open. Node's 5 s races clients that reuse a connection just
 * under their own idle limit (undici: the server's hint − 1 s): on a loaded host the request met a closing
 * socket ("other side closed", seen in a rehearsal). A minute makes such reuse at the edge rare.
 */
const KEEP_ALIVE_MS = 65_000;

/**
 * A client may half-close its side once its request is sent (HTTP/1.0 scripts, `printf … | nc`): Node's HTTP server
 * then aborts the request and closes at once unless its handler answered synchronously, so the client got nothing
 * (seen from a NAT guest's nc: the daemon's answers were lost whenever the FIN came with the request). Answered, then
 * closed. `httpAllowHalfOpen` is Node's own switch for it (lib/_http_server.js, socketOnEnd), not in its documented
 * options; src/daemon/listener.test.ts fails if it stops working.
 */
function answerHalfClosed<S extends HttpServer | HttpsServer>(server: S): S {
  return Object.assign(server, { httpAllowHalfOpen: true });
}

export interface ListenerTarget {
  request(req: IncomingMessage, res: ServerResponse): void;
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
}

export interface Listener {
  url: string;
  close(): Promise<void>;
}

export interface ListenerOptions {
  host: string;
  port: number;
  /** PEM certificate and key: HTTPS; absent: plain HTTP. */
  tls?: { cert: Buffer; key: Buffer };
}

export async function listenerStart(opts: ListenerOptions, target: ListenerTarget): Promise<Listener> {
  const sockets = new Set<Socket>();
  let front: NetServer | HttpServer;
  let scheme: 'http' | 'https';
  const closers: Array<() => void> = [];
  if (!opts.tls) {
    const http = answerHalfClosed(createHttpServer((req, res) => target.request(req, res)));
    http.keepAliveTimeout = KEEP_ALIVE_MS;
    http.on('upgrade', (req, socket, head) => target.upgrade(req, socket, head));
    // Upgraded sockets leave the HTTP server's books: tracked here, or one left open would hold the stop forever.
    http.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    front = http;
    scheme = 'http';
    closers.push(() => {
      for (const s of sockets) s.destroy();
      http.closeAllConnections();
    });
  } else {
    const https = answerHalfClosed(createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key, minVersion: 'TLSv1.2' }, (req, res) => {
      res.setHeader('strict-transport-security', HSTS_HEADER);
      target.request(req, res);
    }));
    https.on('upgrade', (req, socket, head) => target.upgrade(req, socket, head));
    const plain = answerHalfClosed(createHttpServer((req, res) => plainOnHttpsPort(req, res, target)));
    https.keepAliveTimeout = KEEP_ALIVE_MS;
    plain.keepAliveTimeout = KEEP_ALIVE_MS;
    plain.on('upgrade', (_req, socket) => socket.destroy()); // no WebSocket without TLS
    front = createNetServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => socket.destroy()); // a reset before the first byte must not reach the event loop as uncaught
      socket.setTimeout(FIRST_BYTE_TIMEOUT_MS, () => socket.destroy());
      socket.once('data', (first: Buffer) => {
        socket.setTimeout(0);
        // Put back, paused: the TLS wrap reads buffered bytes first by itself; the HTTP parser needs the flow resumed.
        socket.pause();
        socket.unshift(first);
        if (first[0] === TLS_HANDSHAKE_RECORD) return void https.emit('connection', socket);
        plain.emit('connection', socket);
        socket.resume();
      });
    });
    scheme = 'https';
    closers.push(() => {
      for (const s of sockets) s.destroy();
      https.closeAllConnections();
      plain.closeAllConnections();
    });
  }
  const server = front;
  await new Promise<void>((ok, fail) => server.once('error', fail).listen(opts.port, opts.host, () => ok()));
  const addr = server.address() as AddressInfo;
  return {
    url: `${scheme}://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`,
    close: async () => {
      for (const c of closers) c();
      await new Promise((done) => server.close(done));
    },
  };
}

/** Plain HTTP on the HTTPS port: netboot's files, a redirect for pages; the API (passwords, tokens, cookies) is refused. */
function plainOnHttpsPort(req: IncomingMessage, res: ServerResponse, target: ListenerTarget): void {
  const path = req.url ?? '/';
  if (path.startsWith('/boot/')) return target.request(req, res);
  const host = req.headers.host;
  if ((req.method === 'GET' || req.method === 'HEAD') && !path.startsWith('/v1/') && host) {
    res.writeHead(308, { location: `https://${host}${path}` }).end();
    return;
  }
  const err = new ArdesiaError('TLS_REQUIRED', `this server speaks HTTPS: plain HTTP is refused (use https://${host ?? 'HOST:PORT'}${path.split('?')[0]})`);
  res.writeHead(err.status, { 'content-type': 'application/json; charset=utf-8', connection: 'close' }).end(JSON.stringify(err.toBody()));
}
