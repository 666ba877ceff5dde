// vmctl create: a new disk image, empty (-s), as an overlay on a base (-b), or converted (-i).
import { existsSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { ArdesiaError } from '../contract/errors.js';
import { imageInfo, qemuImg } from './qemu-img.js';

export const MAX_DISK_BYTES = 64 * 2 ** 40; // 64 TiB

export const DiskCreateBody = z
  .object({
    path: z.string().min(1).refine((p) => p.startsWith('/'), 'the disk path must be absolute'),
    format: z.enum(['qcow2', 'raw']).default('qcow2'),
    sizeBytes: z.number().int().min(512).max(MAX_DISK_BYTES).optional(),
    base: z.string().optional(),
    from: z.string().optional(),
  })
  .strict()
  .refine((b) => !(b.base && b.from), 'give either a base image (-b) or a source to convert (-i), not both')
  .refine((b) => b.base || b.from || b.sizeBytes, 'an empty disk needs a size (-s)')
  .refine((b) => !b.base || b.format === 'qcow2', 'only qcow2 disks can have a base image');

export async function createDisk(req: z.infer<typeof DiskCreateBody>): Promise<{ path: string; format: string; virtualSize: number }> {
  if (existsSync(req.path)) throw new ArdesiaError('VM_EXISTS', `${req.path} already exists; vmctl create never overwrites a disk`);
  if (!existsSync(dirname(req.path))) throw new ArdesiaError('VM_FILE_MISSING', `folder ${dirname(req.path)} does not exist`);
  for (const src of [req.base, req.from]) {
    if (src && !existsSync(src)) throw new ArdesiaError('VM_FILE_MISSING', `${src} does not exist`);
  }
  try {
    if (req.base) {
      const base = await imageInfo(req.base);
      const args = ['create', '-q', '-f', 'qcow2', '-F', base.format, '-b', req.base, req.path];
      if (req.sizeBytes) args.push(String(Math.max(req.sizeBytes, base.virtualSize)));
      await qemuImg(args);
    } else if (req.from) {
      await qemuImg(['convert', '-q', '-O', req.format, req.from, req.path]);
      const info = await imageInfo(req.path);
      if (req.sizeBytes && req.sizeBytes > info.virtualSize) await qemuImg(['resize', '-q', '-f', req.format, req.path, String(req.sizeBytes)]);
    } else {
      await qemuImg(['create', '-q', '-f', req.format, req.path, String(req.sizeBytes)]);
    }
  } catch (err) {
    rmSync(req.path, { force: true }); // nothing half-created
    throw err;
  }
  const info = await imageInfo(req.path);
  return { path: req.path, format: info.format, virtualSize: info.virtualSize };
}
