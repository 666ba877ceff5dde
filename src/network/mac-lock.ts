// vm.conf `locked lladdr`: nftables rules that drop every frame a guest sends from a source MAC other
// than its NIC's (Ethernet source and ARP sender), so a guest that changes its MAC is cut off. Pure
// text builders; tap.ts feeds them to `nft -f -` when the tap appears and removes them with it.
import { ArdesiaError } from '../contract/errors.js';

/** Where the tap is: a port of a Linux bridge (bridge-family prerouting, sees every frame entering the
 *  bridge from that port) or a routed tap of its own (a local interface: netdev ingress on the device). */
export type LockAttachment = 'bridge-port' | 'device';

const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

function checked(tap: string, mac?: string): void {
  if (!IFNAME.test(tap)) throw new ArdesiaError('VM_SPEC_INVALID', `"${tap}" is not an interface name nftables rules can name (1-15 of A-Z a-z 0-9 _ . -)`);
  if (mac !== undefined && !MAC.test(mac)) throw new ArdesiaError('VM_SPEC_INVALID', `"${mac}" is not a lower-case MAC address like 52:54:00:12:34:56`);
}

const FAMILY: Record<LockAttachment, 'bridge' | 'netdev'> = { 'bridge-port': 'bridge', device: 'netdev' };

/** One table per tap, so adding and removing a VM's lock never touches another VM's rules. */
export function macLockTable(tap: string): string {
  checked(tap);
  return `ardesia_lock_${tap.replace(/[^A-Za-z0-9_]/g, '_')}`;
}

/** The `nft -f` script that (re)creates the lock of `tap` to `mac`: an existing table of that name is replaced. */
export function macLockRuleset(tap: string, mac: string, attachment: LockAttachment): string {
  checked(tap, mac);
  const family = FAMILY[attachment];
  const table = macLockTable(tap);
  const hook =
    attachment === 'bridge-port'
      ? 'type filter hook prerouting priority -200; policy accept;'
      : `type filter hook ingress device "${tap}" priority 0; policy accept;`;
  const match = attachment === 'bridge-port' ? `iifname "${tap}" ` : '';
  return [
    // "add" then "delete" makes the replacement work whether or not the table exists (nft 1.0.6 has no "destroy").
    `add table ${family} ${table}`,
    `delete table ${family} ${table}`,
    `table ${family} ${table} {`,
    '  chain guard {',
    `    ${hook}`,
    `    ${match}ether saddr != ${mac} counter drop`,
    `    ${match}ether type arp arp saddr ether != ${mac} counter drop`,
    '  }',
    '}',
    '',
  ].join('\n');
}

/** The `nft -f` script that removes the lock of `tap` (it succeeds when there is none). */
export function macUnlockRuleset(tap: string, attachment: LockAttachment): string {
  const family = FAMILY[attachment];
  const table = macLockTable(tap);
  return `add table ${family} ${table}\ndelete table ${family} ${table}\n`;
}
