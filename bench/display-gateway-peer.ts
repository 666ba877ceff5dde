// The separate processes of the display-gateway benchmark, one role per invocation:
//   source DIR BYTES   unix servers DIR/stream.sock (writes BYTES, then closes) and DIR/echo.sock
//   proxy PORT DIR     Ardesia's display pipe (the daemon's code) on ws://127.0.0.1:PORT/?target=stream|echo
//   fetch URL BYTES    a ws client that reads the stream; prints {"seconds", "bytes"}
//   echo URL COUNT     a ws client: COUNT 64-byte round trips; prints {"rttMs": [...]}
//   direct DIR COUNT   the same round trips on the unix socket itself (the latency baseline)
import { createServer, connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import { pipeDisplay } from '../src/gateway/proxy.js';
import { upgradeAnswer } from '../src/gateway/upgrade.js';

const CHUNK = Buffer.alloc(64 * 1024, 0x5a);
const ECHO_BYTES = 64;

function source(dir: string, bytes: number): void {
  createServer((s) => {
    s.on('error', () => undefined);
    let left = bytes;
    const pump = () => {
      while (left > 0) {
        const n = Math.min(left, CHUNK.length);
        left -= n;
        if (!s.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) return void s.once('drain', pump);
      }
      s.end();
    };
    pump();
  }).listen(join(dir, 'stream.sock'));
  createServer((s) => {
    s.on('error', () => undefined);
    s.pipe(s);
  }).listen(join(dir, 'echo.sock'), () => process.stdout.write('ready\n'));
}

async function proxy(port: number, dir: string): Promise<void> {
  // As the daemon's display route: the raw socket from 'upgrade', our own handshake, then the pipe.
  const server = createHttpServer();
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const target = new URL(req.url ?? '/', 'http://peer').searchParams.get('target') === 'echo' ? 'echo.sock' : 'stream.sock';
    const vnc = connect(join(dir, target));
    vnc.once('connect', () => {
      void upgradeAnswer(socket, req).then(() => pipeDisplay(socket, head, vnc));
    });
  });
  await new Promise<void>((ok) => server.listen(port, '127.0.0.1', ok));
  process.stdout.write('ready\n');
}

function fetchStream(url: string, bytes: number): void {
  const started = process.hrtime.bigint();
  let got = 0;
  const ws = new WebSocket(url, ['binary']);
  ws.on('message', (d: Buffer) => (got += d.length));
  ws.on('close', () => {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    process.stdout.write(`${JSON.stringify({ seconds, bytes: got, complete: got === bytes })}\n`);
  });
}

/** Sends one message, waits for all its bytes back, COUNT times. */
function roundTrips(send: (b: Buffer) => void, onBytes: (cb: (n: number) => void) => void, count: number, done: (rtt: number[]) => void): void {
  const msg = Buffer.alloc(ECHO_BYTES, 1);
  const rtt: number[] = [];
  let pending = 0;
  let t0 = 0n;
  const next = () => {
    if (rtt.length === count) return done(rtt);
    pending = ECHO_BYTES;
    t0 = process.hrtime.bigint();
    send(msg);
  };
  onBytes((n) => {
    pending -= n;
    if (pending <= 0) {
      rtt.push(Number(process.hrtime.bigint() - t0) / 1e6);
      next();
    }
  });
  next();
}

const print = (rttMs: number[]) => {
  process.stdout.write(`${JSON.stringify({ rttMs })}\n`);
  process.exit(0);
};

function echoWs(url: string, count: number): void {
  const ws = new WebSocket(url, ['binary']);
  ws.on('open', () => roundTrips((b) => ws.send(b), (cb) => ws.on('message', (d: Buffer) => cb(d.length)), count, print));
}

function echoDirect(dir: string, count: number): void {
  const s: Socket = connect(join(dir, 'echo.sock'));
  s.setNoDelay?.(true);
  s.on('connect', () => roundTrips((b) => s.write(b), (cb) => s.on('data', (d: Buffer) => cb(d.length)), count, print));
}

const [role, a, b] = process.argv.slice(2);
if (role === 'source') source(a!, Number(b));
else if (role === 'proxy') await proxy(Number(a), b!);
else if (role === 'fetch') fetchStream(a!, Number(b));
else if (role === 'echo') echoWs(a!, Number(b));
else if (role === 'direct') echoDirect(a!, Number(b));
else throw new Error(`unknown role ${role}`);
