// A thin wrapper over qemu-img: run it, parse its JSON, turn its failures into registry errors.
import { execFile } from 'node:child_process';
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
    throw new ArdesiaError('IMAGE_CREATE_FAILED', msg);
  }
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
