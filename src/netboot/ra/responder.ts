// Router advertisements on the full-mode thin-client links: one native/ra-responder.c process per
// interface holds the raw ICMPv6 socket (Node has none) and answers each router solicitation with
// the advertisement encoded here. Node decides which interfaces, logs every answer and restarts a
// responder that died; one that meets a real IPv6 router on its link stops for good.
import { spawn, type ChildProcess } from 'node:child_process';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { createInterface } from 'node:readline';
import { encodeRouterAdvertisement, NO_IPV6_ADVERTISEMENT, parseResponderLine } from './codec.js';
import { nativeHelper } from '../../lib/native-helper.js';

const RESTART_DELAY_MS = 1000;
const MAX_RESTARTS = 5;

export type RaLog = (event: Record<string, unknown>) => void;

/** The responder (native/ra-responder.c); ARDESIA_RA_RESPONDER overrides, "off" disables it. Without a path, `why` says why. */
export function raResponderBinary(env: NodeJS.ProcessEnv = process.env): { path?: string; why?: string } {
  return nativeHelper('ra-responder', 'ARDESIA_RA_RESPONDER', env);
}

export type RaLink = { address: string; name: string; mac: string } | { address: string; why: string };

/** The link that holds IPv4 `address` and whether it can send IPv6 (a link-local address); pure over `interfaces`. */
export function raLinkFor(address: string, interfaces: NodeJS.Dict<NetworkInterfaceInfo[]>): RaLink {
  for (const [name, infos = []] of Object.entries(interfaces)) {
    const v4 = infos.find((i) => i.family === 'IPv4' && i.address === address);
    if (!v4) continue;
    if (v4.internal) return { address, why: `${name} is a loopback interface` };
    if (!infos.some((i) => i.family === 'IPv6' && i.address.toLowerCase().startsWith('fe80:'))) return { address, why: `${name} has no IPv6 link-local address (IPv6 is off there), so thin clients cannot be told not to wait for IPv6` };
    return { address, name, mac: v4.mac };
  }
  return { address, why: `no interface holds ${address}` };
}

interface Responder { link: { address: string; name: string }; proc?: ChildProcess; restarts: number; stopped: boolean; timer?: NodeJS.Timeout }

export class RouterAdvertiser {
  private readonly responders: Responder[] = [];
  private closed = false;

  private constructor(private readonly binary: string, private readonly log: RaLog) {}

  /** Starts a responder for each full-mode interface address; a missing binary or link is logged, never fatal (boots only wait longer). */
  static start(addresses: string[], log: RaLog, env: NodeJS.ProcessEnv = process.env): RouterAdvertiser | undefined {
    if (addresses.length === 0) return undefined;
    const binary = raResponderBinary(env);
    if (!binary.path) {
      log({ event: 'ra-unavailable', why: binary.why, hint: 'thin clients wait ~13 s for IPv6 at each PXE boot until the responder is built' });
      return undefined;
    }
    const advertiser = new RouterAdvertiser(binary.path, log);
    const interfaces = networkInterfaces();
    for (const address of addresses) {
      const link = raLinkFor(address, interfaces);
      if ('why' in link) {
        log({ event: 'ra-unavailable', interface: address, why: link.why });
        continue;
      }
      const responder: Responder = { link, restarts: 0, stopped: false };
      advertiser.responders.push(responder);
      advertiser.run(responder, encodeRouterAdvertisement({ ...NO_IPV6_ADVERTISEMENT, sourceMac: link.mac }).toString('hex'));
    }
    return advertiser;
  }

  private run(r: Responder, raHex: string): void {
    const proc = spawn(this.binary, [r.link.name, raHex, String(process.pid)], { stdio: ['ignore', 'pipe', 'inherit'] });
    r.proc = proc;
    const base = { interface: r.link.address, link: r.link.name };
    createInterface({ input: proc.stdout! }).on('line', (text) => {
      const line = parseResponderLine(text);
      if (line.kind === 'ready') this.log({ event: 'ra-ready', ...base, uid: line.uid });
      else if (line.kind === 'answered') this.log({ event: 'ra-answered', ...base, solicitor: line.solicitor, delivery: line.delivery });
      else if (line.kind === 'dropped') this.log({ event: 'ra-dropped', ...base, solicitor: line.solicitor, why: line.why });
      else if (line.kind === 'other-router') {
        r.stopped = true;
        this.log({ event: 'ra-other-router', ...base, router: line.router, hint: 'an IPv6 router advertises on this link, so thin clients hear from it; Ardesia stops answering there' });
      } else if (line.kind === 'failed') {
        r.stopped = true; // what failed (no root, no interface) does not heal by itself
        this.log({ event: 'ra-failed', ...base, why: line.why, hint: 'thin clients wait ~13 s for IPv6 at each PXE boot; run the daemon as root to answer them' });
      } else this.log({ event: 'ra-unknown-line', ...base, line: line.line });
    });
    proc.on('error', (err) => this.log({ event: 'ra-failed', ...base, why: err.message }));
    proc.on('close', (code, signal) => {
      r.proc = undefined;
      if (this.closed || r.stopped) return;
      if (r.restarts >= MAX_RESTARTS) {
        this.log({ event: 'ra-failed', ...base, why: `the responder ended ${MAX_RESTARTS + 1} times (last: ${signal ?? `exit ${code}`}); not restarted` });
        return;
      }
      r.restarts += 1;
      this.log({ event: 'ra-restart', ...base, exit: signal ?? code });
      r.timer = setTimeout(() => this.run(r, raHex), RESTART_DELAY_MS);
    });
  }

  close(): void {
    this.closed = true;
    for (const r of this.responders) {
      clearTimeout(r.timer);
      r.proc?.kill('SIGTERM');
    }
  }
}
