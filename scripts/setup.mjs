#!/usr/bin/env node
// Makes a fresh Debian 12 machine ready for `npm start` / `npm test`: npm packages and the
// Debian packages Ardesia drives. Uses only node's built-ins: it runs before `npm ci`.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Debian package → a file that proves it is installed. */
const DEBIAN_PACKAGES = {
  'qemu-system-x86': '/usr/bin/qemu-system-x86_64',
  'qemu-utils': '/usr/bin/qemu-img',
  ovmf: '/usr/share/OVMF/OVMF_CODE_4M.fd',
  'ovmf-ia32': '/usr/share/OVMF/OVMF32_CODE_4M.secboot.fd', // 32-bit UEFI guests and their test
  'ipxe-qemu': '/usr/lib/ipxe/qemu/pxe-virtio.rom',
  seabios: '/usr/share/seabios/bios-256k.bin',
  'busybox-static': '/bin/busybox',
  'e2fsprogs': '/usr/sbin/mkfs.ext4',
  cpio: '/usr/bin/cpio',
  xorriso: '/usr/bin/xorriso',
  isolinux: '/usr/lib/ISOLINUX/isolinux.bin',
  'syslinux-common': '/usr/lib/syslinux/modules/bios/ldlinux.c32',
  mtools: '/usr/bin/mcopy',
  'dosfstools': '/usr/sbin/mkfs.vfat',
  iproute2: '/usr/sbin/ip',
  nftables: '/usr/sbin/nft', // locked lladdr: MAC locks on desktop and VM taps
  mmdebstrap: '/usr/bin/mmdebstrap', // the Debian trees of the desktop image and the thin-client OS
  eatmydata: '/usr/bin/eatmydata', // mmdebstrap's eatmydata hook: no fsync while the tree is installed
  'arch-test': '/usr/bin/arch-test', // mmdebstrap checks with it that the host runs the i386 thin-client tree's programs
  ipxe: '/usr/lib/ipxe/undionly.kpxe',
  'dnsmasq-base': '/usr/sbin/dnsmasq',
  websockify: '/usr/bin/websockify', // the display-gateway benchmark's baseline
  'squashfs-tools': '/usr/bin/mksquashfs',
  chromium: '/usr/bin/chromium', // the web app's browser tests (driven by playwright-core)
  gcc: '/usr/bin/gcc', // builds the display relay, the TFTP sender and the RA responder (native/*.c)
  binutils: '/usr/bin/as', // the KVM probe's test assembles probe.S with as/ld
  ndisc6: '/usr/bin/rdisc6', // the netboot tests solicit router advertisements with rdisc6
  openssl: '/usr/bin/openssl', // the daemon's HTTPS and SPICE certificates (src/tls/certs.ts)
  postgresql: '/usr/lib/postgresql/15/bin/initdb', // the store tests' own PostgreSQL (test/helpers/postgres.ts); no service cluster
  // The directory tests' own servers (test/directory): started from temporary folders, never Debian's services.
  slapd: '/usr/sbin/slapd',
  'ldap-utils': '/usr/bin/ldapadd',
  samba: '/usr/sbin/samba',
  'samba-ad-dc': '/usr/share/doc/samba-ad-dc',
  'samba-ad-provision': '/usr/share/samba/setup/provision.ldif', // only a Recommends of samba, but provisioning fails without it
  winbind: '/usr/sbin/winbindd',
  'krb5-user': '/usr/bin/kinit',
  'ldb-tools': '/usr/bin/ldbsearch',
  attr: '/usr/bin/getfattr', // the Samba DC cache is a tar with xattrs
  acl: '/usr/bin/getfacl',
  sanlock: '/usr/sbin/sanlock', // home-volume leases (serve --home-leases sanlock) and their tests' own daemons
  'libsanlock-dev': '/usr/include/sanlock_resource.h', // native/home-lease.c links libsanlock
  'libssl-dev': '/usr/include/openssl/ssl.h', // native/display-hop.c: the display's hop between hosts in OpenSSL's TLS
  'iputils-arping': '/usr/bin/arping', // the leader announces serve --service-address by unsolicited ARP
};

