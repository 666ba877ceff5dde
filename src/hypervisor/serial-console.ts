// Holds the one connection QEMU's serial chardev accepts, logs everything, and fans it out to any
// number of attached clients; their keystrokes go back to the guest.
import { EventEmitter } from 'node:events';
import { type Socket, createConnection } from 'node:net';
import { ConsoleLog } from './console-log.js';

export interface ConsoleClient {
  write(data: Uint8Array): void;
}

export class SerialConsole extends EventEmitter {
  private socket: Socket | undefined;
  private readonly clients = new Set<ConsoleClient>();
  readonly log: ConsoleLog;

  constructor(
    private readonly socketPath: string,
    logPath: string,
  ) {
    super();
    this.log = new ConsoleLog(logPath);
  }

  /** Connects to QEMU's serial socket (QEMU is started paused, so nothing is lost before this). */
  connect(timeoutMs = 5000): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = createConnection(this.socketPath);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`serial console ${this.socketPath}: no connection within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        this.socket = socket;
        resolve();
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        if (!this.socket) reject(err);
      });
      socket.on('data', (chunk: Buffer) => {
        this.log.append(chunk);
        this.emit('data', chunk);
        for (const client of this.clients) client.write(chunk);
      });
      socket.on('close', () => {
        this.socket = undefined;
        this.emit('close');
      });
    });
  }

  attach(client: ConsoleClient): () => void {
    this.clients.add(client);
    return () => this.clients.delete(client);
  }

  get attachedCount(): number {
    return this.clients.size;
  }

  input(data: Uint8Array): void {
    this.socket?.write(data);
  }

  close(): void {
    this.socket?.destroy();
    this.socket = undefined;
    this.clients.clear();
  }
}
