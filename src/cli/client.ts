// The CLI's way to the daemon: its HTTP API over the local unix socket, or over HTTP with --url.
import { chmodSync, createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent, type ClientRequest, type IncomingMessage, request as httpRequest, type RequestOptions } from 'node:http';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { homedir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import type WebSocket from 'ws';
import { ArdesiaError, type ErrorBody, isErrorCode } from '../contract/errors.js';
import { nextPageOf } from '../contract/paging.js';
import { fingerprintParse } from '../tls/fingerprint.js';
import { type ServerTrust, verifiedTlsConnect } from './tls-trust.js';

export const DEFAULT_DATA_DIR = '/var/lib/ardesia';
/** The page the CLI reads a long list by: each answer bounded, the daemon's other requests served between pages. */
export const LIST_PAGE_SIZE = 500;

// Node's global agent drops a socket idle for 5 s; `vm wait`, `stop -w` and long polls are idle far longer.
const NO_IDLE_TIMEOUT_AGENT = new Agent({ keepAlive: false });

export interface Endpoint {
  socketPath?: string;
  url?: string;
  token?: string;
  /** How an https:// url's server is verified. */
  trust?: ServerTrust;
}

export interface GlobalOptions {
  dataDir?: string;
  runDir?: string;
  socket?: string;
  url?: string;
  json?: boolean;
  /** A CA file for an https:// --url. */
  ca?: string;
  /** The SHA-256 fingerprint an https:// --url's certificate must have. */
  fingerprint?: string;
}

/** What `ardesia login` keeps beside the token: which server it was, and how it is trusted. */
export interface SavedLogin {
  url: string;
  fingerprint?: string;
  ca?: string;
}

export function resolveDataDir(opts: GlobalOptions): string {
  return opts.dataDir ?? process.env.ARDESIA_DATA_DIR ?? DEFAULT_DATA_DIR;
}

/** This host's own folder (socket, lock, VM runtime and logs): the data folder unless controllers share it. */
export function resolveRunDir(opts: GlobalOptions): string {
  return opts.runDir ?? process.env.ARDESIA_RUN_DIR ?? resolveDataDir(opts);
}

/** Where `ardesia login` keeps this user's token (0600). */
export function loginTokenPath(): string {
  return join(process.env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'ardesia', 'token');
}

/** Where `ardesia login` keeps the server's address and trust (0600, beside the token). */
export function savedLoginPath(): string {
  return join(dirname(loginTokenPath()), 'login.json');
}

export function savedLoginRead(): SavedLogin | undefined {
  try {
    const v = JSON.parse(readFileSync(savedLoginPath(), 'utf8')) as Partial<SavedLogin>;
    return typeof v.url === 'string' ? { url: v.url, fingerprint: v.fingerprint, ca: v.ca } : undefined;
  } catch {
    return undefined; // none yet (or damaged: the next login rewrites it)
  }
}

export function savedLoginWrite(login: SavedLogin): void {
  const path = savedLoginPath();
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, `${JSON.stringify(login, null, 2)}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
}

const originOf = (url: string) => {
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
};

/** The trust for `url`: --fingerprint / --ca (or ARDESIA_FINGERPRINT / ARDESIA_CA), else what `ardesia login` saved for that server. */
export function trustFor(url: string, opts: GlobalOptions): ServerTrust {
  const saved = savedLoginRead();
  const same = saved && originOf(saved.url) === originOf(url) ? saved : undefined;
  const fingerprint = opts.fingerprint ?? (process.env.ARDESIA_FINGERPRINT || undefined) ?? same?.fingerprint;
  const caPath = opts.ca ?? (process.env.ARDESIA_CA || undefined) ?? same?.ca;
  let caPem: string | undefined;
  if (caPath) {
    try {
      caPem = readFileSync(caPath, 'utf8');
    } catch (err) {
      throw new ArdesiaError('TLS_CONFIG_INVALID', `cannot read the CA file ${caPath}: ${(err as Error).message}`, undefined, 'Give --ca a readable PEM file: the daemon\'s DATA_DIR/tls/ca.crt copied from the server, or your own CA.');
    }
  }
  return { fingerprint: fingerprint === undefined ? undefined : fingerprintParse(fingerprint), caPem, caPath };
}

function readToken(path: string): string | undefined {
  try {
    return existsSync(path) ? readFileSync(path, 'utf8').trim() || undefined : undefined;
  } catch {
    return undefined; // unreadable: the daemon will say the request is unauthenticated
  }
}

/** Where the daemon is and which token to present: ARDESIA_TOKEN, root's file, the owner file of this user, or the `ardesia login` token. */
export function resolveEndpoint(opts: GlobalOptions): Endpoint {
  const dataDir = resolveDataDir(opts);
  const url = opts.url ?? process.env.ARDESIA_URL;
  const user = process.getuid?.() === 0 ? 'root' : userInfo().username;
  const tokenFile = user === 'root' ? join(dataDir, 'root.token') : join(dataDir, 'tokens', `${user}.token`);
  const token = process.env.ARDESIA_TOKEN || readToken(tokenFile) || readToken(loginTokenPath());
  if (url) return { url: url.replace(/\/$/, ''), token, trust: url.startsWith('https:') ? trustFor(url, opts) : undefined };
  return { socketPath: opts.socket ?? process.env.ARDESIA_SOCKET ?? join(resolveRunDir(opts), 'ardesia.sock'), token };
}

/** A failed connection in words: a socket this user may not open means the daemon runs (EACCES), not that it is down. */
export function unreachable(ep: Endpoint, err: Error): ArdesiaError {
  const where = ep.url ?? ep.socketPath;
  const code = (err as NodeJS.ErrnoException).code;
  if (ep.socketPath && (code === 'EACCES' || code === 'EPERM')) {
    return new ArdesiaError('DAEMON_SOCKET_DENIED', `the daemon's socket ${ep.socketPath} exists, but this user (uid ${process.getuid?.() ?? '?'}) may not open it (${code})`);
  }
  return new ArdesiaError('DAEMON_UNREACHABLE', `no Ardesia daemon answers at ${where} (${code ?? err.message})`);
}

