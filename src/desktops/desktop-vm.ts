// What VM a pool desktop is: its spec from the pool and the image's boot profile (a pool's restore template is one
// too, pool-templates.ts), and the fresh identity a clone restored from a template takes.
import { randomBytes } from 'node:crypto';
import type { ResumedMessage } from '../contract/guest.js';
import { poolNics } from '../contract/network.js';
import type { Pool } from '../contract/pools.js';
import type { VmSpec } from '../contract/vm.js';
import type { ServiceContext } from '../images/context.js';
import { bootProfileOf, requireImage, vmBootOf } from '../images/versions.js';

/** A desktop's VM by name and system disk: the pool's size, the image's boot profile, the linked clone; no home (hot-plugged). */
export async function desktopVmSpec(ctx: ServiceContext, pool: Pool, name: string, image: string, system: string): Promise<VmSpec> {
  const img = await requireImage(ctx, image);
  const p = bootProfileOf(ctx, img);
  return {
    name,
    arch: p.arch,
    memoryMiB: pool.memoryMiB,
    vcpus: pool.vcpus,
    disks: [{ path: system, format: 'qcow2', bus: 'virtio', readonly: false }],
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

/** A clone's fresh identity: its own host name, a machine-id and (with a network) a locally administered QEMU MAC from the host's random numbers. */
export function resumedMessage(hostname: string, withNetwork: boolean): ResumedMessage {
  const mac = withNetwork ? `52:54:00:${[...randomBytes(3)].map((b) => b.toString(16).padStart(2, '0')).join(':')}` : undefined;
  return { type: 'resumed', hostname, time: Math.floor(Date.now() / 1000), machineId: randomBytes(16).toString('hex'), ...(mac ? { mac } : {}) };
}
