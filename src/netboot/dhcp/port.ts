// The daemon's one DHCP server port. Netboot's DHCP (thin-client links) and the local-interface DHCP (VM
// taps) both need UDP port 67 in one daemon, and each must hear only its own links' clients. Node's dgram
// has neither IP_PKTINFO nor SO_BINDTODEVICE, so native/dhcp-port.c holds the one socket and reports
// each datagram's receiving interface; this module routes it (dhcpRoute) to the responder of that link
// and sends replies out of the responder's link from its address. One DhcpPort per port number per process.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { ArdesiaError } from '../../contract/errors.js';
import { DHCP_SERVER_PORT } from './policy.js';
import { dhcpRoute, encodeTransmit, PortFrameDecoder, transmitIfindex, type Received } from './port-frames.js';

/** Where setup builds the helper (git-ignored); ARDESIA_DHCP_PORT overrides the path. */
export const DHCP_PORT_DEFAULT_PATH = join(import.meta.dirname, '..', '..', '..', '..', '.cache', 'native', 'dhcp-port');
const RESTART_DELAY_MS = 1000;
const MAX_RESTARTS = 5;

export type DhcpPortLog = (event: Record<string, unknown>) => void;

export interface DhcpPortResponder {
  /** For logs: the link's name. */
  link: string;
  ifindex: number;
  /** The responder's own address on its link: replies come from it, unicast requests are addressed to it. */
  address: string;
  receive(datagram: Buffer, source: { address: string; port: number }): void;
  log: DhcpPortLog;
}

export interface DhcpPortAttachment {
  send(datagram: Buffer, to: { address: string; port: number }): void;
  detach(): void;
}

export interface DhcpPortStats {
  received: number;
  /** Datagrams of links with no responder (an office bridge's own DHCP traffic) or addressed across links. */
  unrouted: number;
}

export function dhcpPortBinary(env: NodeJS.ProcessEnv = process.env): { path?: string; why?: string } {
  const path = env.ARDESIA_DHCP_PORT || DHCP_PORT_DEFAULT_PATH;
  try {
    accessSync(path, constants.X_OK);
    return { path };
  } catch {
    return { why: `${path} is missing (run \`node scripts/setup.mjs\` to build it from native/dhcp-port.c)` };
  }
}

