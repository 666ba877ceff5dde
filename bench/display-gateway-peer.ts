// The separate processes of the display-gateway benchmark, one role per invocation:
//   source DIR BYTES   unix servers DIR/stream.sock (writes BYTES, then closes) and DIR/echo.sock
//   proxy PORT DIR     Ardesia's display pipe (the daemon's code) on ws://127.0.0.1:PORT/?target=stream|echo
//   fetch URL BYTES    a ws client that reads the stream; prints {"seconds", "bytes"}
//   echo URL COUNT     a ws client: COUNT 64-byte round trips; prints {"rttMs": [...]}
//   direct DIR COUNT   the same round trips on the unix socket itself (the latency baseline)
//   controller PORT AGENTPORT DIR CERT KEY   one agent hop: the browser's socket on PORT piped (the daemon's display
//                      pipe) to a stream the agent dials back over TLS to AGENTPORT, as a VM on an agent's host
//   agent DIR AGENTPORT FINGERPRINT          the agent's end: asked on DIR/agent-ctl.sock, dials the stream (its own
//                      pinned TLS and WebSocket) and pipes it to DIR/stream.sock or echo.sock (its socketPipe)
//   hop-controller PORT DIR CERT KEY          one agent hop, native: per browser socket the controller's end of the
//                      display hop (display-hop.ts, native/display-hop.c) listens; its socket is the display pipe's VNC side
//   hop-agent DIR FINGERPRINT                 the agent's end: asked on DIR/hop-ctl.sock, dials that hop with the VNC socket
import { createServer, connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import WebSocket, { createWebSocketStream, WebSocketServer } from 'ws';
import { dial } from '../src/agent/remote/agent-streams.js';
import { socketPipe } from '../src/lib/ws-pipe.js';
import type { AgentState } from '../src/agent/remote/agent-state.js';
import { AGENT_STREAM_HEADER } from '../src/contract/agent.js';
import { pipeDisplay } from '../src/gateway/proxy.js';
import { upgradeAnswer } from '../src/gateway/upgrade.js';
import { displayHopBinary, hopDial, hopListen } from '../src/gateway/display-hop.js';

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

/** The controller's side of one hop: each browser socket asks the agent (a line on its control socket) for a stream. */
async function controller(port: number, agentPort: number, dir: string, cert: string, key: string): Promise<void> {
  const waiting = new Map<string, (ws: WebSocket) => void>();
  const agents = new WebSocketServer({ noServer: true });
  const tlsServer = createHttpsServer({ cert: readFileSync(cert), key: readFileSync(key) });
  tlsServer.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const id = String(req.headers[AGENT_STREAM_HEADER] ?? '').split('.')[0]!;
    agents.handleUpgrade(req, socket, head, (ws) => {
      ws.pause();
      waiting.get(id)?.(ws);
      waiting.delete(id);
    });
  });
  await new Promise<void>((ok) => tlsServer.listen(agentPort, '127.0.0.1', ok));
  const control = connect(join(dir, 'agent-ctl.sock'));
  await new Promise((ok) => control.once('connect', ok));
  let next = 0;
  const server = createHttpServer();
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const target = new URL(req.url ?? '/', 'http://peer').searchParams.get('target') === 'echo' ? 'echo' : 'stream';
    const id = `s${String(next++).padStart(15, '0')}`;
    waiting.set(id, (agentWs) => {
      // As display-socket.ts does for a VM on an agent's host: the agent's stream as the VNC side of the pipe.
      void upgradeAnswer(socket, req).then(() => {
        pipeDisplay(socket, head, createWebSocketStream(agentWs));
        agentWs.resume();
      });
    });
    control.write(`${id} ${target}\n`);
  });
  await new Promise<void>((ok) => server.listen(port, '127.0.0.1', ok));
  process.stdout.write('ready\n');
}

async function agent(dir: string, agentPort: number, fingerprint: string): Promise<void> {
  const controllerUrl = new URL(`https://127.0.0.1:${agentPort}`);
  const state: AgentState = { controller: controllerUrl.href, fingerprint, host: 'bench', credential: `ardesia-agent.${'0'.repeat(43)}` };
  createServer((ctl) => {
    let buffered = '';
    ctl.on('data', (d: Buffer) => {
      buffered += d.toString();
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        const [id, target] = buffered.slice(0, nl).split(' ');
        buffered = buffered.slice(nl + 1);
        const vnc = connect(join(dir, `${target}.sock`));
        vnc.once('connect', () => void dial({ id: id!, secret: 'x'.repeat(43) }, controllerUrl, state).then((ws) => socketPipe(ws, vnc)));
      }
    });
  }).listen(join(dir, 'agent-ctl.sock'), () => process.stdout.write('ready\n'));
}

const HOP = displayHopBinary().path;

/** The controller's side of the native hop: each browser socket gets a hop end listening for the agent's. */
async function hopController(port: number, dir: string, cert: string, key: string): Promise<void> {
  if (!HOP) throw new Error(displayHopBinary().why);
  const pem = Buffer.concat([readFileSync(cert), readFileSync(key)]);
  const control = connect(join(dir, 'hop-ctl.sock'));
  await new Promise((ok) => control.once('connect', ok));
  let next = 0;
  const server = createHttpServer();
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const target = new URL(req.url ?? '/', 'http://peer').searchParams.get('target') === 'echo' ? 'echo' : 'stream';
    const secret = `h${String(next++).padStart(42, '0')}`;
    void hopListen(HOP, { address: '127.0.0.1', peer: '127.0.0.1' }, pem, secret, () => undefined).then(async (hop) => {
      control.write(`${secret} ${target} ${hop.port}\n`);
      await hop.claimed;
      // As display-socket.ts does for a VM on an agent's host with the hop: its socket as the VNC side of the pipe.
      await upgradeAnswer(socket, req);
      pipeDisplay(socket, head, hop.plain);
    });
  });
  await new Promise<void>((ok) => server.listen(port, '127.0.0.1', ok));
  process.stdout.write('ready\n');
}

async function hopAgent(dir: string, fingerprint: string): Promise<void> {
  if (!HOP) throw new Error(displayHopBinary().why);
  createServer((ctl) => {
    let buffered = '';
    ctl.on('data', (d: Buffer) => {
      buffered += d.toString();
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        const [secret, target, port] = buffered.slice(0, nl).split(' ');
        buffered = buffered.slice(nl + 1);
        const vnc = connect(join(dir, `${target}.sock`));
        vnc.once('connect', () => {
          const tcp = connect({ host: '127.0.0.1', port: Number(port) });
          tcp.once('connect', () => void hopDial(HOP, vnc, tcp, fingerprint, secret!));
        });
      }
    });
  }).listen(join(dir, 'hop-ctl.sock'), () => process.stdout.write('ready\n'));
}

const [role, a, b, c, d, e] = process.argv.slice(2);
if (role === 'source') source(a!, Number(b));
else if (role === 'proxy') await proxy(Number(a), b!);
else if (role === 'fetch') fetchStream(a!, Number(b));
else if (role === 'echo') echoWs(a!, Number(b));
else if (role === 'direct') echoDirect(a!, Number(b));
else if (role === 'controller') await controller(Number(a), Number(b), c!, d!, e!);
else if (role === 'agent') await agent(a!, Number(b), c!);
else if (role === 'hop-controller') await hopController(Number(a), b!, c!, d!);
else if (role === 'hop-agent') await hopAgent(a!, b!);
else throw new Error(`unknown role ${role}`);
