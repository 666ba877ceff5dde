// A bounded on-disk log of a VM's serial console: appended as output arrives, rotated at a cap,
// so `vm log` can show recent output without attaching and the disk never fills.
import { appendFileSync, existsSync, readFileSync, renameSync, statSync } from 'node:fs';

export const CONSOLE_LOG_CAP_BYTES = 256 * 1024;

export class ConsoleLog {
  private size: number;
  constructor(
    readonly path: string,
    private readonly capBytes = CONSOLE_LOG_CAP_BYTES,
  ) {
    this.size = existsSync(path) ? statSync(path).size : 0;
  }

  append(chunk: Uint8Array): void {
    if (this.size + chunk.length > this.capBytes) {
      renameSync(this.path, `${this.path}.1`);
      this.size = 0;
    }
    appendFileSync(this.path, chunk);
    this.size += chunk.length;
  }

  /** The last `maxBytes` of output, across the rotation boundary. */
  tail(maxBytes = 64 * 1024): Buffer {
    return consoleLogTail(this.path, maxBytes);
  }
}

export function consoleLogTail(path: string, maxBytes: number): Buffer {
  const parts: Buffer[] = [];
  for (const p of [`${path}.1`, path]) if (existsSync(p)) parts.push(readFileSync(p));
  const all = Buffer.concat(parts);
  return all.subarray(Math.max(0, all.length - maxBytes));
}
