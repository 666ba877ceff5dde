// Success bodies of the gold-image, desktop and home routes, typed as their wire interfaces in src/contract/images.ts.
import { z } from 'zod';
import type { BootProfile, DesktopInfo, HomeInfo, ImageInfo, ImageVersion, MaintenanceSession, Operation } from '../contract/images.js';
import { PoolNetwork } from '../contract/network.js';
import { ERROR_REGISTRY, type ErrorCode } from '../contract/errors.js';

const Iso = z.string().datetime({ offset: true });

const BootProfileBody = z
  .object({
    arch: z.enum(['amd64', 'i386']),
    firmware: z.enum(['bios', 'uefi']),
    memoryMiB: z.number().int(),
    kernel: z.string().nullable(),
    initrd: z.string().nullable(),
    cmdline: z.string().nullable(),
  })
  .strict() satisfies z.ZodType<BootProfile>;

export const ImageVersionBody = z
  .object({
    image: z.string(),
    version: z.number().int().min(1),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    backingVersion: z.number().int().min(1).nullable(),
    depth: z.number().int().min(1),
    virtualSize: z.number().int(),
    path: z.string(),
    createdAt: Iso,
    createdBy: z.string(),
    current: z.boolean(),
  })
  .strict() satisfies z.ZodType<ImageVersion>;

export const MaintenanceSessionBody = z
  .object({
    image: z.string(),
    baseVersion: z.number().int().min(1).nullable(),
    targetVersion: z.number().int().min(1),
    overlay: z.string(),
    vm: z.string(),
    iso: z.string().nullable(),
    startedBy: z.string(),
    startedAt: Iso,
  })
  .strict() satisfies z.ZodType<MaintenanceSession>;

export const ImageInfoBody = z
  .object({
    name: z.string(),
    boot: BootProfileBody,
    currentVersion: z.number().int().min(1).nullable(),
    versions: z.array(ImageVersionBody),
    maintenance: MaintenanceSessionBody.nullable(),
    desktops: z.array(z.string()),
    createdAt: Iso,
    createdBy: z.string(),
  })
  .strict() satisfies z.ZodType<ImageInfo>;

/** A long action; `result` is the finished action's own body (an image, a version), `error` an error body's inside. */
export const OperationBody = z
  .object({
    id: z.string(),
    kind: z.string(),
    target: z.string(),
    state: z.enum(['running', 'succeeded', 'failed']),
    progress: z.number().min(0).max(100).nullable(),
    message: z.string(),
    result: z.unknown(),
    error: z
      .object({ code: z.enum(Object.keys(ERROR_REGISTRY) as [ErrorCode, ...ErrorCode[]]), message: z.string(), hint: z.string(), details: z.unknown().optional() })
      .strict()
      .optional(),
    createdAt: Iso,
    finishedAt: Iso.optional(),
  })
  .strict() satisfies z.ZodType<Omit<Operation, 'result'>>;

export const DesktopInfoBody = z
  .object({
    name: z.string(),
    image: z.string(),
    version: z.number().int().min(1),
    followsLatest: z.boolean(),
    home: z.string().nullable(),
    vm: z.string(),
    state: z.string(),
    systemDisk: z.string(),
    network: PoolNetwork,
    createdAt: Iso,
  })
  .strict() satisfies z.ZodType<DesktopInfo>;

export const HomeInfoBody = z
  .object({
    user: z.string(),
    sizeBytes: z.number().int(),
    path: z.string(),
    leasedTo: z.string().nullable(),
    leasedAt: Iso.nullable(),
    createdAt: Iso,
    siteLease: z.object({ host: z.string().nullable(), desktop: z.string().nullable(), pid: z.number().int().nullable(), generation: z.number().int(), acquiredAt: Iso.nullable() }).strict().nullable(),
  })
  .strict() satisfies z.ZodType<HomeInfo>;
/** A grown home: the home as it is now, with the sizes before and after. */
export const HomeResizedBody = HomeInfoBody.extend({ from: z.number().int(), to: z.number().int() }).strict();
