// The NAT guard: QEMU's user-mode NAT (slirp) opens the guest's connections as ordinary sockets of the QEMU
// process, and maps 10.0.2.2 to the host's 127.0.0.1, so a guest would reach every service of the host. An
// nftables table of the daemon's own rejects sockets of the QEMU account to any local address of the host;
// VMs the administrator opens to the host run with a second group the table accepts first. Each QEMU runs as a
// uid of its own (src/vms/vm-uids.ts); those of VMs with an allow-list come from the upper half of the range, and
// the table lets each open only its listed TCP destinations (a set of uid . address . port). Pure text here;
// nat-guard-host.ts applies it.
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import type { NicSpec, VmSpec } from '../contract/vm.js';

/** The prefix of the daemons' tables; nothing else of the host's firewall is touched. */
export const NAT_GUARD_TABLE_PREFIX = 'ardesia_guard_';

/** One table per data folder, so a daemon that stops removes only its own (the rules are the same in each:
 *  a connection any table rejects is refused, and each accepts the host-access group first). */
export function natGuardTable(dataDir: string): string {
  return `${NAT_GUARD_TABLE_PREFIX}${createHash('sha256').update(resolve(dataDir)).digest('hex').slice(0, 8)}`;
}
/** The group a VM opened to the host runs its QEMU with (made by scripts/setup.mjs). */
export const NAT_HOST_GROUP_NAME = 'ardesia-qemu-host';

export interface NatGuardRules {
  /** natGuardTable(dataDir). */
  table: string;
  /** The account (the helpers; QEMU of a daemon that is not root never is): filtered like the VMs' own uids. */
  uid: number;
  /** The host-access group: its sockets pass (undefined when setup has not made it). */
  hostGid?: number;
  /** The nameservers slirp's DNS (10.0.2.3) forwards to: port 53 of these stays open, even on loopback. */
  resolvers: string[];
  /** The VMs' own uids: the lower half filtered as the account, the upper half (allow-list VMs) by the allow set. */
  vmUids: UidRange;
  /** The daemon that installs it, recorded in the table's comment: a later daemon removes a table whose owner died. */
  owner: GuardOwner;
}

/** A process told apart from a later one given the same pid: its start time (/proc/PID/stat field 22, clock ticks). */
export interface GuardOwner {
  pid: number;
  start: number;
}

/** The table's comment naming its owner (nft keeps at most 128 characters). */
export function guardOwnerComment(owner: GuardOwner): string {
  if (!Number.isSafeInteger(owner.pid) || owner.pid < 1 || !Number.isSafeInteger(owner.start) || owner.start < 0) throw new RangeError(`owner ${owner.pid}/${owner.start} is not a pid and start time`);
  return `ardesia owner pid ${owner.pid} start ${owner.start}`;
}

/** The owner in `nft list table` text, or undefined for a table that names none (made before owners were recorded). */
export function guardOwnerOf(tableText: string): GuardOwner | undefined {
  const m = /^\s*comment "ardesia owner pid (\d+) start (\d+)"/m.exec(tableText);
  return m ? { pid: Number(m[1]), start: Number(m[2]) } : undefined;
}

/** A process's start time from its /proc/PID/stat text (the 22nd field, counted after the command's closing parenthesis:
 *  the command itself may hold spaces and parentheses). */
export function processStartOf(statText: string): number | undefined {
  const fields = statText.slice(statText.lastIndexOf(')') + 2).split(' ');
  const start = Number(fields[19]);
  return statText.includes(')') && Number.isSafeInteger(start) ? start : undefined;
}

/** The folder whose guard table a QEMU is under, from its argv: its pidfile is FOLDER/runtime/VM/qemu.pid (qemu/argv.ts). */
export function guardedFolderOf(argv: readonly string[]): string | undefined {
  const at = argv.indexOf('-pidfile');
  const m = at >= 0 ? /^(\/.*)\/runtime\/[^/]+\/qemu\.pid$/.exec(argv[at + 1] ?? '') : null;
  return m?.[1];
}

