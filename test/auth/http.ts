// Raw HTTP calls for the auth tests: any status comes back (no throwing), with headers, over the unix socket or TCP
// from a chosen loopback address (127.0.0.x) so tests can act as different client addresses.
import { request } from 'node:http';

export interface Target {
  socketPath?: string;
  url?: string;
  /** Source address for TCP: any 127.0.0.0/8 address works on loopback. */
  localAddress?: string;
}

export interface CallOptions {
  token?: string;
  cookie?: string;
  body?: unknown;
  /** The Origin header: by default, with a cookie, this server's own (as a browser sends); null: none. */
  origin?: string | null;
  /** The Content-Type of the body (default application/json). */
  contentType?: string;
  /** Extra headers (X-Forwarded-For…). */
  headers?: Record<string, string>;
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: any;
}

export function call(target: Target, method: string, path: string, opts: CallOptions = {}): Promise<Reply> {
  const payload = opts.body === undefined ? undefined : Buffer.from(typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body));
  const url = target.url ? new URL(path, target.url) : undefined;
  const origin = opts.origin === null ? undefined : (opts.origin ?? (opts.cookie ? (url?.origin ?? 'http://localhost') : undefined));
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath: target.socketPath,
        hostname: url?.hostname,
        port: url?.port,
        localAddress: target.localAddress,
        path: url ? url.pathname + url.search : path,
        method,
        timeout: 30_000,
        headers: {
          ...(payload ? { 'content-type': opts.contentType ?? 'application/json', 'content-length': payload.length } : {}),
          ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
          ...(opts.cookie ? { cookie: opts.cookie } : {}),
          ...(origin ? { origin } : {}),
          ...opts.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown = text;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            // not JSON (raw text routes)
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, json });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    if (payload) req.write(payload);
    req.end();
  });
}

/** The ardesia_session value of a reply's Set-Cookie, as a Cookie header. */
export function sessionCookieOf(reply: Reply): string | undefined {
  const set = ([] as string[]).concat(reply.headers['set-cookie'] ?? []);
  const c = set.find((s) => s.startsWith('ardesia_session='));
  return c?.split(';')[0];
}
