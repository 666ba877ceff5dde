// Pure QMP wire handling: a resumable line framer and a message classifier, no sockets.
// QEMU writes one JSON object per line, terminated by "\r\n" (with the default pretty=off).

/** QMP ids are any JSON value echoed back verbatim; this client sends strings. */
export type QmpId = unknown;

export interface QmpVersionTriple {
  major: number;
  minor: number;
  micro: number;
}

export interface QmpVersionInfo {
  qemu: QmpVersionTriple;
  package: string;
}

export interface QmpTimestamp {
  seconds: number;
  microseconds: number;
}

export type QmpMessage =
  | { kind: 'greeting'; version: QmpVersionInfo; capabilities: string[] }
  | { kind: 'return'; id: QmpId; hasId: boolean; value: unknown }
  | { kind: 'error'; id: QmpId; hasId: boolean; errorClass: string; desc: string }
  | { kind: 'event'; name: string; data: Record<string, unknown>; timestamp: QmpTimestamp | undefined }
  | { kind: 'invalid'; line: string; reason: string };

/** One decoded line: the message and the text it came from (for logs). */
export interface QmpFrame {
  line: string;
  message: QmpMessage;
}

/** Above this, a line without "\n" is garbage, not a reply: drop it instead of growing forever. */
export const DEFAULT_MAX_LINE_BYTES = 16 * 1024 * 1024;

const NEWLINE = 0x0a;

/**
 * Splits a byte stream into lines and classifies each one. Feed it any chunking (one byte at a
 * time, many messages at once); it keeps the unfinished tail for the next push.
 */
export class QmpFramer {
  private parts: Buffer[] = [];
  private pendingBytes = 0;
  private discarding = false;
  private readonly maxLineBytes: number;

  constructor(options: { maxLineBytes?: number } = {}) {
    this.maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  }

  /** Bytes held back because their line has not ended yet. */
  get bufferedBytes(): number {
    return this.pendingBytes;
  }

  push(chunk: Buffer | string): QmpFrame[] {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    const frames: QmpFrame[] = [];
    let start = 0;
    for (;;) {
      const newline = bytes.indexOf(NEWLINE, start);
      if (newline < 0) break;
      this.keep(bytes.subarray(start, newline), frames);
      const frame = this.finishLine();
      if (frame !== undefined) frames.push(frame);
      start = newline + 1;
    }
    if (start < bytes.length) this.keep(bytes.subarray(start), frames);
    return frames;
  }

  private keep(piece: Buffer, frames: QmpFrame[]): void {
    if (this.discarding || piece.length === 0) return;
    if (this.pendingBytes + piece.length > this.maxLineBytes) {
      const head = Buffer.concat([...this.parts, piece]).subarray(0, 80).toString('utf8');
      frames.push({ line: head, message: { kind: 'invalid', line: head, reason: `line longer than ${this.maxLineBytes} bytes` } });
      this.parts = [];
      this.pendingBytes = 0;
      this.discarding = true;
      return;
    }
    this.parts.push(piece);
    this.pendingBytes += piece.length;
  }

  private finishLine(): QmpFrame | undefined {
    const wasDiscarding = this.discarding;
    const raw = Buffer.concat(this.parts).toString('utf8');
    this.parts = [];
    this.pendingBytes = 0;
    this.discarding = false;
    if (wasDiscarding) return undefined;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') return undefined;
    return { line, message: classifyLine(line) };
  }
}

/** Classifies one complete line (without its terminator). Never throws. */
export function classifyLine(line: string): QmpMessage {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return invalid(line, 'not JSON');
  }
  if (!isRecord(parsed)) return invalid(line, 'not a JSON object');
  return classifyObject(parsed, line);
}

function classifyObject(obj: Record<string, unknown>, line: string): QmpMessage {
  if ('QMP' in obj) return classifyGreeting(obj.QMP, line);
  if ('event' in obj) return classifyEvent(obj, line);
  const hasId = 'id' in obj;
  if ('return' in obj) return { kind: 'return', id: obj.id, hasId, value: obj.return };
  if ('error' in obj) {
    const error = obj.error;
    if (!isRecord(error) || typeof error.class !== 'string' || typeof error.desc !== 'string') {
      return invalid(line, 'error without a string class and desc');
    }
    return { kind: 'error', id: obj.id, hasId, errorClass: error.class, desc: error.desc };
  }
  return invalid(line, 'neither greeting, return, error nor event');
}

function classifyGreeting(qmp: unknown, line: string): QmpMessage {
  if (!isRecord(qmp) || !isRecord(qmp.version) || !isRecord(qmp.version.qemu)) {
    return invalid(line, 'greeting without QMP.version.qemu');
  }
  const { major, minor, micro } = qmp.version.qemu;
  if (typeof major !== 'number' || typeof minor !== 'number' || typeof micro !== 'number') {
    return invalid(line, 'greeting with a non-numeric version');
  }
  const capabilities = Array.isArray(qmp.capabilities)
    ? qmp.capabilities.filter((c): c is string => typeof c === 'string')
    : [];
  const pkg = typeof qmp.version.package === 'string' ? qmp.version.package : '';
  return { kind: 'greeting', version: { qemu: { major, minor, micro }, package: pkg }, capabilities };
}

function classifyEvent(obj: Record<string, unknown>, line: string): QmpMessage {
  if (typeof obj.event !== 'string' || obj.event === '') return invalid(line, 'event without a name');
  if (obj.data !== undefined && !isRecord(obj.data)) return invalid(line, 'event data is not an object');
  const ts = obj.timestamp;
  const timestamp =
    isRecord(ts) && typeof ts.seconds === 'number' && typeof ts.microseconds === 'number'
      ? { seconds: ts.seconds, microseconds: ts.microseconds }
      : undefined;
  return { kind: 'event', name: obj.event, data: obj.data ?? {}, timestamp };
}

function invalid(line: string, reason: string): QmpMessage {
  return { kind: 'invalid', line, reason };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The line the client writes for one command; "arguments" is left out when there are none. */
export function encodeCommand(command: string, args: Record<string, unknown> | undefined, id: string): string {
  const request: Record<string, unknown> = { execute: command };
  if (args !== undefined) request.arguments = args;
  request.id = id;
  return `${JSON.stringify(request)}\n`;
}