/** A guard table found in this network namespace, with its owner as recorded and what still depends on it. */
export interface FoundGuard {
  table: string;
  owner: GuardOwner | undefined;
  /** Its owner is still running (the same pid and start time). */
  ownerAlive: boolean;
  /** A QEMU of its folder still runs here (VMs that outlive their daemon keep their guard). */
  guarding: boolean;
}

/** The tables to remove: another daemon's whose owner is gone and that no running QEMU needs. A table that names no
 *  owner is left: the daemon of an older version may still run with it. */
export function staleGuards(found: readonly FoundGuard[], own: string): string[] {
  return found.filter((g) => g.table !== own && g.owner !== undefined && !g.ownerAlive && !g.guarding).map((g) => checkedTable(g.table));
}

/** A range of numeric uids, [base, base + size). */
export interface UidRange {
  base: number;
  size: number;
}

/** The VMs' uids: [open NAT and every other VM, VMs with an allow-list] (halves, so the kind follows from the uid alone). */
export function splitVmUids(range: UidRange): [UidRange, UidRange] {
  const half = Math.floor(range.size / 2);
  return [{ base: range.base, size: half }, { base: range.base + half, size: range.size - half }];
}

/** The set of (uid . IPv4 address . TCP port) an allow-list VM's QEMU may connect to. */
export const NAT_ALLOW_SET = 'allow_list';

/** The IPv4/IPv6 nameservers of resolv.conf text (pure); scoped IPv6 (fe80::1%eth0) and junk are skipped. */
export function resolversOf(resolvConf: string): string[] {
  const out: string[] = [];
  for (const line of resolvConf.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (m && !m[1]!.includes('%') && isIP(m[1]!) !== 0 && !out.includes(m[1]!)) out.push(m[1]!);
  }
  return out;
}

function checkedTable(table: string): string {
  if (!/^ardesia_guard_[0-9a-f]{8}$/.test(table)) throw new RangeError(`${table} is not a NAT guard table name`);
  return table;
}

function checkedId(what: string, id: number): number {
  if (!Number.isInteger(id) || id < 0 || id > 0xffff_fffe) throw new RangeError(`${what} ${id} is not a uid/gid`);
  return id;
}

/** The `nft -f` script that (re)creates the guard table in one transaction ("add" then "delete": nft 1.0.6 has no "destroy"). */
export function natGuardRuleset(rules: NatGuardRules): string {
  const uid = checkedId('uid', rules.uid);
  const table = checkedTable(rules.table);
  const [open, listed] = splitVmUids(rules.vmUids);
  const first = checkedId('uid', open.base);
  const last = checkedId('uid', listed.base + listed.size - 1);
  if (open.size < 1 || listed.size < 1 || (uid >= first && uid <= last)) throw new RangeError(`the VM uid range ${first}-${last} is too small or holds the account's uid ${uid}`);
  const dns = rules.resolvers.flatMap((addr) => {
    const family = isIP(addr) === 6 ? 'ip6' : isIP(addr) === 4 ? 'ip' : undefined;
    if (!family || addr.includes('%')) throw new RangeError(`resolver ${addr} is not an IP address`);
    return [`    ${family} daddr ${addr} udp dport 53 accept`, `    ${family} daddr ${addr} tcp dport 53 accept`];
  });
  return [
    `add table inet ${table}`,
    `delete table inet ${table}`,
    `table inet ${table} {`,
    `  comment "${guardOwnerComment(rules.owner)}"`,
    `  set ${NAT_ALLOW_SET} {`,
    '    type uid . ipv4_addr . inet_service',
    '  }',
    // Fail closed: a uid of the range with no elements (its VM's rules not added yet, or gone) opens nothing.
    '  chain allow_listed {',
    '    ct state != new return',
    `    meta skuid . ip daddr . tcp dport @${NAT_ALLOW_SET} counter accept`,
    '    meta l4proto tcp counter reject with tcp reset',
    '    counter reject with icmpx admin-prohibited',
    '  }',
    '  chain output {',
    '    type filter hook output priority filter; policy accept;',
    `    meta skuid ${listed.base}-${last} goto allow_listed`,
    `    meta skuid != { ${uid}, ${first}-${listed.base - 1} } return`,
    // Only connections QEMU opens: its own servers (SPICE on loopback) still answer the host's clients.
    '    ct state != new return',
    ...(rules.hostGid === undefined ? [] : [`    meta skgid ${checkedId('gid', rules.hostGid)} counter accept`]),
    ...dns,
    // A reset for TCP so the guest's connect fails at once; an ICMP error for the rest. Counted: `nft list table`
    // shows what the guard let through to the host and what it refused.
    '    fib daddr type local meta l4proto tcp counter reject with tcp reset',
    '    fib daddr type local counter reject with icmpx admin-prohibited',
    '    ip daddr 127.0.0.0/8 counter reject with icmpx admin-prohibited',
    '    ip6 daddr ::1 counter reject with icmpx admin-prohibited',
    '  }',
    '}',
    '',
  ].join('\n');
}

