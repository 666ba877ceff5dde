// The host side of VM NICs, by `ip` and `nft`: taps created before QEMU opens them and deleted after it
// exits, put on a bridge or given the host address of a local interface, and MAC locks applied with them.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { ArdesiaError } from '../contract/errors.js';
import type { UnprivilegedAccount } from '../lib/unprivileged-account.js';
import { type LockAttachment, macLockRuleset, macUnlockRuleset } from './mac-lock.js';

const run = promisify(execFile);

async function tool(cmd: 'ip' | 'nft', args: string[], input?: string): Promise<void> {
  try {
    if (input === undefined) {
      await run(cmd, args, { timeout: 30_000 });
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const child = execFile(cmd, args, { timeout: 30_000 }, (err) => (err ? reject(err) : resolve()));
      child.stdin!.end(input);
    });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    const detail = e.code === 'ENOENT' ? `${cmd} is not installed` : (e.stderr?.trim() || e.message);
    throw new ArdesiaError('VM_NETWORK_SETUP', `${cmd} ${args.join(' ')}: ${detail}`);
  }
}

export function linkExists(ifname: string): boolean {
  return existsSync(`/sys/class/net/${ifname}`);
}

export function isBridge(ifname: string): boolean {
  return existsSync(`/sys/class/net/${ifname}/bridge`);
}

/** The uid owning a tap (-1: none, any process with CAP_NET_ADMIN only). */
function tapOwner(tap: string): number {
  try {
    return Number(readFileSync(`/sys/class/net/${tap}/owner`, 'utf8').trim());
  } catch {
    return -1;
  }
}

/**
 * A persistent tap (kept until tapDelete), created if missing; QEMU opens it by name with script=no. With an
 * account, the tap is that account's (QEMU runs as it); a tap left without that owner is made again.
 */
export async function tapCreate(tap: string, account?: UnprivilegedAccount): Promise<void> {
  if (linkExists(tap) && account && tapOwner(tap) !== account.uid) await tool('ip', ['link', 'delete', tap]);
  if (linkExists(tap)) return;
  const owner = account ? ['user', String(account.uid), 'group', String(account.gid)] : [];
  await tool('ip', ['tuntap', 'add', 'dev', tap, 'mode', 'tap', ...owner]);
}

/** An administrator's own tap (nic mode tap) must belong to QEMU's account, which opens it. */
export function tapRequireOwner(tap: string, account: UnprivilegedAccount): void {
  if (!linkExists(tap)) return; // QEMU names the missing tap itself
  if (tapOwner(tap) !== account.uid) {
    throw new ArdesiaError('VM_NETWORK_SETUP', `tap ${tap} does not belong to ${account.name}, the account QEMU runs as: make it with \`ip tuntap add dev ${tap} mode tap user ${account.name}\``);
  }
}

export async function tapDelete(tap: string): Promise<void> {
  if (linkExists(tap)) await tool('ip', ['link', 'delete', tap]);
}

export async function tapOnBridge(tap: string, bridge: string): Promise<void> {
  if (!isBridge(bridge)) {
    throw new ArdesiaError('VM_NETWORK_SETUP', `bridge ${bridge} does not exist or is not a Linux bridge: create it (ip link add ${bridge} type bridge) and enslave the office uplink`);
  }
  await tool('ip', ['link', 'set', tap, 'master', bridge]);
  await tool('ip', ['link', 'set', tap, 'up']);
}

/** The host end of a local interface: its /31 address on the tap (replaced if present), link up. */
export async function tapAddress(tap: string, hostAddress: string, bits: number): Promise<void> {
  await tool('ip', ['address', 'replace', `${hostAddress}/${bits}`, 'dev', tap]);
  await tool('ip', ['link', 'set', tap, 'up']);
}

export async function macLock(tap: string, mac: string, attachment: LockAttachment): Promise<void> {
  await tool('nft', ['-f', '-'], macLockRuleset(tap, mac, attachment));
}

export async function macUnlock(tap: string, attachment: LockAttachment): Promise<void> {
  await tool('nft', ['-f', '-'], macUnlockRuleset(tap, attachment));
}
