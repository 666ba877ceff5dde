// NIC arguments: a -netdev backend (user NAT, or a tap device) and a -device front end per NIC,
// with deterministic MACs and tap names so that a VM keeps them across restarts and hosts.
import { createHash } from 'node:crypto';
import { ArdesiaError } from '../../contract/errors.js';
import type { NicSpec } from '../../contract/vm.js';
import type { HandedFiles } from './handed-files.js';
import { renderOption } from './qemu-options.js';

/** Linux's IFNAMSIZ less the terminating NUL. */
export const MAX_IFNAME_LENGTH = 15;

const NIC_DEVICE_MODEL: Record<NicSpec['model'], string> = {
  virtio: 'virtio-net-pci',
  e1000: 'e1000',
  rtl8139: 'rtl8139',
};

function nameHash(name: string, index: number): Buffer {
  return createHash('sha256').update(`${name}\0${index}`).digest();
}

/**
 * A stable MAC for NIC `index` of VM `name`: 52:54 then 32 bits of a hash. 0x52 has the
 * locally-administered bit set and the multicast bit clear; keeping QEMU's familiar 52:54 while
 * hashing four bytes (not three, as 52:54:00:xx:xx:xx would) makes a collision among 1,000 VMs
 * on one link about 1 in 10,000 instead of 1 in 30.
 */
export function defaultMac(name: string, index: number): string {
  const tail = [...nameHash(name, index).subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0'));
  return ['52', '54', ...tail].join(':');
}

/** The tap the daemon creates for a bridged NIC: `ard-<8 hex of a hash>-<index>`, at most 15 chars. */
export function defaultTapName(name: string, index: number): string {
  const ifname = `ard-${nameHash(name, index).subarray(0, 4).toString('hex')}-${index}`;
  if (ifname.length > MAX_IFNAME_LENGTH) throw new ArdesiaError('VM_SPEC_INVALID', `NIC index ${index} is too large for a tap name`);
  return ifname;
}

/** user mode: QEMU's slirp NAT. restrict=on with no destination cuts the guest off from everything; with an
 *  `allow` list slirp connects as usual and the kernel lets the VM's own uid reach only those destinations
 *  (src/network/nat-guard.ts), so no command runs per connection and QEMU keeps spawn=deny. */
function userNetdev(vmName: string, nic: NicSpec, index: number, id: string): string {
  const allowed = (nic.allow?.length ?? 0) > 0;
  if (allowed && !nic.restrict) {
    throw new ArdesiaError('VM_SPEC_INVALID', `vm ${vmName}: NIC ${index}: an allow list only means something with restrict (unrestricted NAT reaches everything)`);
  }
  return renderOption('user', { id, restrict: nic.restrict && !allowed ? true : undefined, tftp: nic.tftpRoot, bootfile: nic.bootFile });
}

function netdevArg(vmName: string, nic: NicSpec, index: number, handed: HandedFiles): string {
  const id = `net${index}`;
  if (nic.mode !== 'user' && (nic.tftpRoot !== undefined || nic.bootFile !== undefined)) {
    throw new ArdesiaError('VM_SPEC_INVALID', `vm ${vmName}: NIC ${index}: tftpRoot/bootFile need mode user (QEMU's own TFTP)`);
  }
  if (nic.mode !== 'user' && (nic.restrict || (nic.allow?.length ?? 0) > 0)) {
    throw new ArdesiaError('VM_SPEC_INVALID', `vm ${vmName}: NIC ${index}: restrict/allow are QEMU user-mode NAT options; filter a ${nic.mode} NIC on the host`);
  }
  if (nic.hostAccess && (nic.mode !== 'user' || nic.restrict)) {
    throw new ArdesiaError('VM_SPEC_INVALID', `vm ${vmName}: NIC ${index}: host access opens unrestricted user-mode NAT to the host; a restricted or ${nic.mode === 'user' ? 'allow-listed' : nic.mode} NIC does not take it (allow the host's address:port instead)`);
  }
  if (nic.mode === 'user' && nic.locked) {
    throw new ArdesiaError('VM_SPEC_INVALID', `vm ${vmName}: NIC ${index}: locked lladdr needs a layer-2 port (bridge, tap or local), not user-mode NAT`);
  }
  switch (nic.mode) {
    case 'user':
      return userNetdev(vmName, nic, index, id);
    case 'bridge':
      if (!nic.bridge) throw new ArdesiaError('VM_SPEC_INVALID', `vm ${vmName}: NIC ${index}: mode bridge needs a bridge name`);
      return renderOption('tap', { id, fd: handed.tapFd(nic.ifname ?? defaultTapName(vmName, index)) });
    case 'local':
      return renderOption('tap', { id, fd: handed.tapFd(nic.ifname ?? defaultTapName(vmName, index)) });
    case 'tap':
      if (!nic.ifname) throw new ArdesiaError('VM_SPEC_INVALID', `vm ${vmName}: NIC ${index}: mode tap needs the ifname of an existing tap`);
      return renderOption('tap', { id, fd: handed.tapFd(nic.ifname) });
  }
}

/** The MAC NIC `index` of a VM gets: the spec's, else the stable default. */
export function nicMac(vmName: string, nic: Pick<NicSpec, 'mac'>, index: number): string {
  return (nic.mac ?? defaultMac(vmName, index)).toLowerCase();
}

/** The host interface of a tap-backed NIC (bridge, local, tap), or undefined for user-mode NAT. */
export function nicTapName(vmName: string, nic: Pick<NicSpec, 'mode' | 'ifname'>, index: number): string | undefined {
  if (nic.mode === 'user') return undefined;
  return nic.ifname ?? defaultTapName(vmName, index);
}

/** -netdev/-device pairs; bootIndexes[i] puts NIC i in the firmware's boot order (network boot). A tap-backed
 *  NIC's tap is handed to QEMU as a descriptor (`handed`), opened as root by native/tap-open. */
export function nicArgs(vmName: string, nics: NicSpec[], bootIndexes: Array<number | undefined>, handed: HandedFiles): string[] {
  return nics.flatMap((nic, index) => [
    '-netdev',
    netdevArg(vmName, nic, index, handed),
    '-device',
    renderOption(NIC_DEVICE_MODEL[nic.model], {
      id: `net${index}-dev`,
      netdev: `net${index}`,
      mac: nicMac(vmName, nic, index),
      bootindex: bootIndexes[index],
    }),
  ]);
}
