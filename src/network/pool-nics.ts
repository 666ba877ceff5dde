// A pool's network setting as the NICs of its desktops' VMs. The MAC is left to the argv builder's
// stable default (52:54 + a hash of the desktop's name), so a desktop keeps its MAC across re-clones.
import type { PoolNetwork } from '../contract/pools.js';
import type { NicSpec } from '../contract/vm.js';

export function poolNics(network: PoolNetwork): NicSpec[] {
  switch (network.mode) {
    case 'none':
      return [];
    case 'nat':
      return [network.allow ? { mode: 'user', model: 'virtio', restrict: true, allow: network.allow } : { mode: 'user', model: 'virtio' }];
    case 'bridge':
      // Desktops on an office link are locked to their MAC: a user cannot take another machine's address.
      return [{ mode: 'bridge', model: 'virtio', bridge: network.bridge, locked: true }];
  }
}