/** The `nft -f` script that removes the guard table (whether or not it exists). */
export function natGuardRemoval(table: string): string {
  checkedTable(table);
  return [`add table inet ${table}`, `delete table inet ${table}`, ''].join('\n');
}

/** The elements of one VM's allow-list in the set; `verb` add or delete (a delete of one absent fails, so only what was added is deleted). */
export function natAllowElements(verb: 'add' | 'delete', table: string, uid: number, allow: ReadonlyArray<{ host: string; port: number }>): string {
  checkedTable(table);
  checkedId('uid', uid);
  if (allow.length === 0) return '';
  const items = allow.map((a) => {
    if (isIP(a.host) !== 4 || !Number.isInteger(a.port) || a.port < 1 || a.port > 65535) throw new RangeError(`${a.host}:${a.port} is not an IPv4 address and TCP port`);
    return `${uid} . ${a.host} . ${a.port}`;
  });
  return `${verb} element inet ${table} ${NAT_ALLOW_SET} { ${[...new Set(items)].join(', ')} }\n`;
}

/** NICs whose guest connections slirp opens from QEMU itself under the account's rules: user mode without restrict
 *  (restrict=on with no destination opens nothing; an allow-list VM has its own uid and rules). */
export function openNatNics(spec: Pick<VmSpec, 'nics'>): NicSpec[] {
  return spec.nics.filter((n) => n.mode === 'user' && !n.restrict);
}

/** NICs of user-mode NAT with a non-empty allow-list: the kernel lets the VM's own uid reach only those destinations. */
export function allowListNics(spec: Pick<VmSpec, 'nics'>): NicSpec[] {
  return spec.nics.filter((n) => n.mode === 'user' && (n.allow?.length ?? 0) > 0);
}

/** Every destination of the VM's allow-lists (one uid, so one list for the VM). */
export function vmAllowList(spec: Pick<VmSpec, 'nics'>): Array<{ host: string; port: number }> {
  return allowListNics(spec).flatMap((n) => n.allow ?? []);
}

/** True when the VM's QEMU runs with the host-access group: one of its NAT NICs is opened to the host. */
export function wantsHostAccess(spec: Pick<VmSpec, 'nics'>): boolean {
  return openNatNics(spec).some((n) => n.hostAccess === true);
}

/** The gid of `name` in /etc/group text (pure), or undefined. */
export function groupIdOf(groupText: string, name: string): number | undefined {
  for (const line of groupText.split('\n')) {
    const fields = line.split(':');
    if (fields[0] !== name || fields.length < 3) continue;
    const gid = Number(fields[2]);
    return Number.isInteger(gid) && fields[2] !== '' ? gid : undefined;
  }
  return undefined;
}