/** An answer's body: JSON when it says so (a proxy's or another server's page stays text, reported as such). */
function answerBody(res: IncomingMessage, text: string): { value: unknown; text: string } {
  const isJson = (res.headers['content-type'] ?? '').includes('json');
  try {
    return { value: isJson && text ? JSON.parse(text) : text, text };
  } catch {
    return { value: text, text };
  }
}

/** The error of an API answer: the daemon's code, message and hint (a route-specific hint included). */
export function errorOfAnswer(status: number, body: unknown, text: string): ArdesiaError {
  const e = (body as Partial<ErrorBody> | undefined)?.error;
  if (e && isErrorCode(e.code)) return new ArdesiaError(e.code, e.message, e.details, e.hint);
  return new ArdesiaError('DAEMON_UNREACHABLE', `the server answered HTTP ${status} without an Ardesia error (is it the Ardesia daemon?): ${text.slice(0, 200)}`);
}

/** A whole answer: its JSON on success (with the answer's headers to `onHeaders`), else the daemon's error. */
function jsonAnswer<T>(res: IncomingMessage, resolve: (value: T) => void, reject: (err: unknown) => void, onHeaders?: (headers: IncomingMessage['headers']) => void): void {
  const chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(c));
  res.on('end', () => {
    const parsed = answerBody(res, Buffer.concat(chunks).toString('utf8'));
    onHeaders?.(res.headers);
    if ((res.statusCode ?? 500) < 400) return resolve(parsed.value as T);
    reject(errorOfAnswer(res.statusCode ?? 500, parsed.value, parsed.text));
  });
}

export class ApiClient {
  constructor(readonly endpoint: Endpoint) {}

  request<T>(method: string, path: string, body?: unknown, timeoutMs = 0): Promise<T> {
    return new Promise((resolve, reject) => {
      this.send(method, path, body, timeoutMs, reject, (res) => jsonAnswer<T>(res, resolve, reject));
    });
  }

