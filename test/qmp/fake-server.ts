// A real unix-socket server that speaks QMP like QEMU 7.2, scripted by each test.
// 'bytewise' writes every byte as its own write (and yields between them) to expose framing
// assumptions; 'coalesced' gathers everything queued in one turn into a single write.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type FakeOutputMode = 'bytewise' | 'coalesced';

export interface FakeRequest {
  execute: string;
  arguments: Record<string, unknown> | undefined;
  id: unknown;
}

export const QEMU_72_GREETING =
  '{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "fake"}, "capabilities": ["oob"]}}';

export type FakeHandler = (request: FakeRequest, session: FakeSession) => void;

export interface FakeServerOptions {
  mode: FakeOutputMode;
  /** Runs for each command after qmp_capabilities; the default answers {} to everything. */
  handler?: FakeHandler;
  /** The first line sent on connect; null sends nothing at all. */
  greeting?: string | null;
}

/** One client connection, seen from the server side. */
export class FakeSession {
  private queue: Buffer[] = [];
  private pumping = false;
  private flushScheduled = false;
  negotiated = false;

  constructor(
    readonly socket: Socket,
    private readonly mode: FakeOutputMode,
  ) {}

  /** Sends a JSON value (or a raw line, as is) terminated by "\r\n" like QEMU. */
  send(message: unknown): void {
    const text = typeof message === 'string' ? message : JSON.stringify(message);
    this.queue.push(Buffer.from(`${text}\r\n`, 'utf8'));
    if (this.mode === 'bytewise') void this.pumpBytes();
    else this.scheduleFlush();
  }

  reply(id: unknown, value: unknown): void {
    this.send({ return: value, id });
  }

  replyError(id: unknown, errorClass: string, desc: string): void {
    this.send({ id, error: { class: errorClass, desc } });
  }

  event(name: string, data?: Record<string, unknown>): void {
    const timestamp = { seconds: 1795663079, microseconds: 394572 };
    this.send(data === undefined ? { timestamp, event: name } : { timestamp, event: name, data });
  }

  /** Closes once everything queued has been written. */
  async endAfterOutput(): Promise<void> {
    await this.drained();
    this.socket.end();
  }

  /** Resolves when everything queued so far has been handed to the socket. */
  async drained(): Promise<void> {
    while (this.queue.length > 0 || this.pumping || this.flushScheduled) await new Promise((r) => setImmediate(r));
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      const all = Buffer.concat(this.queue);
      this.queue = [];
      if (!this.socket.destroyed) this.socket.write(all);
    });
  }

  private async pumpBytes(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (let next = this.queue.shift(); next !== undefined; next = this.queue.shift()) {
        for (const byte of next) {
          if (this.socket.destroyed) return;
          await new Promise<void>((resolve) => this.socket.write(Buffer.from([byte]), () => resolve()));
          await new Promise((r) => setImmediate(r));
        }
      }
    } finally {
      this.pumping = false;
    }
  }
}

export class FakeQmpServer {
  readonly requests: FakeRequest[] = [];
  readonly sessions: FakeSession[] = [];

  private constructor(
    readonly socketPath: string,
    private readonly dir: string,
    private readonly server: Server,
  ) {}

  static async start(options: FakeServerOptions): Promise<FakeQmpServer> {
    const dir = mkdtempSync(join(tmpdir(), 'qmpf-'));
    const socketPath = join(dir, 'qmp.sock');
    const server = createServer();
    const fake = new FakeQmpServer(socketPath, dir, server);
    server.on('connection', (socket) => fake.accept(socket, options));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => resolve());
    });
    return fake;
  }

  /** Commands received after negotiation, by name. */
  commandNames(): string[] {
    return this.requests.map((r) => r.execute);
  }

  async stop(): Promise<void> {
    for (const session of this.sessions) session.socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    rmSync(this.dir, { recursive: true, force: true });
  }

  private accept(socket: Socket, options: FakeServerOptions): void {
    const session = new FakeSession(socket, options.mode);
    this.sessions.push(session);
    socket.on('error', () => undefined); // the client may vanish mid-write; that is the test's business
    const greeting = options.greeting === undefined ? QEMU_72_GREETING : options.greeting;
    if (greeting !== null) session.send(greeting);
    let pending = '';
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      for (let newline = pending.indexOf('\n'); newline >= 0; newline = pending.indexOf('\n')) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        this.onLine(line, session, options.handler ?? ((request, s) => s.reply(request.id, {})));
      }
    });
  }

  private onLine(line: string, session: FakeSession, handler: FakeHandler): void {
    const parsed = JSON.parse(line) as { execute: string; arguments?: Record<string, unknown>; id?: unknown };
    const request: FakeRequest = { execute: parsed.execute, arguments: parsed.arguments, id: parsed.id };
    if (!session.negotiated) {
      // Like QEMU: only qmp_capabilities is accepted before negotiation.
      if (request.execute === 'qmp_capabilities') {
        session.negotiated = true;
        session.reply(request.id, {});
      } else {
        session.replyError(request.id, 'CommandNotFound', "Expecting capabilities negotiation with 'qmp_capabilities'");
      }
      return;
    }
    this.requests.push(request);
    handler(request, session);
  }
}
