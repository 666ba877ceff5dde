// Is there already a DHCP server on this link? Send one DISCOVER from the interface address and
// listen briefly for any OFFER: full mode must not start beside another server unless forced.
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { LIMITED_BROADCAST } from '../../contract/ipv4.js';
import { BOOTREQUEST, BROADCAST_FLAG, decodeDhcp, encodeDhcp, MessageType, Opt, optionValue } from './codec.js';
import { DHCP_CLIENT_PORT, DHCP_SERVER_PORT } from './policy.js';

// dnsmasq pings an address (≈3 s) before offering it: listen longer than that.
export const PROBE_LISTEN_MS = 5000;

export type ProbeResult = { found: false } | { found: true; serverId: string; offered: string; from: string };

export class DhcpServerConflictError extends Error {
  constructor(readonly result: Extract<ProbeResult, { found: true }>) {
    super(`another DHCP server (${result.serverId}, from ${result.from}) answers on this network; ` +
      'use proxy mode beside it, or start full mode with force if you are sure');
    this.name = 'DhcpServerConflictError';
  }
}

function bound(address: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket({ type: 'udp4', reuseAddr: true });
    socket.once('error', reject);
    socket.bind({ address, port }, () => resolve(socket));
  });
}

/** A DISCOVER with a random locally administered MAC and the broadcast flag set. */
export function probeDiscover(xid: number, mac: Buffer): Buffer {
  return encodeDhcp({
    op: BOOTREQUEST, xid, chaddr: mac, flags: BROADCAST_FLAG,
    options: [[Opt.MESSAGE_TYPE, optionValue.u8(MessageType.DISCOVER)], [Opt.PARAM_LIST, Buffer.from([1, 3, 6, 54])]],
  });
}

export async function probeForDhcpServer(interfaceAddress: string, listenMs = PROBE_LISTEN_MS): Promise<ProbeResult> {
  const xid = randomBytes(4).readUInt32BE(0);
  const mac = Buffer.concat([Buffer.from([0x02]), randomBytes(5)]);
  const sockets: Socket[] = [];
  try {
    sockets.push(await bound(interfaceAddress, DHCP_CLIENT_PORT), await bound(LIMITED_BROADCAST, DHCP_CLIENT_PORT));
    const [sender] = sockets;
    return await new Promise<ProbeResult>((resolve, reject) => {
      const timer = setTimeout(() => resolve({ found: false }), listenMs);
      for (const socket of sockets) {
        socket.on('message', (msg, rinfo) => {
          try {
            const reply = decodeDhcp(msg);
            if (reply.xid !== xid || reply.options.messageType !== MessageType.OFFER) return;
            clearTimeout(timer);
            resolve({ found: true, serverId: reply.options.serverId ?? rinfo.address, offered: reply.yiaddr, from: rinfo.address });
          } catch { /* not a DHCP answer: keep listening */ }
        });
      }
      sender!.setBroadcast(true);
      sender!.send(probeDiscover(xid, mac), DHCP_SERVER_PORT, LIMITED_BROADCAST, (err) => {
        if (err) { clearTimeout(timer); reject(err); }
      });
    });
  } finally {
    for (const socket of sockets) socket.close();
  }
}
