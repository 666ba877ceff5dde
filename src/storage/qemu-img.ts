// A thin wrapper over qemu-img: run it, parse its JSON, turn its failures into registry errors.
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { ArdesiaError } from '../contract/errors.js';

const run = promisify(execFile);

export interface ImageInfo {
  format: string;
  virtualSize: number;
  actualSize: number;
  backingFile?: string;
  backingFormat?: string;
}

export async function qemuImg(args: string[]): Promise<string> {
  try {
    const { stdout } = await run('qemu-img', args, { maxBuffer: 16 << 20 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; code?: string | number; message: string };
    if (e.code === 'ENOENT') throw new ArdesiaError('IMAGE_CREATE_FAILED', 'qemu-img is not installed: apt-get install qemu-utils');
    const msg = (e.stderr ?? e.message).trim().replace(/^qemu-img: /, '');
    if (/lock/.test(msg)) throw new ArdesiaError('VM_DISK_IN_USE', msg);
    if (/No space left on device|Disk quota exceeded/i.test(msg)) throw new ArdesiaError('DISK_FULL', `${msg}: the data folder is full: free space or grow it; nothing was changed`);
    throw new ArdesiaError('IMAGE_CREATE_FAILED', msg);
  }
}

export interface QemuImgOutcome {
  exitCode: number;
  /** The signal that ended qemu-img (it then leaves no words on stderr), or null. */
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs qemu-img to the end without throwing on a non-zero exit (qemu-img check reports through it). */
export function qemuImgOutcome(args: string[], onStdout?: (chunk: string) => void): Promise<QemuImgOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn('qemu-img', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      onStdout?.(d);
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') reject(new ArdesiaError('IMAGE_CREATE_FAILED', 'qemu-img is not installed: apt-get install qemu-utils'));
      else reject(err);
    });
    child.once('close', (code, signal) => resolve({ exitCode: code ?? (signal ? 128 : 1), signal, stdout, stderr }));
  });
}

/** The fractions in qemu-img -p output, "    (12.34/100%)\r", in the order seen. */
export function parseQemuImgProgress(text: string): number[] {
  return [...text.matchAll(/\((\d+(?:\.\d+)?)\/100%\)/g)].map((m) => Math.min(1, Number(m[1]) / 100));
}

/** -U: read even while a VM holds the image (QEMU's lock would refuse a plain open). */
export async function imageInfo(path: string): Promise<ImageInfo> {
  const raw = JSON.parse(await qemuImg(['info', '-U', '--output=json', path])) as Record<string, unknown>;
  return {
    format: String(raw.format),
    virtualSize: Number(raw['virtual-size']),
    actualSize: Number(raw['actual-size'] ?? 0),
    backingFile: raw['backing-filename'] as string | undefined,
    backingFormat: raw['backing-filename-format'] as string | undefined,
  };
}

/** A qemu-img ended by a signal says nothing itself: name the signal rather than blame the image. */
export function throwIfKilled(outcome: QemuImgOutcome, what: string): void {
  if (outcome.signal) throw new ArdesiaError('IMAGE_CREATE_FAILED', `${what}: qemu-img was killed by ${outcome.signal} before it finished`);
}
