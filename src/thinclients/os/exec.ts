// Runs the build's external programs (debootstrap, mksquashfs, cpio, chroot) with their output
// streamed line by line to the caller's log, and a failure that quotes the program's last lines.
import { spawn } from 'node:child_process';

export class ThinClientBuildError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ThinClientBuildError';
  }
}

export interface RunOptions {
  cwd?: string;
  onLine?: (line: string) => void;
  /** Collect stdout as bytes (cpio archives) instead of logging it. */
  captureStdout?: boolean;
}

export function runProgram(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive', LC_ALL: 'C' } });
    const chunks: Buffer[] = [];
    let tail = '';
    let partial = '';
    const take = (data: Buffer): void => {
      const text = partial + data.toString();
      const lines = text.split(/\r?\n|\r/);
      partial = lines.pop() ?? '';
      tail = (tail + data.toString()).slice(-4000);
      if (opts.onLine) for (const line of lines) if (line.trim()) opts.onLine(line);
    };
    child.stdout.on('data', (data: Buffer) => (opts.captureStdout ? chunks.push(data) : take(data)));
    child.stderr.on('data', take);
    child.on('error', (err) => reject(new ThinClientBuildError(`${cmd} could not start: ${err.message} (install its Debian package: node scripts/setup.mjs)`)));
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(chunks));
      else reject(new ThinClientBuildError(`${cmd} ${args.join(' ')} failed (exit ${code}):\n${tail.split('\n').slice(-12).join('\n')}`));
    });
  });
}
