// One uid per running VM, from a range no passwd entry uses (as Incus does): one QEMU taken over cannot signal
// or trace another, and the kernel's rules tell an allow-list VM's connections from every other QEMU's (those
// VMs take the upper half of the range). The uid has no passwd entry; QEMU takes the account's primary group
// (the files group-owned by ardesia-qemu keep working) and its supplementary groups (kvm) explicitly.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ArdesiaError } from '../contract/errors.js';
import type { VmSpec } from '../contract/vm.js';
import type { UnprivilegedAccount } from '../lib/unprivileged-account.js';
import { allowListNics, openNatNics, splitVmUids, type UidRange } from '../network/nat-guard.js';
import type { NatGuard } from '../network/nat-guard-host.js';

/** Far above the uids useradd hands out and the usual /etc/subuid ranges (100000 + 65536·n); serve --vm-uid-base moves it. */
export const DEFAULT_VM_UID_BASE = 2_000_000_000;
/** How many VMs can run at once: half of them with an allow-list, half without. */
export const VM_UID_COUNT = 65_536;

export function vmUidRange(base = DEFAULT_VM_UID_BASE): UidRange {
  if (!Number.isInteger(base) || base < 1000 || base + VM_UID_COUNT > 0xffff_fffe) {
    throw new ArdesiaError('BAD_REQUEST', `the VM uid base ${base} leaves no room for ${VM_UID_COUNT} uids below 4294967294`);
  }
  return { base, size: VM_UID_COUNT };
}

/** The uid of VM `name`: the same at every start (a hash of its name) unless a running VM holds it, then the next free one. */
export function pickVmUid(name: string, range: UidRange, taken: ReadonlySet<number>): number {
  const start = createHash('sha256').update(name).digest().readUInt32BE(0) % range.size;
  for (let i = 0; i < range.size; i++) {
    const uid = range.base + ((start + i) % range.size);
    if (!taken.has(uid)) return uid;
  }
  throw new ArdesiaError('VM_UIDS_EXHAUSTED', `all ${range.size} VM uids from ${range.base} are in use`);
}

/** The passwd entries (name:uid) inside the range, from /etc/passwd text (pure): the range must be nobody's. */
export function passwdInRange(passwd: string, range: UidRange): string[] {
  const out: string[] = [];
  for (const line of passwd.split('\n')) {
    const [name, , uidText] = line.split(':');
    const uid = Number(uidText);
    if (name && uidText && Number.isInteger(uid) && uid >= range.base && uid < range.base + range.size) out.push(`${name}:${uid}`);
  }
  return out;
}

/** The gids `name` belongs to besides its primary one, from /etc/group text (pure). */
export function supplementaryGids(groupText: string, name: string): number[] {
  const out: number[] = [];
  for (const line of groupText.split('\n')) {
    const fields = line.split(':');
    const gid = Number(fields[2]);
    if (fields.length >= 4 && fields[2] !== '' && Number.isInteger(gid) && fields[3]!.split(',').includes(name)) out.push(gid);
  }
  return out;
}

/** The account QEMU of an allow-list VM runs as: its own uid, the account's primary and supplementary groups. */
export function vmAccount(account: UnprivilegedAccount, uid: number, supplementary: readonly number[]): UnprivilegedAccount {
  return { name: `${account.name} (VM uid ${uid})`, uid, gid: account.gid, groups: [...new Set([account.gid, ...supplementary])] };
}

function readOr(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** The uids of running VMs: picked at start, freed when the VM is gone, taken again from live QEMUs at reconcile. */
export class VmUids {
  private readonly held = new Map<string, number>();

  constructor(readonly range: UidRange) {}

  /** The account for VM `name`'s QEMU; refuses when a passwd entry sits inside the range (it would share the rules). */
  take(name: string, account: UnprivilegedAccount, allowListed: boolean): UnprivilegedAccount {
    const clash = passwdInRange(readOr('/etc/passwd'), this.range);
    if (clash.length > 0) {
      throw new ArdesiaError('VM_UID_RANGE_IN_USE', `the VM uids ${this.range.base}-${this.range.base + this.range.size - 1} hold passwd entries (${clash.slice(0, 3).join(', ')})`);
    }
    const half = splitVmUids(this.range)[allowListed ? 1 : 0];
    const kept = this.held.get(name);
    const uid = kept !== undefined && kept >= half.base && kept < half.base + half.size ? kept : pickVmUid(name, half, new Set(this.held.values()));
    this.held.set(name, uid);
    return vmAccount(account, uid, supplementaryGids(readOr('/etc/group'), account.name));
  }

  /** A live QEMU's uid found again after a daemon restart (reconcile). */
  adopt(name: string, uid: number): void {
    if (uid >= this.range.base && uid < this.range.base + this.range.size) this.held.set(name, uid);
  }

  uidOf(name: string): number | undefined {
    return this.held.get(name);
  }

  release(name: string): void {
    this.held.delete(name);
  }
}

/** The real uid of a live process from /proc/PID/status text (pure), or undefined. */
export function processUid(status: string): number | undefined {
  const m = /^Uid:\s+(\d+)/m.exec(status);
  return m ? Number(m[1]) : undefined;
}

/** The account a VM's QEMU runs as: a uid of its own (an allow-list VM's destinations added to the guard's set first); `account` (undefined) for a daemon that is not root. */
export async function accountForStart(spec: VmSpec, account: UnprivilegedAccount | undefined, uids: VmUids, guard: NatGuard): Promise<UnprivilegedAccount | undefined> {
  guard.requireFor(spec, account);
  if (!account) return account;
  const listed = allowListNics(spec).length > 0;
  if (listed && openNatNics(spec).length > 0) {
    throw new ArdesiaError('VM_SPEC_INVALID', `vm ${spec.name}: a NIC with a NAT allow-list and an unrestricted NAT NIC cannot share one QEMU (the kernel filters the whole VM's uid); give both an allow-list`);
  }
  const own = uids.take(spec.name, account, listed);
  if (!listed) return own;
  try {
    await guard.allowFor(spec, own.uid);
  } catch (err) {
    uids.release(spec.name);
    throw new ArdesiaError('NAT_GUARD_UNAVAILABLE', `vm ${spec.name}: its allow-list could not be added to the NAT guard: ${(err as Error).message}`);
  }
  return own;
}

/** A VM is gone: its uid is free again, and an allow-list VM's destinations leave the set. */
export async function releaseVmUid(name: string, uids: VmUids, guard: NatGuard): Promise<void> {
  const uid = uids.uidOf(name);
  if (uid === undefined) return;
  uids.release(name); // at once: a start of the same VM right after takes the uid again, after this removal (the guard keeps the order)
  await guard.releaseFor(uid);
}

/** A live QEMU found again after a restart: its uid is held again and an allow-list VM's destinations added back (the set was emptied). */
export async function adoptVmUid(spec: VmSpec, pid: number | undefined, uids: VmUids, guard: NatGuard): Promise<void> {
  if (pid === undefined) return;
  const uid = processUid(readOr(`/proc/${pid}/status`));
  if (uid === undefined || uid < uids.range.base || uid >= uids.range.base + uids.range.size) return;
  uids.adopt(spec.name, uid);
  if (allowListNics(spec).length > 0) await guard.allowFor(spec, uid);
}
