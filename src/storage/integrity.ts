// Integrity of image versions: a streamed sha256 recorded at publish, checked before serving.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { ArdesiaError } from '../contract/errors.js';

/** Hex sha256 of a file, read as a stream (images are gigabytes). */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path, { highWaterMark: 1 << 20 }), hash);
  return hash.digest('hex');
}

/** IMAGE_CORRUPT unless the file still has the recorded checksum. */
export async function verifyImageFile(path: string, expectedSha256: string): Promise<void> {
  const actual = await sha256File(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') throw new ArdesiaError('IMAGE_CORRUPT', `${path} is missing; it will not be served`);
    throw err;
  });
  if (actual !== expectedSha256.toLowerCase()) {
    throw new ArdesiaError('IMAGE_CORRUPT', `${path} no longer matches its recorded checksum; it will not be served`, { expected: expectedSha256, actual });
  }
}

/** Read-only on disk (0444): a published version is never written again. */
export async function freezeFile(path: string): Promise<void> {
  await chmod(path, 0o444);
}
