// A new pool's start mode when its creator leaves it out (pure): restore when the image's guest helper can take a
// restored clone's identity (the `resumed` message, helper version 2) and the pool's network lets clones share the
// template's network card; boot otherwise, and for images whose helper is unknown (imported ones).
import type { PoolNetwork, StartMode } from '../contract/pools.js';

/** The first guest helper version that handles `resumed` (guest/linux/ardesia-guest-helper). */
export const RESTORE_HELPER_VERSION = 2;

export function defaultStartMode(image: { guestHelper: number | null }, network: Pick<PoolNetwork, 'mode'>): StartMode {
  if (image.guestHelper === null || image.guestHelper < RESTORE_HELPER_VERSION) return 'boot';
  return network.mode === 'bridge' ? 'boot' : 'restore';
}
