// A desktop's network card, the same setting for pool desktops and standalone ones.
import { z } from 'zod';
import type { NicSpec } from './vm.js';

export const NatAllow = z.object({ host: z.string().ip({ version: 'v4', message: 'an IPv4 address like 10.1.2.3' }), port: z.number().int().min(1).max(65535) }).strict();

/**
 * The desktops' network card. none: no NIC (pools made before this setting keep it); nat: QEMU user-mode NAT,
 * everything the host reaches unless `allow` is given — then only those TCP destinations (the kernel filters the VM's uid);
 * bridge: a tap per desktop on a host bridge, with a stable MAC locked by nftables, addresses from the DHCP on that link.
 */
export const PoolNetwork = z.discriminatedUnion('mode', [
  z.object({ mode: z.literal('none') }).strict(),
  // hostAccess: the desktops may reach the host's own addresses (the NAT guard refuses them otherwise).
  z.object({ mode: z.literal('nat'), allow: z.array(NatAllow).max(16).optional(), hostAccess: z.boolean().optional() }).strict(),
  z.object({ mode: z.literal('bridge'), bridge: z.string().regex(/^[A-Za-z0-9_.-]{1,15}$/, 'a bridge is a Linux interface name (1-15 of A-Z a-z 0-9 _ . -)') }).strict(),
]);
export type PoolNetwork = z.infer<typeof PoolNetwork>;

/** The CLI's `--network none|nat|bridge:BR` (nat's allow list is its own flag). */
export function poolNetworkFromText(text: string): PoolNetwork | undefined {
  if (text === 'none' || text === 'nat') return { mode: text };
  const bridge = /^bridge:(.+)$/.exec(text)?.[1];
  const parsed = bridge === undefined ? undefined : PoolNetwork.safeParse({ mode: 'bridge', bridge });
  return parsed?.success ? parsed.data : undefined;
}

/** How a pool's network reads in lists and forms: none, nat, nat (restricted: 2 destinations), bridge:br0. */
export function poolNetworkText(network: PoolNetwork): string {
  if (network.mode === 'bridge') return `bridge:${network.bridge}`;
  if (network.mode === 'nat' && network.allow) return `nat (restricted: ${network.allow.length} destination${network.allow.length === 1 ? '' : 's'})`;
  if (network.mode === 'nat' && network.hostAccess) return 'nat (host access)';
  return network.mode;
}

/** A desktop's network setting as its VM's NICs. The MAC is left to the argv builder's stable default (52:54 + a
 *  hash of the desktop's name), so a desktop keeps its MAC across re-clones. */
export function poolNics(network: PoolNetwork): NicSpec[] {
  switch (network.mode) {
    case 'none':
      return [];
    case 'nat':
      if (network.allow) return [{ mode: 'user', model: 'virtio', restrict: true, allow: network.allow, ...(network.hostAccess ? { hostAccess: true } : {}) }];
      return [network.hostAccess ? { mode: 'user', model: 'virtio', hostAccess: true } : { mode: 'user', model: 'virtio' }];
    case 'bridge':
      // Desktops on an office link are locked to their MAC: a user cannot take another machine's address.
      return [{ mode: 'bridge', model: 'virtio', bridge: network.bridge, locked: true }];
  }
}