  /** Every item of a paged list (src/contract/paging.ts): pages of `pageSize`, each next one named by the Link header. */
  async requestAll<T>(path: string, pageSize = LIST_PAGE_SIZE): Promise<T[]> {
    const items: T[] = [];
    let next: string | undefined = `${path}${path.includes('?') ? '&' : '?'}limit=${pageSize}`;
    while (next !== undefined) {
      let link: string | undefined;
      const page: T[] = await new Promise((resolve, reject) => {
        this.send('GET', next!, undefined, 0, reject, (res) => jsonAnswer<T[]>(res, resolve, reject, (h) => (link = Array.isArray(h.link) ? h.link.join(', ') : h.link)));
      });
      items.push(...page);
      const after: string | undefined = nextPageOf(link);
      if (after === next) throw new ArdesiaError('DAEMON_UNREACHABLE', `the server named the page ${next} as its own next page (is it the Ardesia daemon?)`);
      next = after;
    }
    return items;
  }

  /** A streamed success body written to `file` (created 0600); an error answer is thrown as the daemon's error. */
  download(method: string, path: string, body: unknown, file: string | Writable): Promise<void> {
    return new Promise((resolve, reject) => {
      this.send(method, path, body, 0, reject, (res) => {
        if ((res.statusCode ?? 500) >= 400) return jsonAnswer(res, resolve, reject);
        const out = typeof file === 'string' ? createWriteStream(file, { mode: 0o600 }) : file;
        pipeline(res, out).then(resolve, (err: Error) => reject(unreachable(this.endpoint, err)));
      });
    });
  }

  /** Sends `input` as the request body (application/octet-stream, streamed); the JSON answer. */
  upload<T>(method: string, path: string, input: Readable): Promise<T> {
    return new Promise((resolve, reject) => {
      const req = this.send(method, path, input, 0, reject, (res) => jsonAnswer<T>(res, resolve, reject));
      // The daemon may answer (a refusal) before it read everything: the answer counts, not the broken pipe.
      req.on('error', () => undefined);
    });
  }

  private send(method: string, path: string, body: unknown, timeoutMs: number, reject: (err: unknown) => void, onResponse: (res: IncomingMessage) => void): ClientRequest {
    const ep = this.endpoint;
    const stream = body instanceof Readable ? body : undefined;
    const payload = body === undefined || stream ? undefined : Buffer.from(JSON.stringify(body));
    const target = ep.url ? new URL(path, ep.url) : undefined;
    const secure = target?.protocol === 'https:';
    const req = httpRequest(
      {
        socketPath: ep.socketPath,
        hostname: target?.hostname,
        port: target ? target.port || (secure ? 443 : 80) : undefined,
        path: target ? target.pathname + target.search : path,
        method,
        // https: one verified TLS connection per request (no agent: the connection is made by the check itself).
        ...(secure ? { createConnection: verifiedTlsConnect(ep.trust ?? {}) as unknown as RequestOptions['createConnection'] } : { agent: NO_IDLE_TIMEOUT_AGENT }),
        ...(timeoutMs > 0 ? { timeout: timeoutMs } : {}),
        headers: {
          ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}),
          ...(stream ? { 'content-type': 'application/octet-stream' } : {}),
          ...(ep.token ? { authorization: `Bearer ${ep.token}` } : {}),
        },
      },
      onResponse,
    );
    req.on('timeout', () => req.destroy(new ArdesiaError('TIMEOUT', `${method} ${path} took longer than ${timeoutMs} ms`)));
    req.on('error', (err) => reject(err instanceof ArdesiaError ? err : unreachable(ep, err)));
    if (stream) {
      stream.pipe(req);
      return req;
    }
    if (payload) req.write(payload);
    req.end();
    return req;
  }

  webSocket(path: string): WebSocket {
    // Loaded on first use: `ws` costs ~100 ms at start-up and only the console needs it.
    const WebSocketClass = createRequire(import.meta.url)('ws') as typeof WebSocket;
    const ep = this.endpoint;
    const address = ep.url ? `${ep.url.replace(/^http/, 'ws')}${path}` : `ws+unix://${ep.socketPath}:${path}`;
    const secure = address.startsWith('wss:');
    return new WebSocketClass(address, {
      headers: ep.token ? { authorization: `Bearer ${ep.token}` } : {},
      ...(secure ? { createConnection: verifiedTlsConnect(ep.trust ?? {}) as never } : {}),
    });
  }
}
