// The agent's image-fetch requests on one link (a host without shared storage): each asked by id, answered by the
// controller's image-stream, whose stream is dialled back like a migration's. A closed link fails those waiting.
import { randomBytes } from 'node:crypto';
import type { WebSocket } from 'ws';
import type { AgentMessage, ControllerMessage } from '../../contract/agent.js';
import { ArdesiaError } from '../../contract/errors.js';
import type { ImageStream } from './local-images.js';

/** The controller answers an image-fetch within this (it reads a boot file's sum first). */
const ANSWER_WITHIN_MS = 60_000;

type Answer = Extract<ControllerMessage, { type: 'image-stream' }>;

interface Waiting {
  path: string;
  resolve(stream: ImageStream): void;
  reject(err: Error): void;
}

export class ImageFetches {
  private readonly waiting = new Map<string, Waiting>();

  constructor(
    /** Sends on the link; false when it is not open. */
    private readonly send: (m: Extract<AgentMessage, { type: 'image-fetch' }>) => boolean,
    private readonly dial: (stream: { id: string; secret: string }) => Promise<WebSocket>,
  ) {}

  /** The file's bytes from `offset` on, as a stream held paused until its reader resumes it. */
  fetch(path: string, offset: number): Promise<ImageStream> {
    const id = randomBytes(12).toString('base64url');
    return new Promise<ImageStream>((resolve, reject) => {
      const timer = setTimeout(() => this.settle(id)?.reject(new ArdesiaError('AGENT_COMMAND_TIMEOUT', `the controller did not answer for image file ${path} within ${ANSWER_WITHIN_MS / 1000} s`)), ANSWER_WITHIN_MS);
      this.waiting.set(id, { path, resolve: (s) => (clearTimeout(timer), resolve(s)), reject: (e) => (clearTimeout(timer), reject(e)) });
      if (!this.send({ type: 'image-fetch', id, path, offset })) this.settle(id)?.reject(new ArdesiaError('AGENT_NOT_LINKED', `no link to the controller: image file ${path} cannot be copied now`));
    });
  }

  /** The controller's answer: its stream dialled (paused), or its error. */
  answer(m: Answer): void {
    const w = this.settle(m.id);
    if (!w) return;
    if (m.error) return w.reject(new ArdesiaError(m.error.code, `the controller: ${m.error.message}`));
    if (!m.stream || m.size === undefined || m.sha256 === undefined) return w.reject(new ArdesiaError('AGENT_PROTOCOL_MISMATCH', `the controller's answer for ${w.path} names no stream, size and sha256`));
    const { size, sha256 } = m;
    this.dial(m.stream).then(
      (ws) => {
        ws.pause(); // its reader (local-images.ts) resumes it once it writes
        w.resolve({ ws, size, sha256 });
      },
      (err: Error) => w.reject(err),
    );
  }

  linkClosed(): void {
    for (const id of [...this.waiting.keys()]) this.settle(id)?.reject(new ArdesiaError('AGENT_NOT_LINKED', 'the link to the controller closed before it answered'));
  }

  private settle(id: string): Waiting | undefined {
    const w = this.waiting.get(id);
    this.waiting.delete(id);
    return w;
  }
}
