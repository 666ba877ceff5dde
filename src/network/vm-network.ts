// The host side of a VM's NICs for its life: before QEMU starts, taps are created and put on their
// bridge (bridge), given the host address of their /31 with the DHCP answering on it (local), and
// locked to the NIC's MAC (locked lladdr); after QEMU exits all of it is removed. User-mode NAT needs none.
import type { VmSpec } from '../contract/vm.js';
import { DEFAULT_LOCAL_PREFIX } from '../contract/vm.js';
import { nicMac, nicTapName } from '../hypervisor/qemu/network-args.js';
import { withRevert } from '../lib/revert.js';
import { macLock, macUnlock, tapAddress, tapCreate, tapDelete, tapOnBridge } from './host-links.js';
import { LocalDhcp, type LocalDhcpLog } from './local-dhcp.js';
import { localPair, localSlot, parseLocalPrefix, POINT_TO_POINT_BITS, type LocalPair } from './local-prefix.js';
import type { LockAttachment } from './mac-lock.js';

/** What was set up for one NIC, so that detach undoes exactly that. */
interface Plumbed {
  tap: string;
  mac: string;
  /** The daemon created the tap (bridge, local) and deletes it; a named `tap` NIC's device is the administrator's. */
  ownsTap: boolean;
  lock?: LockAttachment;
  local?: LocalPair;
}

export interface LocalAddress {
  nic: number;
  tap: string;
  host: string;
  guest: string;
}

export class VmNetwork {
  private readonly plumbed = new Map<string, Plumbed[]>();
  private readonly slots = new Set<number>();
  private readonly dhcp: LocalDhcp;

  constructor(log: LocalDhcpLog = () => {}) {
    this.dhcp = new LocalDhcp(log);
  }

  /** Sets up every NIC of `spec` that needs the host (idempotent: taps left by a previous daemon are reused). */
  async attach(spec: VmSpec): Promise<void> {
    await this.detach(spec.name);
    const done: Plumbed[] = [];
    await withRevert(async (revert) => {
      revert.add(() => this.undo(done));
      for (const [index, nic] of spec.nics.entries()) {
        const tap = nicTapName(spec.name, nic, index);
        if (tap === undefined) continue;
        const p: Plumbed = { tap, mac: nicMac(spec.name, nic, index), ownsTap: nic.mode !== 'tap' };
        done.push(p);
        if (p.ownsTap) await tapCreate(tap);
        if (nic.mode === 'bridge') await tapOnBridge(tap, nic.bridge!);
        if (nic.mode === 'local') {
          const prefix = parseLocalPrefix(nic.localPrefix ?? DEFAULT_LOCAL_PREFIX);
          const slot = localSlot(prefix, spec.name, index, this.slots);
          this.slots.add(slot);
          p.local = localPair(prefix, slot);
          await tapAddress(tap, p.local.host, POINT_TO_POINT_BITS);
          await this.dhcp.add(tap, p.mac, p.local);
        }
        if (nic.locked) {
          p.lock = nic.mode === 'local' ? 'device' : 'bridge-port';
          await macLock(tap, p.mac, p.lock);
        }
      }
    });
    this.plumbed.set(spec.name, done);
  }

  /** Removes what attach set up for VM `name` (after its QEMU is gone). */
  async detach(name: string): Promise<void> {
    const done = this.plumbed.get(name);
    if (!done) return;
    this.plumbed.delete(name);
    await this.undo(done);
  }

  /** Removes what a previous daemon set up for a VM that died while no daemon ran (taps, MAC locks). */
  async cleanupAfterDeath(spec: VmSpec): Promise<void> {
    for (const [index, nic] of spec.nics.entries()) {
      const tap = nicTapName(spec.name, nic, index);
      if (tap === undefined) continue;
      if (nic.locked) await macUnlock(tap, nic.mode === 'local' ? 'device' : 'bridge-port').catch(() => undefined);
      if (nic.mode !== 'tap') await tapDelete(tap).catch(() => undefined);
    }
  }

  /** The addresses of VM `name`'s local interfaces while it runs. */
  localAddresses(name: string): LocalAddress[] {
    return (this.plumbed.get(name) ?? []).flatMap((p, nic) => (p.local ? [{ nic, tap: p.tap, host: p.local.host, guest: p.local.guest }] : []));
  }

  close(): void {
    this.dhcp.close();
  }

  private async undo(done: Plumbed[]): Promise<void> {
    for (const p of [...done].reverse()) {
      if (p.local) {
        await this.dhcp.remove(p.mac);
        this.slots.delete(p.local.slot);
      }
      // A deleted tap takes its netdev chain's hook with it, but the table stays: remove it explicitly.
      if (p.lock) await macUnlock(p.tap, p.lock).catch(() => undefined);
      if (p.ownsTap) await tapDelete(p.tap).catch(() => undefined);
    }
  }
}
