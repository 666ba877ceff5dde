// Named errors of the QMP client: callers branch on the class, never on message text.

/** Base class: `instanceof QmpError` catches everything this client throws. */
export class QmpError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The socket could not be opened (missing file, nobody listening, no permission). */
export class QmpConnectError extends QmpError {
  readonly socketPath: string;
  /** The errno code from Node (ENOENT, ECONNREFUSED, EACCES …) when there is one. */
  readonly code: string | undefined;
  constructor(socketPath: string, code: string | undefined, cause?: unknown) {
    super(`cannot connect to the QMP socket ${socketPath}: ${describeConnectCode(code)}`, { cause });
    this.socketPath = socketPath;
    this.code = code;
  }
}

function describeConnectCode(code: string | undefined): string {
  switch (code) {
    case 'ENOENT':
      return 'no such file (is QEMU running, and was it started with -qmp on this path?)';
    case 'ECONNREFUSED':
      return 'connection refused (the socket file exists but no QEMU listens on it any more)';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied (run as the user that owns the VM)';
    case 'ENOTSOCK':
      return 'the path is not a unix socket';
    default:
      return code ?? 'unknown error';
  }
}

/** Why a connection ended; carried by the 'disconnect' event and by QmpDisconnectedError. */
export interface QmpDisconnectReason {
  /** closed-by-client: close() was called; closed-by-peer: QEMU closed the socket (e.g. after quit);
   *  socket-error: the OS reported an error; protocol-error: QEMU sent something that is not QMP. */
  kind: 'closed-by-client' | 'closed-by-peer' | 'socket-error' | 'protocol-error';
  message: string;
  error?: Error;
}

/** The connection is gone: every pending and later command rejects with this. */
export class QmpDisconnectedError extends QmpError {
  readonly reason: QmpDisconnectReason;
  readonly command: string | undefined;
  constructor(reason: QmpDisconnectReason, command?: string) {
    const what = command === undefined ? 'QMP connection closed' : `QMP command ${command} failed: connection closed`;
    super(`${what} (${reason.kind}: ${reason.message})`, { cause: reason.error });
    this.reason = reason;
    this.command = command;
  }
}

/** No answer in time. For a command, the connection stays usable and a late reply is dropped. */
export class QmpTimeoutError extends QmpError {
  /** The command name, 'connect', or 'event NAME' for waitForEvent. */
  readonly operation: string;
  readonly timeoutMs: number;
  constructor(operation: string, timeoutMs: number) {
    super(`QMP ${operation} timed out after ${timeoutMs} ms`);
    this.operation = operation;
    this.timeoutMs = timeoutMs;
  }
}

/** QEMU answered the command with an error object: `{"error": {"class", "desc"}}`. */
export class QmpCommandError extends QmpError {
  readonly command: string;
  /** QEMU's error class: GenericError, CommandNotFound, DeviceNotFound, DeviceNotActive, KVMMissingCap. */
  readonly errorClass: string;
  /** QEMU's human-readable description, verbatim. */
  readonly desc: string;
  constructor(command: string, errorClass: string, desc: string) {
    super(`QMP command ${command} failed: ${errorClass}: ${desc}`);
    this.command = command;
    this.errorClass = errorClass;
    this.desc = desc;
  }
}

/** The peer sent something that is not QMP (bad JSON, an unknown message, a reply of the wrong shape). */
export class QmpProtocolError extends QmpError {
  /** The offending line or a short excerpt of it, when there is one. */
  readonly line: string | undefined;
  constructor(message: string, line?: string) {
    super(line === undefined ? message : `${message}: ${excerpt(line)}`);
    this.line = line;
  }
}

const EXCERPT_CHARS = 200;
function excerpt(line: string): string {
  return line.length > EXCERPT_CHARS ? `${JSON.stringify(line.slice(0, EXCERPT_CHARS))}…` : JSON.stringify(line);
}