/** The kernel's index of link `name` (the key the helper reports datagrams by). */
export function linkIndex(name: string): number {
  try {
    return Number(readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8').trim());
  } catch {
    throw new ArdesiaError('DHCP_PORT_UNAVAILABLE', `network interface ${name} does not exist, so no DHCP can be served on it`);
  }
}

/** The link that holds IPv4 `address`. */
export function linkOfAddress(address: string): string {
  for (const [name, infos = []] of Object.entries(networkInterfaces())) {
    if (infos.some((i) => i.family === 'IPv4' && i.address === address)) return name;
  }
  throw new ArdesiaError('DHCP_PORT_UNAVAILABLE', `no network interface of this host holds ${address}, so no DHCP can be served there: add the address (ip address add ${address}/PREFIX dev LINK) or fix the configuration`);
}

const ports = new Map<number, DhcpPort>();

/** The process's one DHCP port on UDP `port` (67 unless a test moves it). */
export function dhcpPort(port = DHCP_SERVER_PORT): DhcpPort {
  let p = ports.get(port);
  if (!p) {
    p = new DhcpPort(port);
    ports.set(port, p);
  }
  return p;
}

export class DhcpPort {
  readonly stats: DhcpPortStats = { received: 0, unrouted: 0 };
  private readonly responders: DhcpPortResponder[] = [];
  private proc: ChildProcess | undefined;
  private ready: Promise<void> | undefined;
  private restarts = 0;
  private restartTimer: NodeJS.Timeout | undefined;

  constructor(readonly port: number, private readonly env: NodeJS.ProcessEnv = process.env) {}

  /** Delivers the datagrams of `responder`'s link to it until detach(); starts the helper with the first one. */
  async attach(responder: DhcpPortResponder): Promise<DhcpPortAttachment> {
    const taken = this.responders.find((r) => r.ifindex === responder.ifindex);
    if (taken) {
      throw new ArdesiaError('DHCP_PORT_UNAVAILABLE', `interface ${responder.link} already has a DHCP server in this daemon (${taken.address}); one link gets one DHCP server`);
    }
    this.responders.push(responder);
    try {
      await this.start();
    } catch (err) {
      this.remove(responder);
      throw err;
    }
    let attached = true;
    return {
      send: (datagram, to) => this.transmit(responder, datagram, to),
      detach: () => {
        if (!attached) return;
        attached = false;
        this.remove(responder);
      },
    };
  }

  private remove(responder: DhcpPortResponder): void {
    const i = this.responders.indexOf(responder);
    if (i >= 0) this.responders.splice(i, 1);
    if (this.responders.length === 0) this.stop();
  }

  private broadcastLog(event: Record<string, unknown>): void {
    for (const r of this.responders) r.log(event);
  }

  private start(): Promise<void> {
    this.ready ??= this.spawn().catch((err: unknown) => {
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }

  private spawn(): Promise<void> {
    const binary = dhcpPortBinary(this.env);
    if (!binary.path) return Promise.reject(new ArdesiaError('DHCP_PORT_UNAVAILABLE', `the DHCP port helper is not built: ${binary.why}`));
    const proc = spawn(binary.path, [String(this.port), String(process.pid)], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.proc = proc;
    const decoder = new PortFrameDecoder();
    return new Promise<void>((resolve, reject) => {
      let started = false;
      proc.stdout!.on('data', (chunk: Buffer) => {
        for (const frame of decoder.push(chunk)) {
          if (frame.kind === 'received') this.deliver(frame);
          else if (frame.kind === 'unknown') this.broadcastLog({ event: 'dhcp-port-unknown-frame', type: frame.type });
          else if (frame.text.startsWith('ready')) {
            started = true;
            this.restarts = 0;
            this.broadcastLog({ event: 'dhcp-port-ready', port: this.port, uid: Number(frame.text.split(' ')[1]) });
            resolve();
          } else if (frame.text.startsWith('failed') && !started) {
            reject(new ArdesiaError('DHCP_PORT_UNAVAILABLE', `cannot listen for DHCP on UDP port ${this.port}: ${frame.text.slice('failed '.length)}`));
          } else this.broadcastLog({ event: 'dhcp-port-status', status: frame.text });
        }
      });
      proc.stdin!.on('error', () => { /* the helper's exit is reported by 'close' */ });
      proc.on('error', (err) => {
        if (!started) reject(new ArdesiaError('DHCP_PORT_UNAVAILABLE', `cannot start the DHCP port helper ${binary.path}: ${err.message}`));
      });
      proc.on('close', (code, signal) => {
        if (!started) reject(new ArdesiaError('DHCP_PORT_UNAVAILABLE', `the DHCP port helper ended before listening (${signal ?? `exit ${code}`})`));
        if (this.proc !== proc) return; // stopped on purpose
        this.proc = undefined;
        if (!started) return;
        this.ready = undefined;
        if (this.responders.length > 0) this.restartAfterExit(signal ?? code);
      });
    });
  }

  /** A helper that died under live responders comes back (a bounded number of times). */
  private restartAfterExit(exit: NodeJS.Signals | number | null): void {
    if (this.restarts >= MAX_RESTARTS) {
      this.broadcastLog({ event: 'dhcp-port-failed', why: `the DHCP port helper ended ${MAX_RESTARTS + 1} times (last: ${exit}); DHCP is not served until the daemon restarts` });
      return;
    }
    this.restarts += 1;
    this.broadcastLog({ event: 'dhcp-port-restart', exit });
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.responders.length > 0) this.start().catch((err: Error) => this.broadcastLog({ event: 'dhcp-port-failed', why: err.message }));
    }, RESTART_DELAY_MS);
  }

  private deliver(frame: Received): void {
    this.stats.received++;
    const responder = dhcpRoute(this.responders, frame.ifindex, frame.destination);
    if (!responder) {
      this.stats.unrouted++;
      return;
    }
    responder.receive(frame.datagram, frame.source);
  }

  private transmit(responder: DhcpPortResponder, datagram: Buffer, to: { address: string; port: number }): void {
    const proc = this.proc;
    if (!proc?.stdin?.writable) {
      responder.log({ event: 'dhcp-send-error', to, error: 'the DHCP port helper is not running' });
      return;
    }
    proc.stdin.write(encodeTransmit({ ifindex: transmitIfindex(to.address, responder.ifindex), source: responder.address, to, datagram }));
  }

  private stop(): void {
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    const proc = this.proc;
    this.proc = undefined;
    this.ready = undefined;
    if (!proc) return;
    proc.stdin?.end();
    proc.kill('SIGTERM');
  }
}
