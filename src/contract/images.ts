// Wire types of gold images, desktops, home volumes and long-running operations.
import { z } from 'zod';
import type { ErrorBody } from './errors.js';
import { PoolNetwork } from './network.js';
import { Arch } from './vm.js';

export const MAX_CHAIN_DEPTH = 4;
export const DEFAULT_HOME_BYTES = 2 ** 30;

export const ImportFormat = z.enum(['qcow2', 'raw', 'vmdk', 'vdi', 'vhdx']);

export const BootProfileInput = z
  .object({
    arch: Arch.default('amd64'),
    firmware: z.enum(['bios', 'uefi']).default('bios'),
    memoryMiB: z.number().int().min(16).max(1024 * 1024).default(512),
    kernel: z.string().min(1).optional(),
    initrd: z.string().min(1).optional(),
    cmdline: z.string().max(4096).optional(),
  })
  .strict();

export const ImageCreateBody = z
  .object({
    name: z.string(),
    from: z.string().min(1).optional(),
    format: ImportFormat.optional(),
    iso: z.string().min(1).optional(),
    sizeBytes: z.number().int().min(1 << 20).max(64 * 2 ** 40).optional(),
    build: z.literal('debian').optional(),
    boot: BootProfileInput.default({}),
    /** The installer VM's network card (an ISO install only). */
    network: PoolNetwork.optional(),
  })
  .strict()
  .refine((b) => [b.from, b.iso, b.build].filter(Boolean).length === 1, 'give exactly one of from (a disk file), iso (an installer) or build')
  .refine((b) => !b.iso || b.sizeBytes, 'an ISO install needs the size of the blank disk (--size)')
  .refine((b) => !b.network || b.iso, 'network is the installer VM\'s: it goes with iso');
export type ImageCreateBody = z.infer<typeof ImageCreateBody>;

export const PublishBody = z
  .object({ flatten: z.boolean().default(false), stopTimeoutMs: z.number().int().min(1000).max(3_600_000).default(120_000) })
  .strict()
  .default({});
export const RollbackBody = z.object({ to: z.number().int().min(1) }).strict();
export const VersionQuery = z.object({ version: z.coerce.number().int().min(1).optional() });

export interface BootProfile {
  arch: 'amd64' | 'i386';
  firmware: 'bios' | 'uefi';
  memoryMiB: number;
  /** Absolute paths of the copies in images/<name>/boot/. */
  kernel: string | null;
  initrd: string | null;
  cmdline: string | null;
}

export interface ImageVersion {
  image: string;
  version: number;
  sha256: string;
  backingVersion: number | null;
  depth: number;
  virtualSize: number;
  path: string;
  createdAt: string;
  createdBy: string;
  current: boolean;
}

export interface MaintenanceSession {
  image: string;
  baseVersion: number | null;
  targetVersion: number;
  overlay: string;
  vm: string;
  iso: string | null;
  startedBy: string;
  startedAt: string;
}

export interface ImageInfo {
  name: string;
  boot: BootProfile;
  currentVersion: number | null;
  versions: ImageVersion[];
  maintenance: MaintenanceSession | null;
  desktops: string[];
  createdAt: string;
  createdBy: string;
}

export const DesktopCreateBody = z
  .object({
    name: z.string(),
    image: z.string(),
    version: z.union([z.number().int().min(1), z.literal('latest')]).default('latest'),
    home: z.string().optional(),
    homeSizeBytes: z.number().int().min(1 << 20).max(64 * 2 ** 40).optional(),
    /** The same setting as a pool's: none, NAT (optionally restricted) or a tap on a host bridge. */
    network: PoolNetwork.default({ mode: 'none' }),
  })
  .strict();
export type DesktopCreateBody = z.infer<typeof DesktopCreateBody>;
/** A maintenance session's VM: the network it gets (an update or an installer usually needs one). */
export const MaintenanceOpenBody = z.object({ network: PoolNetwork.default({ mode: 'none' }) }).strict().default({});
export type MaintenanceOpenBody = z.infer<typeof MaintenanceOpenBody>;
export const DesktopStopBody = z.object({ force: z.boolean().default(false), waitMs: z.number().int().min(0).max(3_600_000).default(60_000) }).strict().default({});

export interface DesktopInfo {
  name: string;
  image: string;
  version: number;
  followsLatest: boolean;
  home: string | null;
  vm: string;
  state: string;
  systemDisk: string;
  createdAt: string;
  network: PoolNetwork;
}

export const HomeResizeBody = z.object({ sizeBytes: z.number().int().min(1 << 20).max(64 * 2 ** 40) }).strict();
export const HomeDeleteQuery = z.object({ yes: z.enum(['true', 'false']).default('false') });

export interface HomeInfo {
  user: string;
  sizeBytes: number;
  path: string;
  leasedTo: string | null;
  leasedAt: string | null;
  createdAt: string;
  /** The site-wide lease (serve --home-leases sanlock), as the store records it; null when the home never had one. */
  siteLease: HomeSiteLease | null;
}

/** Who holds a home's sanlock lease: host, desktop and QEMU pid (null when free), and how many times it was acquired. */
export interface HomeSiteLease {
  host: string | null;
  desktop: string | null;
  pid: number | null;
  generation: number;
  acquiredAt: string | null;
}

export type OperationState = 'running' | 'succeeded' | 'failed';

export interface Operation {
  id: string;
  kind: string;
  target: string;
  state: OperationState;
  /** 0..100, or null while unknown. */
  progress: number | null;
  message: string;
  result?: unknown;
  error?: ErrorBody['error'];
  createdAt: string;
  finishedAt?: string;
}
