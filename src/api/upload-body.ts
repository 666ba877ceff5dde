// An upload route's body (vm receive): the request's bytes reach the handler through a pass-through, so a refusal
// (a bad header, a missing seal) ends that and not the request. The rest of the request is then read and dropped
// before the error is answered: the client, still sending, reads the error instead of a reset connection.
import type { IncomingMessage } from 'node:http';
import { PassThrough, Readable } from 'node:stream';

/** How long a refused upload's remaining bytes are read before the connection is dropped instead. */
const DRAIN_LIMIT_MS = 120_000;

export interface UploadBody {
  /** What the handler reads. */
  stream: Readable;
  /** After a refusal: the request read to its end (or dropped after DRAIN_LIMIT_MS), so the reply can be read. */
  drain(): Promise<void>;
}

export function uploadBody(request: IncomingMessage): UploadBody {
  const stream = new PassThrough();
  request.pipe(stream);
  return {
    stream,
    drain: () => {
      request.unpipe(stream);
      stream.destroy();
      if (request.readableEnded || request.destroyed) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          request.destroy();
          resolve();
        }, DRAIN_LIMIT_MS);
        timer.unref();
        const done = () => {
          clearTimeout(timer);
          resolve();
        };
        request.once('end', done).once('close', done).once('error', done);
        request.resume();
      });
    },
  };
}

export const isUploadStream = (body: unknown): body is IncomingMessage => body instanceof Readable;
