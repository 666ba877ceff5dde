// Disk and CD-ROM arguments: one -blockdev (format node over a file node) per image and a
// -device on the bus the spec asks for. Controllers are added only when a disk needs them.
import { ArdesiaError } from '../../contract/errors.js';
import type { DiskSpec } from '../../contract/vm.js';
import type { HandedFiles } from './handed-files.js';
import { renderOption } from './qemu-options.js';

/** One image below a qcow2 disk in its backing chain, nearest first (the daemon reads the headers). */
export interface BackingImage {
  path: string;
  format: 'qcow2' | 'raw';
}
/** Backing chains by disk path; a disk not listed has none. */
export type BackingChains = ReadonlyMap<string, readonly BackingImage[]>;

export type MachineType = 'pc' | 'q35';

/** The IDE attachment points the machine's own controller offers, in the order they are used. */
const BUILTIN_IDE_SLOTS: Record<MachineType, Array<{ bus: string; unit?: number }>> = {
  // i440fx: PIIX IDE, two buses with a master and a slave each.
  pc: [
    { bus: 'ide.0', unit: 0 },
    { bus: 'ide.0', unit: 1 },
    { bus: 'ide.1', unit: 0 },
    { bus: 'ide.1', unit: 1 },
  ],
  // q35: ICH9 AHCI, six ports named ide.0-ide.5, one device each.
  q35: [0, 1, 2, 3, 4, 5].map((port) => ({ bus: `ide.${port}` })),
};
const AHCI_PORTS = 6;

export interface StorageBootIndexes {
  disks: Array<number | undefined>;
  cdrom?: number;
}

function blockdevArg(node: string, file: string, format: 'qcow2' | 'raw', readonly: boolean, backing?: string): string {
  return renderOption(undefined, {
    'node-name': node,
    driver: format,
    'read-only': readonly,
    // Lets a guest's TRIM shrink a writable qcow2 overlay.
    discard: readonly ? undefined : 'unmap',
    'file.driver': 'file',
    'file.filename': file,
    backing,
  });
}

/**
 * -blockdev for an image and the images below it, base first: each qcow2 node names its backing node,
 * so QEMU opens no backing file by the name in a header (every file is a handed descriptor).
 */
function imageBlockdevs(node: string, path: string, format: 'qcow2' | 'raw', readonly: boolean, handed: HandedFiles, chains: BackingChains): string[] {
  const chain = format === 'qcow2' ? (chains.get(path) ?? []) : [];
  const args: string[] = [];
  let below: string | undefined;
  for (let depth = chain.length; depth >= 1; depth--) {
    const image = chain[depth - 1]!;
    const name = `${node}-b${depth}`;
    args.push('-blockdev', blockdevArg(name, handed.fdset(image.path, false), image.format, true, below));
    below = name;
  }
  args.push('-blockdev', blockdevArg(node, handed.fdset(path, !readonly), format, readonly, below));
  return args;
}

/** Hands out attachment points of one kind, with a clear error when they run out. */
class SlotAllocator<Slot> {
  private next = 0;
  constructor(
    private readonly slots: Slot[],
    private readonly what: string,
  ) {}
  take(vmName: string): Slot {
    const slot = this.slots[this.next++];
    if (!slot) throw new ArdesiaError('VM_SPEC_INVALID', `vm ${vmName}: more than ${this.slots.length} devices on ${this.what}`);
    return slot;
  }
}

function diskDevice(
  disk: DiskSpec,
  index: number,
  bootindex: number | undefined,
  ide: SlotAllocator<{ bus: string; unit?: number }>,
  ahci: SlotAllocator<string>,
  vmName: string,
): string {
  const common = { id: `disk${index}-dev`, drive: `disk${index}`, serial: disk.serial, bootindex };
  switch (disk.bus) {
    case 'virtio':
      return renderOption('virtio-blk-pci', common);
    case 'ide': {
      const slot = ide.take(vmName);
      return renderOption('ide-hd', { ...common, bus: slot.bus, unit: slot.unit });
    }
    case 'ahci':
      return renderOption('ide-hd', { ...common, bus: ahci.take(vmName) });
    case 'scsi':
      return renderOption('scsi-hd', { ...common, bus: 'scsi0.0', 'scsi-id': index, lun: 0 });
  }
}

/** -blockdev/-device arguments for the disks and the CD-ROM, controllers first. */
export function storageArgs(
  vmName: string,
  machine: MachineType,
  disks: DiskSpec[],
  cdrom: string | undefined,
  boot: StorageBootIndexes,
  handed: HandedFiles,
  chains: BackingChains,
): string[] {
  const ide = new SlotAllocator(BUILTIN_IDE_SLOTS[machine], `the ${machine} machine's IDE controller (bus ide disks and the cdrom)`);
  const ahci = new SlotAllocator(
    Array.from({ length: AHCI_PORTS }, (_, port) => `ahci0.${port}`),
    'the AHCI controller (bus ahci disks)',
  );
  const args: string[] = [];
  if (disks.some((d) => d.bus === 'ahci')) args.push('-device', 'ahci,id=ahci0');
  if (disks.some((d) => d.bus === 'scsi')) args.push('-device', 'virtio-scsi-pci,id=scsi0');
  disks.forEach((disk, index) => {
    args.push(...imageBlockdevs(`disk${index}`, disk.path, disk.format, disk.readonly, handed, chains));
    args.push('-device', diskDevice(disk, index, boot.disks[index], ide, ahci, vmName));
  });
  if (cdrom !== undefined) {
    const slot = ide.take(vmName);
    args.push('-blockdev', blockdevArg('cd0', handed.fdset(cdrom, false), 'raw', true));
    args.push('-device', renderOption('ide-cd', { id: 'cd0-dev', drive: 'cd0', bus: slot.bus, unit: slot.unit, bootindex: boot.cdrom }));
  }
  return args;
}
