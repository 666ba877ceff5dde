// vm.conf texts shared by the tests and the fuzzer. The MANPAGE_* texts are the examples of
// OpenBSD's vm.conf(5) (rev. 1.69), copied verbatim, tabs included.

/** Section "Macros". */
export const MANPAGE_MACRO = 'ramdisk="/bsd.rd"\nvm "vm1.example.com" {\n\tmemory 512M\n\tboot $ramdisk\n}\n';

/** Section "DESCRIPTION": including another file. */
export const MANPAGE_INCLUDE = 'include "/etc/vm1.example.com.conf"\n';

/** EXAMPLES: 1 GB, one interface on "uplink", one disk, owned by joe. */
export const MANPAGE_VM2 = 'vm "vm2.example.com" {\n\tmemory 1G\n\tdisk "/home/joe/vm2-disk.img"\n\tinterface { switch "uplink" }\n\towner joe\n}\n';

/** EXAMPLES: an instance of vm2.example.com. */
export const MANPAGE_VM3_INSTANCE = 'vm "vm2.example.com" instance "vm3.example.com" {\n\tdisk "/home/joe/vm3-disk.img"\n}\n';

/** EXAMPLES: the switch "uplink" on a bridge. */
export const MANPAGE_SWITCH = 'switch "uplink" {\n\tinterface bridge0\n}\n';

/** VM configuration, disk: a raw device line (a fragment in the man page; wrapped in a vm here). */
export const MANPAGE_RAW_DISK_LINE = 'disk "/dev/rsd1c" format raw';

/** Ardesia example: a direct-kernel guest (docs/vmconf.md shows the same file). */
export const ARDESIA_KERNEL_GUEST = `# A Linux guest booted straight from a kernel and an initramfs.
images = "/var/lib/ardesia/images"

vm "tiny" {
\tmemory 256M
\tcpus 1
\tarch amd64
\taccel tcg
\tboot "kernels/vmlinuz"
\tinitrd "kernels/initrd.img"
\tcmdline "console=ttyS0 quiet"
\tdisk $images/tiny.qcow2 format qcow2
\tinterface { model virtio }
\tdisable
}
`;

/** Ardesia example: an installer ISO booted from the CD-ROM, UEFI, on a bridge. */
export const ARDESIA_CDROM_GUEST = `switch "lan" {
\tinterface br0
}

vm "installer" {
\tmemory 2G
\tcpus 2
\tfirmware uefi
\tcdrom "/srv/iso/debian-12-netinst.iso"
\tdisk "/var/lib/ardesia/installer.qcow2" format qcow2 bus virtio
\tboot device cdrom
\tinterface tap7 { switch "lan"; lladdr 52:54:00:12:34:56 }
\towner alice:staff
}
`.replace('; ', '\n\t\t');

/** Everything Ardesia maps, in one file: the fuzzer's main seed. */
export const KITCHEN_SINK = `# every supported construct
local prefix 100.64.0.0/10
local inet6 prefix fd00:1::/48
staggered start parallel 2 delay 10
base = "/vm"
mem = 768M

switch "lan" {
\tinterface br0
\tlocked lladdr
\tenable
\tup
}

vm "web" {
\tmemory $mem
\tcpus 2
\tdisk $base/web.qcow2 format qcow2
\tdisk $base/data.img format raw bus scsi
\tcdrom "iso/tools.iso"
\tboot device disk
\tinterface { switch "lan"
\t\tlladdr 52:54:00:aa:bb:01 }
\tinterface model e1000
\tinterface bridge "br1", model rtl8139
\tinterfaces 4
\towner www:web
\tenable
\tallow instance { memory, disk
\t\tinterface
\t\towner :web }
}

vm "web" instance "web2" {
\tmemory 1G
\tdisk "/vm/" "web2.qcow2" format qcow2
\towner :web
}

vm "fw" {
\tmemory 64M
\tfirmware uefi
\tboot "/usr/share/ovmf/OVMF.fd"
\tinterface tap3
\tdisable
}
`;

/** Seeds for the fuzzer: every fixture above. */
export const ALL_FIXTURES: string[] = [
  MANPAGE_MACRO,
  MANPAGE_INCLUDE,
  MANPAGE_VM2,
  MANPAGE_SWITCH + MANPAGE_VM2 + MANPAGE_VM3_INSTANCE,
  `vm "raw" {\n\t${MANPAGE_RAW_DISK_LINE}\n}\n`,
  ARDESIA_KERNEL_GUEST,
  ARDESIA_CDROM_GUEST,
  KITCHEN_SINK,
];
