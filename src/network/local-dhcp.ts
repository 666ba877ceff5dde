// The DHCP server of local interfaces (vmd's built-in one): each local tap's guest gets the odd address
// of its /31, the tap's even address as router and server. The policy is the netboot DHCP's (full mode,
// one address); this shell shares one broadcast socket among the taps and tells them apart by the
// client's MAC, and answers from a socket bound to the tap's own address, which Linux sends out of that
// tap (the same rule src/netboot/dhcp/server.ts relies on).
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { ArdesiaError } from '../contract/errors.js';
import { decodeDhcp, encodeDhcp } from '../netboot/dhcp/codec.js';
import { type DhcpConfig, parseDhcpConfig } from '../netboot/dhcp/config.js';
import { MemoryLeaseStore } from '../netboot/dhcp/leases.js';
import { DHCP_SERVER_PORT, dhcpDecide } from '../netboot/dhcp/policy.js';
import { LIMITED_BROADCAST } from '../contract/ipv4.js';
import { type LocalPair, POINT_TO_POINT_MASK } from './local-prefix.js';

export type LocalDhcpLog = (event: Record<string, unknown>) => void;

/** The DHCP configuration of one local interface: its only client gets the guest address. */
export function localDhcpConfig(pair: LocalPair, mac: string): DhcpConfig {
  return parseDhcpConfig({
    mode: 'full',
    serverAddress: pair.host,
    full: { subnetMask: POINT_TO_POINT_MASK, ranges: [{ start: pair.guest, end: pair.guest }], router: pair.host, reservations: [{ mac, ip: pair.guest }] },
  });
}

interface Entry {
  tap: string;
  mac: string;
  config: DhcpConfig;
  leases: MemoryLeaseStore;
  socket: Socket;
}

function bindUdp(address: string, port: number, reuseAddr: boolean): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket({ type: 'udp4', reuseAddr });
    socket.once('error', (err) => {
      socket.close();
      reject(new ArdesiaError('VM_NETWORK_SETUP', `cannot listen for DHCP on ${address}:${port} for a local interface: ${err.message} (is another DHCP server on this host bound to port ${port}?)`));
    });
    socket.bind({ address, port }, () => {
      socket.removeAllListeners('error');
      resolve(socket);
    });
  });
}

export class LocalDhcp {
  private readonly byMac = new Map<string, Entry>();
  private broadcast: Socket | undefined;
  private opening: Promise<Socket> | undefined;

  constructor(
    private readonly log: LocalDhcpLog = () => {},
    private readonly port = DHCP_SERVER_PORT,
  ) {}

  /** Answers the guest `mac` behind `tap` (whose host address must already be set) until remove(). */
  async add(tap: string, mac: string, pair: LocalPair): Promise<void> {
    await this.remove(mac);
    await this.listenBroadcast();
    // Shared with a DHCP server bound to the wildcard address (a dnsmasq or udhcpd for another link): ours is the
    // more specific binding, so unicast to this address still comes here.
    const socket = await bindUdp(pair.host, this.port, true);
    socket.setBroadcast(true);
    const entry: Entry = { tap, mac, config: localDhcpConfig(pair, mac), leases: new MemoryLeaseStore(), socket };
    socket.on('message', (msg, rinfo) => this.handle(msg, rinfo, entry));
    socket.on('error', (err) => this.log({ event: 'local-dhcp-socket-error', tap, error: err.message }));
    this.byMac.set(mac, entry);
  }

  async remove(mac: string): Promise<void> {
    const entry = this.byMac.get(mac);
    if (!entry) return;
    this.byMac.delete(mac);
    entry.socket.close();
    if (this.byMac.size === 0) this.closeBroadcast();
  }

  close(): void {
    for (const entry of this.byMac.values()) entry.socket.close();
    this.byMac.clear();
    this.closeBroadcast();
  }

  private async listenBroadcast(): Promise<void> {
    if (this.broadcast) return;
    this.opening ??= bindUdp(LIMITED_BROADCAST, this.port, true);
    try {
      const socket = await this.opening;
      socket.on('message', (msg, rinfo) => this.handle(msg, rinfo, undefined));
      this.broadcast = socket;
    } finally {
      this.opening = undefined;
    }
  }

  private closeBroadcast(): void {
    this.broadcast?.close();
    this.broadcast = undefined;
  }

  private handle(msg: Buffer, rinfo: RemoteInfo, via: Entry | undefined): void {
    try {
      const packet = decodeDhcp(msg);
      const entry = via ?? this.byMac.get(packet.mac);
      // A MAC no local interface has (another link's client, or a guest that changed its MAC): not ours.
      if (!entry || entry.mac !== packet.mac) return;
      const decision = dhcpDecide({ packet, port: DHCP_SERVER_PORT, source: { address: rinfo.address, port: rinfo.port } }, entry.config, entry.leases, Date.now());
      if (decision.change) entry.leases.apply(decision.change);
      if (!decision.reply) return;
      entry.socket.send(encodeDhcp(decision.reply.message), decision.reply.to.port, decision.reply.to.address, (err) => {
        if (err) this.log({ event: 'local-dhcp-send-error', tap: entry.tap, error: err.message });
      });
      this.log({ event: 'local-dhcp-reply', tap: entry.tap, mac: entry.mac, reason: decision.reason });
    } catch (err) {
      this.log({ event: 'local-dhcp-bad-packet', from: rinfo.address, error: (err as Error).message });
    }
  }
}
