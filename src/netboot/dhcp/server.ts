// The DHCP server's I/O shell: decode → policy → lease store → encode → send.
//
// Port 67 belongs to the daemon's one DHCP port (./port.ts): it hands this server only the datagrams
// that came in on its interface (or were addressed to it through a relay) and sends its replies out of
// that interface from its address, so netboot on a thin-client link and the local-interface DHCP on VM
// taps run side by side in one daemon, each hearing only its own clients. In proxy mode this server also
// holds the interface address, port 4011 (PXE spec §2.2.5), which only its own clients use.
import { createSocket, type Socket } from 'node:dgram';
import { decodeDhcp, DhcpDecodeError, encodeDhcp } from './codec.js';
import type { DhcpConfig } from './config.js';
import type { LeaseStore } from './leases.js';
import { DhcpGuard, type DhcpAdmission } from './limits.js';
import { DHCP_SERVER_PORT, dhcpDecide, isKnownClient, PXE_PROXY_PORT, type DhcpReply } from './policy.js';
import { type DhcpPortAttachment, dhcpPort, linkIndex, linkOfAddress } from './port.js';

/** Rate-limited packets are logged as one summary line at most this often (a flood must not fill the log). */
const LIMITED_LOG_INTERVAL_MS = 5_000;

export type NetbootLog = (event: Record<string, unknown>) => void;

export interface DhcpServerOptions {
  config: DhcpConfig;
  leases: LeaseStore;
  log?: NetbootLog;
  now?: () => number;
  /** Defaults 67/4011; tests may move them (nothing else should). */
  ports?: { server: number; proxy: number };
}

export interface DhcpStats {
  received: number;
  decodeErrors: number;
  replies: number;
  silent: number;
  internalErrors: number;
  /** Packets dropped by the rate limits (per MAC, overall for unknown MACs, first leases). */
  limited: number;
}

export class DhcpServerStartError extends Error {
  constructor(address: string, port: number, cause: Error) {
    super(`cannot listen for DHCP on ${address}:${port}: ${cause.message} (is another DHCP server running on this host?)`);
    this.name = 'DhcpServerStartError';
  }
}

function bindUdp(address: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket({ type: 'udp4' });
    socket.once('error', (err) => { socket.close(); reject(new DhcpServerStartError(address, port, err)); });
    socket.bind({ address, port, exclusive: true }, () => {
      socket.removeAllListeners('error');
      resolve(socket);
    });
  });
}

export class DhcpServer {
  readonly stats: DhcpStats = { received: 0, decodeErrors: 0, replies: 0, silent: 0, internalErrors: 0, limited: 0 };
  private readonly guard = new DhcpGuard();
  private limitedSinceLog: Record<string, number> = {};
  private limitedLoggedAtMs = 0;
  private readonly sockets: Socket[] = [];
  private readonly log: NetbootLog;
  private readonly now: () => number;
  private attachment: DhcpPortAttachment | undefined;
  private proxySocket: Socket | undefined;

  private constructor(private readonly options: DhcpServerOptions) {
    this.log = options.log ?? (() => {});
    this.now = options.now ?? Date.now;
  }

  static async start(options: DhcpServerOptions): Promise<DhcpServer> {
    const server = new DhcpServer(options);
    try {
      await server.open();
    } catch (err) {
      server.close();
      throw err;
    }
    return server;
  }

  private async open(): Promise<void> {
    const { serverAddress, mode } = this.options.config;
    const ports = this.options.ports ?? { server: DHCP_SERVER_PORT, proxy: PXE_PROXY_PORT };
    const link = linkOfAddress(serverAddress);
    this.attachment = await dhcpPort(ports.server).attach({
      link, ifindex: linkIndex(link), address: serverAddress, log: this.log,
      receive: (msg, source) => this.handle(msg, source, DHCP_SERVER_PORT),
    });
    if (mode === 'proxy') {
      this.proxySocket = await this.listen(serverAddress, ports.proxy);
      this.proxySocket.setBroadcast(true);
    }
    this.log({ event: 'dhcp-listening', mode, address: serverAddress, link, ports: mode === 'proxy' ? [ports.server, ports.proxy] : [ports.server] });
  }

  private async listen(address: string, port: number): Promise<Socket> {
    const socket = await bindUdp(address, port);
    this.sockets.push(socket);
    socket.on('message', (msg, rinfo) => this.handle(msg, rinfo, PXE_PROXY_PORT));
    socket.on('error', (err) => this.log({ event: 'dhcp-socket-error', address, port, error: err.message }));
    return socket;
  }

  private handle(msg: Buffer, rinfo: { address: string; port: number }, role: 67 | 4011): void {
    this.stats.received++;
    try {
      const packet = decodeDhcp(msg);
      const now = this.now();
      const { config, leases } = this.options;
      const known = config.full !== undefined && isKnownClient(config.full, packet.mac, leases);
      const admission = this.guard.admit(packet.mac, known, now);
      if (admission !== 'ok') return this.limited(admission, packet.mac, now);
      const decision = dhcpDecide({ packet, port: role, source: { address: rinfo.address, port: rinfo.port } }, config, leases, now);
      if (decision.newClient && !this.guard.takeNewClient(now)) return this.limited('new-clients-limited', packet.mac, now);
      if (decision.change) leases.apply(decision.change);
      if (!decision.reply) {
        this.stats.silent++;
        this.log({ event: 'dhcp-silent', mac: packet.mac, reason: decision.reason });
        return;
      }
      this.send(decision.reply, role, decision.reason);
    } catch (err) {
      if (err instanceof DhcpDecodeError) {
        this.stats.decodeErrors++;
        this.log({ event: 'dhcp-bad-packet', from: `${rinfo.address}:${rinfo.port}`, bytes: msg.length, reason: err.reason });
      } else {
        this.stats.internalErrors++;
        this.log({ event: 'dhcp-internal-error', error: (err as Error).stack ?? String(err) });
      }
    }
  }

  /** Counts a dropped packet; a summary line (counts by limit, the last MAC) at most every LIMITED_LOG_INTERVAL_MS. */
  private limited(why: Exclude<DhcpAdmission, 'ok'> | 'new-clients-limited', mac: string, now: number): void {
    this.stats.limited++;
    this.limitedSinceLog[why] = (this.limitedSinceLog[why] ?? 0) + 1;
    if (now - this.limitedLoggedAtMs < LIMITED_LOG_INTERVAL_MS) return;
    this.log({ event: 'dhcp-rate-limited', dropped: this.limitedSinceLog, lastMac: mac });
    this.limitedSinceLog = {};
    this.limitedLoggedAtMs = now;
  }

  private send(reply: DhcpReply, role: 67 | 4011, reason: string): void {
    const bytes = encodeDhcp(reply.message);
    if (role === PXE_PROXY_PORT && this.proxySocket) {
      this.proxySocket.send(bytes, reply.to.port, reply.to.address, (err) => {
        if (err) this.log({ event: 'dhcp-send-error', to: reply.to, error: err.message });
      });
    } else this.attachment?.send(bytes, reply.to);
    this.stats.replies++;
    this.log({ event: 'dhcp-reply', reason, to: `${reply.to.address}:${reply.to.port}` });
  }

  close(): void {
    this.attachment?.detach();
    this.attachment = undefined;
    for (const socket of this.sockets.splice(0)) {
      try { socket.close(); } catch { /* already closed */ }
    }
  }
}
