// Runs the build's external programs (mmdebstrap, mksquashfs, cpio, chroot) with their output
// streamed line by line to the caller's log, and a failure that quotes the program's last lines.
import { spawn } from 'node:child_process';
import { ArdesiaError, type ErrorCode } from '../../contract/errors.js';
import { mmdebstrapFailureKind } from '../../images/build/debian-plan.js';

/** A failed step of the thin-client OS build, with the registry code whose hint says what to do (the image build's). */
export class ThinClientBuildError extends ArdesiaError {
  constructor(message: string, code: ErrorCode = 'IMAGE_BUILD_FAILED') {
    super(code, message);
    this.name = 'ThinClientBuildError';
  }
}

export interface RunOptions {
  cwd?: string;
  onLine?: (line: string) => void;
  /** Collect stdout as bytes (cpio archives) instead of logging it. */
  captureStdout?: boolean;
  /** More environment for the program (and, through chroot, for the package scripts it runs). */
  env?: Record<string, string>;
}

export function runProgram(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive', LC_ALL: 'C', ...opts.env } });
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
    child.on('error', (err: NodeJS.ErrnoException) =>
      reject(new ThinClientBuildError(`${cmd} could not start (${err.code ?? err.message})`, err.code === 'ENOENT' ? 'IMAGE_BUILD_TOOL_MISSING' : 'IMAGE_BUILD_FAILED')),
    );
    child.on('close', (code) => {
      if (code === 0) return resolve(Buffer.concat(chunks));
      const unreachable = cmd === 'mmdebstrap' && mmdebstrapFailureKind(tail) === 'mirror-unreachable';
      reject(new ThinClientBuildError(`${cmd} ${args.join(' ')} failed (exit ${code}):\n${tail.split('\n').slice(-12).join('\n')}`, unreachable ? 'IMAGE_BUILD_MIRROR_UNREACHABLE' : 'IMAGE_BUILD_FAILED'));
    });
  });
}
