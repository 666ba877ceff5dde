// The QMP connection: greeting, capabilities negotiation, id-matched replies and events over a unix socket.
import { createConnection, type Socket } from 'node:net';
import { QmpCommands, type QmpExecuteOptions } from './commands.js';
import {
  QmpCommandError,
  QmpConnectError,
  QmpDisconnectedError,
  QmpError,
  QmpProtocolError,
  QmpTimeoutError,
  type QmpDisconnectReason,
} from './errors.js';
import type { QmpEvent, QmpEventFor } from './events.js';
import { QmpFramer, encodeCommand, type QmpFrame, type QmpVersionInfo } from './protocol.js';

export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
export const DEFAULT_COMMAND_TIMEOUT_MS = 30_000;

/** Debug hook: every line sent and received, and replies dropped because nobody waits for them. */
export type QmpLogger = (direction: 'send' | 'recv' | 'drop', line: string) => void;

export interface QmpConnectOptions {
  /** Budget for socket connect + greeting + qmp_capabilities. */
  timeoutMs?: number;
  /** Default per-command timeout of execute() and waitForEvent(). */
  commandTimeoutMs?: number;
  logger?: QmpLogger;
}

export interface QmpGreeting {
  version: QmpVersionInfo;
  capabilities: string[];
}

/** connecting → greeting → negotiating → ready → closed; closed is final. */
export type QmpClientState = 'connecting' | 'greeting' | 'negotiating' | 'ready' | 'closed';

interface PendingCommand {
  command: string;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout | undefined;
}

const ID_PREFIX = 'ardesia-';
const REDACTED_ARGUMENTS = new Set(['password']);
/** QEMU exiting (quit, a crash) often shows as a reset rather than a clean end of stream. */
const PEER_CLOSED_CODES = new Set(['ECONNRESET', 'EPIPE']);

export class QmpClient extends QmpCommands {
  readonly socketPath: string;
  private readonly socket: Socket;
  private readonly framer = new QmpFramer();
  private readonly logger: QmpLogger | undefined;
  private readonly commandTimeoutMs: number;
  private readonly pending = new Map<string, PendingCommand>();
  private nextId = 1;
  private currentState: QmpClientState = 'connecting';
  private greetingInfo: QmpGreeting | undefined;
  private endReason: QmpDisconnectReason | undefined;
  /** Set when the handshake fails for a reason more precise than "disconnected". */
  private handshakeError: Error | undefined;
  private greetingWaiter: { resolve: () => void; reject: (error: Error) => void } | undefined;