/** Packages whose install would start a service the tests do not want running (they start their own servers). */
const NO_SERVICE_PACKAGES = ['slapd', 'samba', 'samba-ad-dc', 'winbind', 'sanlock']; // sanlock: its wdmd service would arm a watchdog

/** Debian's postgresql would create and start a "main" cluster; the tests start their own from the binaries. */
function noDebianMainCluster() {
  if (process.getuid?.() !== 0) return;
  const dir = '/etc/postgresql-common/createcluster.d';
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'ardesia-no-main-cluster.conf'), '# ardesia setup: the binaries only, no cluster or service of its own\ncreate_main_cluster = false\n');
}

function missingDebianPackages() {
  return Object.entries(DEBIAN_PACKAGES)
    .filter(([, proof]) => !existsSync(proof))
    .map(([pkg]) => pkg);
}

function installDebianPackages(pkgs) {
  const isRoot = process.getuid?.() === 0;
  const hasApt = existsSync('/usr/bin/apt-get');
  if (!isRoot || !hasApt) {
    console.error(
      `ardesia setup: these Debian packages are missing: ${pkgs.join(' ')}\n` +
        `  ${hasApt ? 'Run as root, or install them yourself' : 'This is not a Debian machine; install the equivalents'}:\n` +
        `  apt-get install --no-install-recommends ${pkgs.join(' ')}`,
    );
    process.exit(1);
  }
  console.log(`ardesia setup: installing Debian packages: ${pkgs.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = spawnSync('apt-get', ['update', '-q'], { stdio: 'inherit', env });
  // A policy-rc.d that denies starts keeps Debian's slapd, smbd, nmbd and samba-ad-dc services from starting during the install.
  const policy = '/usr/sbin/policy-rc.d';
  const ownPolicy = pkgs.some((p) => NO_SERVICE_PACKAGES.includes(p)) && !existsSync(policy);
  if (ownPolicy) {
    writeFileSync(policy, '#!/bin/sh\n# ardesia setup: no service starts while packages install\nexit 101\n');
    chmodSync(policy, 0o755);
  }
  const install = spawnSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...pkgs], { stdio: 'inherit', env });
  if (ownPolicy) rmSync(policy, { force: true });
  if (pkgs.some((p) => NO_SERVICE_PACKAGES.includes(p)) && existsSync('/run/systemd/system')) {
    // They would start at the next boot: the tests' own servers need their ports free.
    spawnSync('systemctl', ['disable', '--now', 'slapd', 'smbd', 'nmbd', 'samba-ad-dc', 'winbind', 'sanlock', 'wdmd'], { stdio: 'ignore' });
  }
  if (update.status !== 0 || install.status !== 0) {
    console.error(`ardesia setup: apt-get failed; install by hand: apt-get install --no-install-recommends ${pkgs.join(' ')}`);
    process.exit(1);
  }
}

function ensureNodeModules() {
  const marker = join(root, 'node_modules', '.package-lock.json');
  if (existsSync(marker)) return;
  console.log('ardesia setup: installing npm packages (npm ci)');
  execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
}

/** A helper program of ours from native/NAME.c into .cache/native/NAME, rebuilt when its source or a shared header is newer. */
function buildNative(name, what, libs = []) {
  const source = join(root, 'native', `${name}.c`);
  const binary = join(root, '.cache', 'native', name);
  const headers = readdirSync(join(root, 'native')).filter((f) => f.endsWith('.h')).map((f) => join(root, 'native', f));
  const newest = Math.max(...[source, ...headers].map((f) => statSync(f).mtimeMs));
  if (existsSync(binary) && statSync(binary).mtimeMs >= newest) return;
  mkdirSync(dirname(binary), { recursive: true });
  console.log(`ardesia setup: building ${what}`);
  execFileSync('gcc', ['-O2', '-Wall', '-Wextra', '-o', binary, source, ...libs], { stdio: 'inherit' });
}

/** The smallest i386 program: an ELF32 header, one LOAD segment, and `exit(0)` by int 0x80. */
function tinyI386Elf() {
  const base = 0x08048000;
  const code = Buffer.from([0xb8, 0x01, 0x00, 0x00, 0x00, 0x31, 0xdb, 0xcd, 0x80]);
  const elf = Buffer.alloc(84 + code.length);
  Buffer.from([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1, 0]).copy(elf, 0);
  elf.writeUInt16LE(2, 16); // ET_EXEC
  elf.writeUInt16LE(3, 18); // EM_386
  elf.writeUInt32LE(1, 20);
  elf.writeUInt32LE(base + 84, 24); // entry: the code after the headers
  elf.writeUInt32LE(52, 28); // program headers right after the ELF header
  elf.writeUInt16LE(52, 40);
  elf.writeUInt16LE(32, 42);
  elf.writeUInt16LE(1, 44);
  elf.writeUInt32LE(1, 52); // PT_LOAD of the whole file, read + execute
  elf.writeUInt32LE(0, 56);
  elf.writeUInt32LE(base, 60);
  elf.writeUInt32LE(base, 64);
  elf.writeUInt32LE(elf.length, 68);
  elf.writeUInt32LE(elf.length, 72);
  elf.writeUInt32LE(5, 76);
  elf.writeUInt32LE(0x1000, 80);
  code.copy(elf, 84);
  return elf;
}

function hostRunsI386() {
  const dir = mkdtempSync(join(tmpdir(), 'ardesia-i386-'));
  try {
    const program = join(dir, 'exit0');
    writeFileSync(program, tinyI386Elf());
    chmodSync(program, 0o755);
    return spawnSync(program, []).status === 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The i386 test guests and thin-client OS run i386 programs on the host (busybox's applet list, mmdebstrap's
 *  chroot). A kernel without IA32 emulation runs them through qemu-user, registered with binfmt_misc (F: the
 *  interpreter is opened now, so it works inside chroots too). Debian ships no i386 binfmt entry for amd64 hosts. */
function ensureI386Programs() {
  if (process.arch !== 'x64' || hostRunsI386()) return;
  const qemuUser = '/usr/bin/qemu-i386-static';
  if (!existsSync(qemuUser)) installDebianPackages(['qemu-user-static']);
  const binfmt = '/proc/sys/fs/binfmt_misc';
  if (!existsSync(join(binfmt, 'register'))) spawnSync('mount', ['-t', 'binfmt_misc', 'binfmt_misc', binfmt], { stdio: 'inherit' });
  const entry = 'ardesia-i386';
  if (!readdirSync(binfmt).includes(entry)) {
    const magic = '\\x7fELF\\x01\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\\x00\\x03\\x00';
    const mask = '\\xff\\xff\\xff\\xff\\xff\\xfe\\xfe\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff';
    writeFileSync(join(binfmt, 'register'), `:${entry}:M::${magic}:${mask}:${qemuUser}:F`);
  }
  if (!hostRunsI386()) {
    console.error('ardesia setup: this kernel cannot run i386 programs (no IA32 emulation) and registering qemu-i386-static with binfmt_misc failed; the i386 test guests and thin-client OS need one of the two');
    process.exit(1);
  }
  console.log('ardesia setup: this kernel has no IA32 emulation: i386 programs run through qemu-i386-static (binfmt_misc entry ardesia-i386)');
}

/** The system account QEMU, the display relay and the TFTP sender run as (src/lib/unprivileged-account.ts):
 *  no login, no home; in the kvm group so that QEMU can open /dev/kvm. */
function ensureUnprivilegedAccount() {
  const name = 'ardesia-qemu';
  if (process.getuid?.() !== 0) return; // a daemon that is not root runs them as itself
  if (spawnSync('getent', ['passwd', name]).status === 0) return;
  console.log(`ardesia setup: creating the system account ${name} (QEMU and the helpers run as it)`);
  const made = spawnSync('useradd', ['--system', '--user-group', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', name], { stdio: 'inherit' });
  if (made.status !== 0) {
    console.error(`ardesia setup: useradd failed; create the account by hand: useradd --system --user-group --no-create-home --shell /usr/sbin/nologin ${name}`);
    process.exit(1);
  }
  if (spawnSync('getent', ['group', 'kvm']).status === 0) spawnSync('usermod', ['--append', '--groups', 'kvm', name], { stdio: 'inherit' });
}

/** The group a VM opened to the host runs its QEMU with: the daemon's NAT guard lets its sockets reach the
 *  host (src/network/nat-guard.ts); every other QEMU of ardesia-qemu is kept off the host's addresses. */
function ensureHostAccessGroup() {
  const group = 'ardesia-qemu-host';
  if (process.getuid?.() !== 0) return;
  if (spawnSync('getent', ['group', group]).status === 0) return;
  console.log(`ardesia setup: creating the system group ${group} (NAT VMs opened to the host run QEMU with it)`);
  if (spawnSync('groupadd', ['--system', group], { stdio: 'inherit' }).status !== 0) {
    console.error(`ardesia setup: groupadd failed; create the group by hand: groupadd --system ${group}`);
    process.exit(1);
  }
}

/** The 65536 uids the daemon gives one per running VM's QEMU (src/vms/vm-uids.ts; serve --vm-uid-base,
 *  here ARDESIA_VM_UID_BASE): reserved by checking that no passwd entry nor /etc/subuid range uses them. */
function checkVmUidRange() {
  const base = Number(process.env.ARDESIA_VM_UID_BASE ?? 2_000_000_000);
  const end = base + 65_536;
  const read = (path) => (existsSync(path) ? readFileSync(path, 'utf8') : '');
  const clashes = [];
  for (const line of read('/etc/passwd').split('\n')) {
    const [name, , uid] = line.split(':');
    if (name && Number(uid) >= base && Number(uid) < end) clashes.push(`passwd ${name}:${uid}`);
  }
  for (const path of ['/etc/subuid', '/etc/subgid']) {
    for (const line of read(path).split('\n')) {
      const [name, start, count] = line.split(':');
      if (name && Number(start) < end && Number(start) + Number(count) > base) clashes.push(`${path} ${line.trim()}`);
    }
  }
  if (clashes.length === 0) return console.log(`ardesia setup: uids ${base}-${end - 1} are free for the VMs' QEMUs (serve --vm-uid-base ${base})`);
  console.error(`ardesia setup: the VM uids ${base}-${end - 1} are in use (${clashes.slice(0, 3).join('; ')}): choose a free base with ARDESIA_VM_UID_BASE=N here and \`serve --vm-uid-base N\``);
  process.exit(1);
}

const missing = missingDebianPackages();
if (missing.includes('postgresql')) noDebianMainCluster();
if (missing.length > 0) installDebianPackages(missing);
ensureI386Programs();
ensureUnprivilegedAccount();
ensureHostAccessGroup();
checkVmUidRange();
ensureNodeModules();
buildNative('display-relay', 'the display relay'); // src/gateway/relay.ts runs it
buildNative('tftp-sender', 'the TFTP sender'); // src/netboot/tftp/native-sender.ts runs it
buildNative('qmp-add-fd', 'the QMP descriptor helper'); // src/hypervisor/qemu/hand-file.ts runs it
buildNative('ra-responder', 'the router-advertisement responder'); // src/netboot/ra/responder.ts runs it
buildNative('dhcp-port', 'the DHCP port (port 67 with the receiving interface)'); // src/netboot/dhcp/port.ts runs it
buildNative('tap-open', 'the tap opener (hands QEMU its taps)'); // src/hypervisor/qemu/process.ts runs it
buildNative('home-lease', 'the home-lease helper (sanlock client for QEMU)', ['-lsanlock']); // src/cluster/home-leases/sanlock.ts runs it
buildNative('display-hop', 'the display hop between hosts (TLS in OpenSSL)', ['-lssl', '-lcrypto']); // src/gateway/display-hop.ts runs it
buildNative('ram-hold', 'the template RAM holder (a sealed memfd restore clones map)'); // src/hypervisor/saved-state/shared-ram.ts runs it
