// The host side of VM NICs, by `ip` and `nft`: taps created before QEMU opens them and deleted after it
// exits, put on a bridge or given the host address of a local interface, and MAC locks applied with them.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { ArdesiaError } from '../contract/errors.js';
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

/** A persistent tap (kept until tapDelete), created if missing; QEMU opens it by name with script=no. */
export async function tapCreate(tap: string): Promise<void> {
  if (!linkExists(tap)) await tool('ip', ['tuntap', 'add', 'dev', tap, 'mode', 'tap']);
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
