// The DHCP server of local interfaces (vmd's built-in one): each local tap's guest gets the odd address
// of its /31, the tap's even address as router and server. The policy is the netboot DHCP's (full mode,
// one address); each tap is one responder on the daemon's one DHCP port (src/netboot/dhcp/port.ts),
// which hands it only what came in on that tap, so netboot's DHCP can run in the same daemon.
import { decodeDhcp, encodeDhcp } from '../netboot/dhcp/codec.js';
import { type DhcpConfig, parseDhcpConfig } from '../netboot/dhcp/config.js';
import { MemoryLeaseStore } from '../netboot/dhcp/leases.js';
import { DHCP_SERVER_PORT, dhcpDecide } from '../netboot/dhcp/policy.js';
import { type DhcpPortAttachment, dhcpPort, linkIndex } from '../netboot/dhcp/port.js';
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
  attachment: DhcpPortAttachment;
}

export class LocalDhcp {
  private readonly byMac = new Map<string, Entry>();

  constructor(
    private readonly log: LocalDhcpLog = () => {},
    private readonly port = DHCP_SERVER_PORT,
  ) {}

  /** Answers the guest `mac` behind `tap` (whose host address must already be set) until remove(). */
  async add(tap: string, mac: string, pair: LocalPair): Promise<void> {
    await this.remove(mac);
    const config = localDhcpConfig(pair, mac);
    const leases = new MemoryLeaseStore();
    let entry: Entry | undefined;
    const attachment = await dhcpPort(this.port).attach({
      link: tap, ifindex: linkIndex(tap), address: pair.host, log: this.log,
      receive: (msg, source) => { if (entry) this.handle(msg, source, entry); },
    });
    entry = { tap, mac, config, leases, attachment };
    this.byMac.set(mac, entry);
  }

  async remove(mac: string): Promise<void> {
    const entry = this.byMac.get(mac);
    if (!entry) return;
    this.byMac.delete(mac);
    entry.attachment.detach();
  }

  close(): void {
    for (const entry of this.byMac.values()) entry.attachment.detach();
    this.byMac.clear();
  }

  private handle(msg: Buffer, source: { address: string; port: number }, entry: Entry): void {
    try {
      const packet = decodeDhcp(msg);
      // Only the NIC's own MAC is answered: a guest that changed its MAC gets nothing.
      if (packet.mac !== entry.mac) {
        this.log({ event: 'local-dhcp-foreign-mac', tap: entry.tap, mac: packet.mac });
        return;
      }
      const decision = dhcpDecide({ packet, port: DHCP_SERVER_PORT, source }, entry.config, entry.leases, Date.now());
      if (decision.change) entry.leases.apply(decision.change);
      if (!decision.reply) return;
      entry.attachment.send(encodeDhcp(decision.reply.message), decision.reply.to);
      this.log({ event: 'local-dhcp-reply', tap: entry.tap, mac: entry.mac, reason: decision.reason });
    } catch (err) {
      this.log({ event: 'local-dhcp-bad-packet', tap: entry.tap, from: source.address, error: (err as Error).message });
    }
  }
}
