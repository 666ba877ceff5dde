// The controllers' one address (serve --service-address): only the leader holds it, so browsers, thin clients and
// agents keep one URL through a takeover. The leader adds it to its interface once it serves, and announces it by
// gratuitous ARP (arping -U) so that neighbours' caches point at it at once; it removes it when it stops leading or
// stops. A controller that starts as standby removes it too: one that died holding it must not answer for it when
// its host comes back. IPv4 only (IPv6 would need unsolicited neighbour advertisements).
import { execFile, execFileSync } from 'node:child_process';
import { isIPv4 } from 'node:net';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import { ArdesiaError } from '../contract/errors.js';

const run = promisify(execFile);

export interface ServiceAddress {
  address: string;
  prefix: number;
  iface: string;
}

/** Pure: `--service-address ADDR/PREFIX` and `--service-interface IFACE`, or why not. */
export function serviceAddressParse(cidr: string, iface: string | undefined): ServiceAddress {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(cidr);
  const fix = 'give it as ADDRESS/PREFIX on the controllers\' network, like 10.0.0.10/24, with --service-interface eth0';
  if (!m) throw new ArdesiaError('BAD_REQUEST', `--service-address ${cidr}: ${fix}`);
  const [, address, prefixText] = m as unknown as [string, string, string];
  if (!isIPv4(address)) throw new ArdesiaError('BAD_REQUEST', `--service-address ${cidr}: an IPv4 address is needed (an IPv6 one would need unsolicited neighbour advertisements, not built); ${fix}`);
  const prefix = Number(prefixText);
  if (prefix < 1 || prefix > 32) throw new ArdesiaError('BAD_REQUEST', `--service-address ${cidr}: the prefix length must be 1 to 32; ${fix}`);
  if (!iface || !/^[A-Za-z0-9_.:@-]{1,15}$/.test(iface)) throw new ArdesiaError('BAD_REQUEST', `--service-address needs --service-interface: the interface that carries the controllers' network (like eth0 or br0)`);
  return { address, prefix, iface };
}

const cidrOf = (s: ServiceAddress) => `${s.address}/${s.prefix}`;

/** Adds the address (already there: kept) and announces it; a failure is logged loudly: clients cannot reach this leader by it. */
export async function serviceAddressTake(s: ServiceAddress, log: Logger): Promise<void> {
  try {
    await run('ip', ['address', 'replace', cidrOf(s), 'dev', s.iface]);
  } catch (err) {
    log.error({ err, serviceAddress: cidrOf(s), iface: s.iface }, `this controller leads but could not take the service address ${cidrOf(s)} on ${s.iface}: clients using it reach no controller`);
    return;
  }
  log.info({ serviceAddress: cidrOf(s), iface: s.iface }, `service address ${s.address} taken on ${s.iface}`);
  // Unsolicited ARP, twice: neighbours that still map the address to the previous leader's interface update now.
  await run('arping', ['-U', '-c', '2', '-w', '3', '-I', s.iface, s.address]).catch((err: Error) => log.warn({ err }, `announcing the service address ${s.address} by ARP failed; neighbours learn it when their cache entry expires`));
}

/** Removes the address if this host has it (synchronous: also on the way out of a deposed process). */
export function serviceAddressRelease(s: ServiceAddress, log: Logger): void {
  try {
    execFileSync('ip', ['address', 'del', cidrOf(s), 'dev', s.iface], { stdio: ['ignore', 'ignore', 'pipe'] });
    log.info({ serviceAddress: cidrOf(s) }, `service address ${s.address} released from ${s.iface}`);
  } catch (err) {
    const why = String((err as { stderr?: Buffer }).stderr ?? '');
    // Not there: the usual case for a standby.
    if (!/Cannot assign requested address|No such process|not found/i.test(why)) log.warn({ err, serviceAddress: cidrOf(s) }, `releasing the service address ${s.address} failed: ${why.trim()}`);
  }
}
