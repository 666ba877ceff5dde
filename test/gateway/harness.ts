// An in-process gateway for the pipe tests: the real WebSocket route (ticket, principal from the real
// store, pipe) in front of a unix socket the test controls, standing in for a VM's VNC socket.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import WebSocket from 'ws';
import { ByteReader } from './protocols.js';
import type { AppContext } from '../../src/api/route.js';
import { ensureRootToken } from '../../src/auth/tokens.js';
import { ArdesiaError } from '../../src/contract/errors.js';
import type { DisplayEnd } from '../../src/contract/display.js';
import type { DisplayAccess } from '../../src/gateway/access.js';
import { registerDisplaySocketRoute } from '../../src/api/display-socket.js';
import { DisplayTickets, displayTicketsOf, type TicketHolder, useDisplayTickets } from '../../src/gateway/tickets.js';
import { openStore } from '../../src/store/db.js';
import { LiveConnections } from '../../src/auth/live-connections.js';

export interface Harness {
  dir: string;
  url: string;
  token: string;
  vncPath: string;
  /** Connections the stand-in VNC server has open now. */
  vncConnections(): Promise<number>;
  ticket(holder?: TicketHolder): string;
  connected: string[];
  disconnected: string[];
  /** Desktops the route reported user activity for (at most once a second each). */
  activity: string[];
  /** Plays an administrator's "disconnect": runs the closers the route registered for the desktop. */
  disconnect(desktop: string): number;
  close(): Promise<void>;
}

/** `onVnc` plays the desktop side for each connection the gateway makes. */
export async function startHarness(onVnc: (socket: Socket) => void, opts: { tickets?: DisplayTickets } = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'gw-'));
  const vncPath = join(dir, 'vnc.sock');
  const vnc: Server = createServer(onVnc);
  await new Promise<void>((ok) => vnc.listen(vncPath, ok));
  const store = await openStore(join(dir, 'ardesia.db'));
  const token = await ensureRootToken(store, dir);
  const connected: string[] = [];
  const disconnected: string[] = [];
  const activity: string[] = [];
  const closers = new Set<(end: DisplayEnd) => void>();
  const display: DisplayAccess = {
    access: async (_who, name) => {
      if (name !== 'desk') throw new ArdesiaError('DESKTOP_NOT_FOUND', `no desktop ${name}`);
      return { vm: 'vm1' };
    },
    clientConnected: (desktop) => connected.push(desktop),
    clientDisconnected: (desktop) => disconnected.push(desktop),
    clientActivity: (desktop) => activity.push(desktop),
    onDisconnectRequest: (_desktop, close) => {
      closers.add(close);
      return () => closers.delete(close);
    },
  };
  if (opts.tickets) useDisplayTickets(display, opts.tickets);
  const app = { display, users: { connections: new LiveConnections() }, vms: { runtimeOf: (vm: string) => (vm === 'vm1' ? { paths: { vnc: vncPath } } : undefined) } } as unknown as AppContext;
  const server = Fastify({ logger: false });
  registerDisplaySocketRoute(server, { app, store, logger: false });
  await server.listen({ host: '127.0.0.1', port: 0 });
  const addr = server.server.address() as { port: number };
  return {
    dir,
    url: `ws://127.0.0.1:${addr.port}`,
    token,
    vncPath,
    vncConnections: () => new Promise((ok, fail) => vnc.getConnections((err, n) => (err ? fail(err) : ok(n)))),
    ticket: (holder = { name: 'root' }) => displayTicketsOf(display).issue(holder, 'desk').ticket,
    connected,
    disconnected,
    activity,
    disconnect: () => {
      const all = [...closers];
      for (const close of all) close('admin-disconnect');
      return all.length;
    },
    close: async () => {
      await server.close();
      await new Promise((ok) => vnc.close(ok));
      await store.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Received {
  ws: WebSocket;
  chunks: Buffer[];
  /** Everything received, from the first message on, read by exact lengths (rfbStart reads from it). */
  reader: ByteReader;
  opened: Promise<void>;
  closed: Promise<{ code: number; reason: string; bytes: number; data: Buffer }>;
}

/** A `ws` client as noVNC would open it (subprotocol "binary"), collecting everything it receives. */
export function openDisplay(url: string, ticket: string, token: string | undefined, headers: Record<string, string> = {}): Received {
  const ws = new WebSocket(`${url}/v1/display/socket?ticket=${encodeURIComponent(ticket)}`, ['binary'], {
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
  });
  const chunks: Buffer[] = [];
  // Listening from the start: the server's first bytes can arrive with the 101 and be emitted before `opened` resolves.
  const reader = new ByteReader();
  ws.on('message', (data: Buffer) => {
    chunks.push(data);
    reader.push(data);
  });
  ws.on('close', (code, why) => reader.end(`closed ${code} ${why.toString()}`));
  ws.on('error', () => undefined);
  const opened = new Promise<void>((ok, fail) => {
    ws.once('open', () => ok());
    ws.once('error', fail);
  });
  const closed = new Promise<{ code: number; reason: string; bytes: number; data: Buffer }>((ok) =>
    ws.once('close', (code, reason) => {
      const data = Buffer.concat(chunks);
      ok({ code, reason: reason.toString(), bytes: data.length, data });
    }),
  );
  return { ws, chunks, reader, opened, closed };
}

/** Open file descriptors of this process. */
export function openFds(pid: number | 'self' = 'self'): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}
