// What VM a pool desktop is: its spec from the pool and the image's boot profile (a pool's restore template is one
// too, pool-templates.ts), and the fresh identity a clone restored from a template takes.
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ResumedMessage } from '../contract/guest.js';
import { poolNics } from '../contract/network.js';
import type { Pool } from '../contract/pools.js';
import type { VmSpec } from '../contract/vm.js';
import type { ServiceContext } from '../images/context.js';
import { bootProfileOf, requireImage, vmBootOf } from '../images/versions.js';
import { homeCreate } from '../storage/homes.js';
import { HOME_DISK_SERIAL } from './service.js';

/** A desktop's VM by name and system disk: the pool's size, the image's boot profile, the linked clone; no home (hot-plugged), or
 *  a scratch home beside it (a pool with home 'scratch'). */
export async function desktopVmSpec(ctx: ServiceContext, pool: Pool, name: string, image: string, system: string): Promise<VmSpec> {
  const img = await requireImage(ctx, image);
  const p = bootProfileOf(ctx, img);
  return {
    name,
    arch: p.arch,
    memoryMiB: pool.memoryMiB,
    vcpus: pool.vcpus,
    disks: [{ path: system, format: 'qcow2', bus: 'virtio', readonly: false }, ...(pool.home === 'scratch' ? [{ path: scratchHomeOf(system), format: 'qcow2' as const, bus: 'virtio' as const, readonly: false, serial: HOME_DISK_SERIAL }] : [])],
    boot: vmBootOf(p),
    nics: poolNics(pool.network),
    enabled: false,
    accel: 'auto',
    // Idle desktops give freed memory back; fixed for every desktop, so a saved state always finds the same devices.
    freePageReporting: true,
    // In every pool desktop, booted or restored, so a template and its clones have the same devices.
    vmgenid: true,
    ...(pool.spice ? { display: { spice: { listen: pool.spice.listen } } } : {}),
  };
}

/** A scratch-home pool's desktop: the blank disk its guest mounts as the user's home, beside its system disk. */
export function scratchHomeOf(system: string): string {
  return join(dirname(system), 'scratch-home.qcow2');
}

/** A blank scratch home of the pool's home size, replacing any before (its desktop's VM is off). */
export async function scratchHomeRenew(system: string, pool: Pool): Promise<void> {
  if (pool.home !== 'scratch') return;
  const path = scratchHomeOf(system);
  await rm(path, { force: true });
  await homeCreate(path, pool.homeSizeBytes); // blank: the guest helper formats it at the session's start
}

/** A clone's fresh identity: its own host name, a machine-id and (with a network) a locally administered QEMU MAC from the host's random numbers. */
export function resumedMessage(hostname: string, withNetwork: boolean): ResumedMessage {
  const mac = withNetwork ? `52:54:00:${[...randomBytes(3)].map((b) => b.toString(16).padStart(2, '0')).join(':')}` : undefined;
  return { type: 'resumed', hostname, time: Math.floor(Date.now() / 1000), machineId: randomBytes(16).toString('hex'), ...(mac ? { mac } : {}) };
}