  private constructor(socketPath: string, options: QmpConnectOptions) {
    super();
    this.socketPath = socketPath;
    this.logger = options.logger;
    this.commandTimeoutMs = options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    this.socket = createConnection({ path: socketPath });
    this.socket.on('connect', () => this.onConnect());
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (error: NodeJS.ErrnoException) => this.onSocketError(error));
    const peerClosed = (): void => this.end({ kind: 'closed-by-peer', message: 'QEMU closed the connection' });
    this.socket.on('end', peerClosed);
    this.socket.on('close', peerClosed);
  }

  /** Connects, reads the greeting, negotiates capabilities; resolves once commands are accepted. */
  static async connect(socketPath: string, options: QmpConnectOptions = {}): Promise<QmpClient> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const client = new QmpClient(socketPath, options);
    const greeted = new Promise<void>((resolve, reject) => {
      client.greetingWaiter = { resolve, reject };
    });
    const timer = setTimeout(() => client.failHandshake(new QmpTimeoutError('connect', timeoutMs)), timeoutMs);
    try {
      await greeted;
      await client.send('qmp_capabilities', undefined, Infinity);
      client.currentState = 'ready';
      return client;
    } catch (error) {
      client.end({ kind: 'closed-by-client', message: 'handshake failed' });
      throw client.handshakeError ?? error;
    } finally {
      clearTimeout(timer);
    }
  }

  get state(): QmpClientState {
    return this.currentState;
  }

  /** What QEMU announced in its greeting. */
  get greeting(): QmpGreeting {
    if (this.greetingInfo === undefined) throw new QmpError('no QMP greeting received yet');
    return this.greetingInfo;
  }

  /** Why the connection ended, once it has. */
  get disconnectReason(): QmpDisconnectReason | undefined {
    return this.endReason;
  }

  /** Runs any QMP command; concurrent calls are fine, replies are matched by id. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>, options: QmpExecuteOptions = {}): Promise<T> {
    if (this.endReason !== undefined) return Promise.reject(new QmpDisconnectedError(this.endReason, command));
    if (this.currentState !== 'ready') return Promise.reject(new QmpError(`QMP is not ready for ${command} (${this.currentState})`));
    return this.send<T>(command, args, options.timeoutMs ?? this.commandTimeoutMs);
  }

  /** Resolves with the next event of that name (and matching the predicate); subscribe before the command that causes it. */
  waitForEvent<Name extends string>(
    name: Name,
    predicate?: (event: QmpEventFor<Name>) => boolean,
    options: { timeoutMs?: number } = {},
  ): Promise<QmpEventFor<Name>> {
    const operation = `event ${name}`;
    if (this.endReason !== undefined) return Promise.reject(new QmpDisconnectedError(this.endReason, operation));
    const timeoutMs = options.timeoutMs ?? this.commandTimeoutMs;
    return new Promise((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        this.off('event', onEvent);
        this.off('disconnect', onDisconnect);
      };
      const onEvent = (event: QmpEvent): void => {
        if (event.event !== name) return;
        const typed = event as QmpEventFor<Name>;
        try {
          if (predicate !== undefined && !predicate(typed)) return;
        } catch (error) {
          cleanup();
          reject(error instanceof Error ? error : new Error(String(error)));
          return;
        }
        cleanup();
        resolve(typed);
      };
      const onDisconnect = (reason: QmpDisconnectReason): void => {
        cleanup();
        reject(new QmpDisconnectedError(reason, operation));
      };
      const timer = Number.isFinite(timeoutMs)
        ? setTimeout(() => {
            cleanup();
            reject(new QmpTimeoutError(operation, timeoutMs));
          }, timeoutMs)
        : undefined;
      this.on('event', onEvent);
      this.on('disconnect', onDisconnect);
    });
  }

  /** Calls the listener for every event of that name; returns the function that unsubscribes. */
  onEvent<Name extends string>(name: Name, listener: (event: QmpEventFor<Name>) => void): () => void {
    const filter = (event: QmpEvent): void => {
      if (event.event === name) listener(event as QmpEventFor<Name>);
    };
    this.on('event', filter);
    return () => this.off('event', filter);
  }

  /** Closes the connection; pending commands reject with QmpDisconnectedError. QEMU keeps running. */
  close(): Promise<void> {
    if (this.socket.closed) {
      this.end({ kind: 'closed-by-client', message: 'close() called' });
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.socket.once('close', () => resolve());
      this.end({ kind: 'closed-by-client', message: 'close() called' });
    });
  }

  private send<T>(command: string, args: Record<string, unknown> | undefined, timeoutMs: number): Promise<T> {
    const id = `${ID_PREFIX}${this.nextId++}`;
    return new Promise<T>((resolve, reject) => {
      const timer = Number.isFinite(timeoutMs)
        ? setTimeout(() => {
            // The id stays unknown from now on, so a late reply is dropped and the connection goes on.
            this.pending.delete(id);
            reject(new QmpTimeoutError(command, timeoutMs));
          }, timeoutMs)
        : undefined;
      this.pending.set(id, { command, resolve: resolve as (value: unknown) => void, reject, timer });
      this.logger?.('send', encodeCommand(command, redact(args), id).trimEnd());
      this.socket.write(encodeCommand(command, args, id));
    });
  }

  private onConnect(): void {
    if (this.currentState === 'connecting') this.currentState = 'greeting';
  }

  private onData(chunk: Buffer): void {
    for (const frame of this.framer.push(chunk)) {
      if (this.currentState === 'closed') return;
      this.logger?.('recv', frame.line);
      this.dispatch(frame);
    }
  }

  private dispatch({ line, message }: QmpFrame): void {
    if (message.kind === 'invalid') {
      this.failProtocol(new QmpProtocolError(`QEMU sent a line that is not QMP (${message.reason})`, line));
      return;
    }
    if (this.currentState === 'greeting' && message.kind !== 'greeting') {
      this.failProtocol(new QmpProtocolError(`expected the QMP greeting, got a ${message.kind}`, line));
      return;
    }
    switch (message.kind) {
      case 'greeting':
        if (this.currentState !== 'greeting') {
          this.failProtocol(new QmpProtocolError('unexpected second QMP greeting', line));
          return;
        }
        this.greetingInfo = { version: message.version, capabilities: message.capabilities };
        this.currentState = 'negotiating';
        this.greetingWaiter?.resolve();
        return;
      case 'event':
        this.emit('event', { event: message.name, data: message.data, timestamp: message.timestamp });
        return;
      case 'return':
      case 'error':
        this.settle(message.id, line, (entry) =>
          message.kind === 'return'
            ? entry.resolve(message.value)
            : entry.reject(new QmpCommandError(entry.command, message.errorClass, message.desc)),
        );
    }
  }

  private settle(id: unknown, line: string, apply: (entry: PendingCommand) => void): void {
    const entry = typeof id === 'string' ? this.pending.get(id) : undefined;
    if (entry === undefined) {
      // A reply for a timed-out command, or an id-less error about a request QEMU could not parse.
      this.logger?.('drop', line);
      return;
    }
    this.pending.delete(id as string);
    clearTimeout(entry.timer);
    apply(entry);
  }

  private onSocketError(error: NodeJS.ErrnoException): void {
    if (this.currentState === 'connecting') {
      this.failHandshake(new QmpConnectError(this.socketPath, error.code, error));
      return;
    }
    if (error.code !== undefined && PEER_CLOSED_CODES.has(error.code)) {
      this.end({ kind: 'closed-by-peer', message: `QEMU closed the connection (${error.code})`, error });
      return;
    }
    this.end({ kind: 'socket-error', message: error.message, error });
  }

  private failProtocol(error: QmpProtocolError): void {
    if (this.currentState !== 'ready') this.handshakeError ??= error;
    this.end({ kind: 'protocol-error', message: error.message, error });
  }

  private failHandshake(error: Error): void {
    this.handshakeError ??= error;
    this.end({ kind: 'socket-error', message: error.message, error });
  }

  /** The one way out: every path that ends the connection comes here; it acts only once. */
  private end(reason: QmpDisconnectReason): void {
    if (this.endReason !== undefined) return;
    this.endReason = reason;
    this.currentState = 'closed';
    this.socket.destroy();
    for (const entry of this.pending.values()) {
      clearTimeout(entry.timer);
      entry.reject(new QmpDisconnectedError(reason, entry.command));
    }
    this.pending.clear();
    this.greetingWaiter?.reject(new QmpDisconnectedError(reason));
    this.emit('disconnect', reason);
  }
}

function redact(args: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (args === undefined) return undefined;
  const shown: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(args)) shown[key] = REDACTED_ARGUMENTS.has(key) ? '***' : value;
  return shown;
}
