// Long-lived connections for the security tests: an event stream, a console and a display WebSocket, each with a
// promise that settles when the daemon closes it.
import { request } from 'node:http';
import WebSocket from 'ws';

export interface Live {
  what: string;
  /** Settles with how it ended once the daemon closes the connection. */
  closed: Promise<string>;
}

/** GET /v1/events as a browser's EventSource would (cookie) or a script (token). */
export function eventStream(url: string, auth: { cookie?: string; token?: string }): Promise<Live> {
  return new Promise((resolve, reject) => {
    const u = new URL('/v1/events', url);
    const req = request({ hostname: u.hostname, port: u.port, path: u.pathname, headers: { accept: 'text/event-stream', ...(auth.cookie ? { cookie: auth.cookie } : {}), ...(auth.token ? { authorization: `Bearer ${auth.token}` } : {}) } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`events: ${res.statusCode}`));
      const closed = new Promise<string>((done) => {
        res.on('close', () => done('closed'));
        res.on('error', () => done('error'));
      });
      res.resume();
      res.once('data', () => resolve({ what: 'events', closed }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A WebSocket that is open; `closed` gives "code reason". */
export function socketOpen(what: string, wsUrl: string, headers: Record<string, string>): Promise<Live & { ws: WebSocket }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl, ['binary'], { headers });
    const closed = new Promise<string>((done) => ws.once('close', (code, reason) => done(`${code} ${reason.toString()}`)));
    ws.once('open', () => resolve({ what, ws, closed }));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`${what}: HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

/** Settles with what the promise gave, or fails after a generous deadline (a hang is the attack working). */
export function within<T>(what: string, p: Promise<T>, ms = 30_000): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what} still open after ${ms / 1000} s`)), ms).unref())]);
}
