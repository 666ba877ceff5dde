// A deliberately minimal QMP session for the smoke test: raw JSON lines over the unix socket,
// so this test depends on QEMU alone and not on Ardesia's QMP client.
import { connect, type Socket } from 'node:net';

export class RawQmp {
  private buffer = '';
  private readonly waiting: Array<{ resolve: (msg: Record<string, unknown>) => void; reject: (err: Error) => void }> = [];
  private readonly queued: Array<Record<string, unknown>> = [];
  private closed = false;

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.waiting.splice(0)) w.reject(new Error('QMP socket closed'));
    });
  }

  /** Connects and reads the greeting; rejects if the socket refuses. */
  static async open(path: string): Promise<{ qmp: RawQmp; greeting: Record<string, unknown> }> {
    const socket = connect(path);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const qmp = new RawQmp(socket);
    return { qmp, greeting: await qmp.next() };
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let newline: number;
    while ((newline = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, newline).trim();
      this.buffer = this.buffer.slice(newline + 1);
      if (!line) continue;
      const msg = JSON.parse(line) as Record<string, unknown>;
      const waiter = this.waiting.shift();
      if (waiter) waiter.resolve(msg);
      else this.queued.push(msg);
    }
  }

  private next(): Promise<Record<string, unknown>> {
    const queued = this.queued.shift();
    if (queued) return Promise.resolve(queued);
    if (this.closed) return Promise.reject(new Error('QMP socket closed'));
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  /** Sends one command and returns its reply, skipping asynchronous events. */
  async execute(command: string, args?: Record<string, unknown>): Promise<Record<string, unknown>> {
    this.socket.write(`${JSON.stringify(args ? { execute: command, arguments: args } : { execute: command })}\n`);
    for (;;) {
      const msg = await this.next();
      if (!('event' in msg)) return msg;
    }
  }

  close(): void {
    this.socket.destroy();
  }
}
