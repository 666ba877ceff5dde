// vm.conf `local interface` addressing, as vmd does it: each such interface gets a /31 of the `local
// prefix` (100.64.0.0/10 by default): the even address on the host's tap, the odd one for the guest.
import { createHash } from 'node:crypto';
import { ArdesiaError } from '../contract/errors.js';
import { intToIp, ipToInt, isIpv4 } from '../contract/ipv4.js';

export const POINT_TO_POINT_MASK = '255.255.255.254';
export const POINT_TO_POINT_BITS = 31;

export interface LocalPrefix {
  base: number;
  bits: number;
}

export interface LocalPair {
  slot: number;
  host: string;
  guest: string;
}

export function parseLocalPrefix(text: string): LocalPrefix {
  const match = /^([0-9.]+)\/(\d{1,2})$/.exec(text);
  const bits = Number(match?.[2]);
  if (!match || !isIpv4(match[1]!) || bits > 30 || bits < 1) {
    throw new ArdesiaError('VM_SPEC_INVALID', `local prefix "${text}" is not an IPv4 prefix from /1 to /30 (like 100.64.0.0/10)`);
  }
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  const base = (ipToInt(match[1]!) & mask) >>> 0;
  if (base !== ipToInt(match[1]!)) throw new ArdesiaError('VM_SPEC_INVALID', `local prefix "${text}" has host bits set; write ${intToIp(base)}/${bits}`);
  return { base, bits };
}

/** How many /31 pairs the prefix holds. */
export function localPairCount(prefix: LocalPrefix): number {
  return 2 ** (32 - prefix.bits) / 2;
}

export function localPair(prefix: LocalPrefix, slot: number): LocalPair {
  if (!Number.isInteger(slot) || slot < 0 || slot >= localPairCount(prefix)) throw new ArdesiaError('INTERNAL', `local pair ${slot} is outside the prefix`);
  const host = (prefix.base + slot * 2) >>> 0;
  return { slot, host: intToIp(host), guest: intToIp(host + 1) };
}

/**
 * The pair of NIC `index` of VM `name`: a hash of the two picks the first slot tried, so a VM keeps its
 * addresses across restarts while its slot is free; taken slots are skipped (linear probing).
 */
export function localSlot(prefix: LocalPrefix, name: string, index: number, taken: ReadonlySet<number>): number {
  const count = localPairCount(prefix);
  if (taken.size >= count) {
    throw new ArdesiaError('VM_SPEC_INVALID', `local prefix ${intToIp(prefix.base)}/${prefix.bits} has no free /31 left (${count} in use); set a larger local prefix in vm.conf`);
  }
  const first = createHash('sha256').update(`${name}\0${index}`).digest().readUInt32BE(0) % count;
  for (let i = 0; i < count; i++) {
    const slot = (first + i) % count;
    if (!taken.has(slot)) return slot;
  }
  throw new ArdesiaError('INTERNAL', 'no free local slot although the count said so');
}
